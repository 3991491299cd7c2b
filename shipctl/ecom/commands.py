"""`shipctl ecom …`: validate, codes, replay; then listen, export and forward
(``receive.commands``), registered after them so help lists them in that order."""

from enum import Enum
from typing import Annotated, Optional

import typer

from shipctl.app import get_app
from shipctl.commands import bulk
from shipctl.commands.groups import command_group
from shipctl.commands.options import (
    EXIT_CODES_HELP,
    OutputFormat,
    OutputOpt,
    PathsArg,
    RecursiveOpt,
    ResultsFormat,
    ResultsOpt,
    print_fixed_option,
    results_app,
)
from shipctl.ecom import PROVIDER
from shipctl.ecom.receive import commands as receiver_commands


class AuthScheme(str, Enum):
    basic = "basic"
    headers = "headers"


group = command_group(PROVIDER.summary)


PrintFixedOpt = print_fixed_option("push", "single quotes, trailing commas, text around it")


@group.command(epilog=EXIT_CODES_HELP)
def validate(
    ctx: typer.Context,
    paths: PathsArg = None,
    recursive: RecursiveOpt = False,
    print_fixed: PrintFixedOpt = False,
    output: ResultsOpt = ResultsFormat.text,
) -> None:
    """Check Ecom status pushes offline: every key, datetime, reason code and number.

    Paste a push from a ticket and press Ctrl-D: trailing commas, single quotes, a Python
    dict, typographic quotes, text around the JSON and several pushes back to back are read
    with a warning saying what was forgiven. A file may hold one push, a list, or JSON Lines.

    \b
    Examples:
      $ shipctl ecom validate
      $ shipctl ecom validate sample_payloads/ecom/pasted-from-ticket.txt
      $ shipctl ecom validate captured.jsonl -o json
    """
    from shipctl.ecom.validate import run

    app = results_app(ctx, output)
    paths_ = [str(p) for p in paths or []]
    raise typer.Exit(run(app, paths_, recursive=recursive, print_fixed=print_fixed))


@group.command()
def codes(
    ctx: typer.Context,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Print Ecom's reason codes (reason_code_number), one per line.

    Not an exhaustive list: a code missing here may still be real (validate only warns).

    \b
    Examples:
      $ shipctl ecom codes
      $ shipctl ecom codes | grep -i rto
      $ shipctl ecom codes -o json
    """
    from shipctl.ecom.codes import TABLE

    app = get_app(ctx)
    app.use(json_mode=output is OutputFormat.json)
    if app.out.json_mode:
        app.out.write_json({"codes": [{"code": c.code, "meaning": c.meaning} for c in TABLE]})
        return
    app.out.table(["code", "meaning"], [[c.code, c.meaning] for c in TABLE])


ToOpt = Annotated[
    Optional[str],
    typer.Option("--to", metavar="URL", help="Webhook URL (default: the profile's ecom.url)."),
]
UsernameOpt = Annotated[
    Optional[str],
    typer.Option("--username", metavar="NAME",
                 help="Basic-Auth username (default: ecom.username)."),
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the Basic-Auth password from the first line of"
                 " stdin (default: ecom.password)."),
]
AuthOpt = Annotated[
    AuthScheme,
    typer.Option("--auth", help="How the credentials go: basic (Authorization: Basic, as Ecom"
                 " Express sends them) or headers (username and password headers, which some"
                 " receivers check)."),
]
HeaderOpt = Annotated[
    Optional[list[str]],
    typer.Option("--header", "-H", metavar="NAME:VALUE",
                 help="Add a header to every request (repeatable), e.g. 'X-Source: replay'. For"
                 " username/password headers use --auth headers: the password then stays off the"
                 " command line."),
]
NoDedupeOpt = Annotated[
    bool,
    typer.Option("--no-dedupe",
                 help="Send every item, even one repeating an earlier status_update_number."),
]


@group.command(cls=bulk.BulkCommand, epilog=EXIT_CODES_HELP)
@bulk.flags(rate_default=bulk.UNLIMITED)
def replay(
    ctx: typer.Context,
    to: ToOpt = None,
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    auth: AuthOpt = AuthScheme.basic,
    header: HeaderOpt = None,
    no_dedupe: NoDedupeOpt = False,
    *,
    run: bulk.Bulk,
) -> None:
    """Re-send saved Ecom pushes to a webhook, as Ecom would: one scan per POST, Basic Auth.

    Each AWB's scans go in time order (datetime, then status_update_number) whatever the
    input order; different AWBs go concurrently. A status_update_number seen before is a
    duplicate and sent once. A scan that fails or is invalid blocks the later scans of its
    AWB. Every push is validated first; invalid ones are not sent.

    \b
    Examples:
      $ shipctl --sandbox ecom replay sample_payloads/ecom/batch.jsonl
      $ shipctl ecom replay captured.jsonl --to https://hooks.example.com/ecom --dry-run
      $ printf '%s\\n' "$PW" | shipctl ecom replay pushes/ --username ops --password-stdin
      $ shipctl ecom replay captured.jsonl --auth headers -H 'X-Source: replay'
    """
    from shipctl import runner, secrets
    from shipctl.ecom.replay import Replay
    from shipctl.errors import UsageError

    password = None
    if password_stdin:
        if not run.paths or "-" in run.paths:
            raise UsageError("--password-stdin reads the password from stdin: give the pushes"
                             " as files or directories, not -")
        password = secrets.read_line()
        if not password:
            raise UsageError("--password-stdin: stdin held no password")
        secrets.register(password)
    provider = Replay(to=to, username=username, password=password, headers=header or [],
                      dedupe=not no_dedupe, auth=auth.value)
    raise typer.Exit(runner.run(run.app, provider, run.options()))


receiver_commands.register(group)
