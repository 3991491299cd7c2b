"""`shipctl ewe …`: modify, validate, template."""

from enum import Enum
from typing import Annotated, Optional

import typer

from shipctl.app import get_app
from shipctl.commands import bulk
from shipctl.commands.groups import command_group
from shipctl.commands.options import (
    EXIT_CODES_HELP,
    PathsArg,
    ProfileOpt,
    RecursiveOpt,
    ResultsFormat,
    ResultsOpt,
    print_fixed_option,
    results_app,
)
from shipctl.ewe import PROVIDER

group = command_group(PROVIDER.summary)


class TemplateFormat(str, Enum):
    yaml = "yaml"
    json = "json"


ContentTypeOpt = Annotated[
    Optional[str],
    typer.Option(
        "--content-type",
        metavar="TYPE",
        help="Content-Type of the body (default: ewe.content_type, application/javascript).",
    ),
]


@group.command(cls=bulk.BulkCommand, epilog=EXIT_CODES_HELP)
@bulk.flags(rate_default="ewe.rate, 1.0")
def modify(ctx: typer.Context, *, run: bulk.Bulk, content_type: ContentTypeOpt = None) -> None:
    """Send modifyShipment requests from YAML/JSON/JSONL/CSV files, one or thousands.

    Each item is a request body without username/digest/msgType (they come from the profile).
    Every item is validated offline first; invalid items are reported and not sent.

    A journal belongs to one run at a time: a second run on it exits 2 at once, naming the
    run that holds it, unless --wait is given (cron: --wait=3600).

    \b
    Examples:
      $ shipctl ewe modify change.yaml --dry-run
      $ shipctl ewe modify changes.csv --journal nightly.db --report nightly.csv
      $ shipctl ewe modify changes.csv --journal nightly.db --wait=3600 --quiet
    """
    from shipctl import runner
    from shipctl.ewe.modify import ModifyShipment

    provider = ModifyShipment(content_type=content_type)
    raise typer.Exit(runner.run(run.app, provider, run.options()))


PrintFixedOpt = print_fixed_option("payload", "comments, trailing commas, email quoting")


@group.command(epilog=EXIT_CODES_HELP)
def validate(
    ctx: typer.Context,
    paths: PathsArg = None,
    recursive: RecursiveOpt = False,
    profile: ProfileOpt = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Accepted for scripts that pass it: what was not checked is always said.",
        ),
    ] = False,
    print_fixed: PrintFixedOpt = False,
    output: ResultsOpt = ResultsFormat.text,
) -> None:
    """Check modifyShipment request bodies offline against every documented field rule.

    \b
    Examples:
      $ shipctl ewe validate sample_payloads/ewe/invalid.yaml
      $ shipctl ewe validate -R payloads/ -o json
    """
    from shipctl.ewe.validate import run

    app = results_app(ctx, output, profile=profile)
    paths_ = [str(p) for p in paths or []]
    raise typer.Exit(run(app, paths_, recursive=recursive, print_fixed=print_fixed))


@group.command()
def template(
    ctx: typer.Context,
    format: Annotated[
        TemplateFormat, typer.Option("--format", help="yaml (commented) or json.")
    ] = TemplateFormat.yaml,
) -> None:
    """Print a skeleton modifyShipment request with every field and its rule.

    \b
    Examples:
      $ shipctl ewe template > change.yaml
      $ shipctl ewe template --format json
    """
    from shipctl.ewe.template import render

    get_app(ctx).out.stdout.write(render(format.value))
