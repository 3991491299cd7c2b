"""`shipctl auth check`: are the profile's credentials accepted by each API it configures?"""

from typing import Annotated

import typer

from shipctl.app import get_app
from shipctl.commands.groups import command_group
from shipctl.commands.options import (
    OutputFormat,
    OutputOpt,
    ProfileOpt,
)

group = command_group("Check credentials: which APIs accept the profile's credentials.")


@group.command("check")
def check(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="S", help="Seconds to wait for each API.")
    ] = 30.0,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Test the credentials of every API the profile configures: OK or refused, one line each.

    Nothing is changed: each check is a request that cannot modify anything (for EWE, a
    modifyShipment naming no shipment). Exit 0 when every configured API accepts the
    credentials, 1 when one refuses them or cannot be reached, 2 when the profile configures
    none.

    \b
    Examples:
      $ shipctl auth check
      $ shipctl auth check --profile staging -o json
    """
    from shipctl.auth import check_profile

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is not OutputFormat.text)
    raise typer.Exit(check_profile(app, timeout=timeout))
