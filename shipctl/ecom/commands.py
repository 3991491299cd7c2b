"""`shipctl ecom …`: validate, codes, replay (listen and export are registered at the end)."""

# Annotations stay real objects (no `from __future__ import annotations`): typer reads
# every option's annotation at start-up, and string ones cost an eval each.

from enum import Enum
from typing import Annotated, Optional

import typer

from shipctl.app import get_app
from shipctl.commands.options import (
    EXIT_CODES_HELP,
    BulkCommand,
    CaBundleOpt,
    DryRunOpt,
    FailFastOpt,
    JobsOpt,
    JournalOpt,
    OutputFormat,
    OutputOpt,
    PathsArg,
    ProfileOpt,
    RateOpt,
    RecursiveOpt,
    ReportOpt,
    ResultsFormat,
    ResultsOpt,
    RetriesOpt,
    ShardOpt,
    ShowSecretsOpt,
    StrictOpt,
    TimeoutOpt,
    WaitOpt,
    command_group,
    wait_seconds,
)


class AuthScheme(str, Enum):
    basic = "basic"
    headers = "headers"


group = command_group(
    "Ecom Express status pushes: validate a pasted push, list reason codes, replay saved"
    " pushes to a webhook, capture them."
)


@group.command(epilog=EXIT_CODES_HELP)
def validate(
    ctx: typer.Context,
    paths: PathsArg = None,
    recursive: RecursiveOpt = False,
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

    app = get_app(ctx)
    app.use(json_mode=output is not ResultsFormat.text)
    app.out.json_lines = output is ResultsFormat.jsonl
    raise typer.Exit(run(app, [str(p) for p in paths or []], recursive=recursive))


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


@group.command(cls=BulkCommand, epilog=EXIT_CODES_HELP)
def replay(
    ctx: typer.Context,
    paths: PathsArg = None,
    recursive: RecursiveOpt = False,
    profile: ProfileOpt = None,
    to: Annotated[
        Optional[str],
        typer.Option("--to", metavar="URL", help="Webhook URL (default: the profile's ecom.url)."),
    ] = None,
    username: Annotated[
        Optional[str],
        typer.Option("--username", metavar="NAME",
                     help="Basic-Auth username (default: ecom.username)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin",
                     help="Read the Basic-Auth password from the first line of stdin"
                     " (default: ecom.password)."),
    ] = False,
    auth: Annotated[
        AuthScheme,
        typer.Option("--auth", help="How the credentials go: basic (Authorization: Basic, as"
                     " the seed says) or headers (username and password headers, which some"
                     " receivers check)."),
    ] = AuthScheme.basic,
    header: Annotated[
        Optional[list[str]],
        typer.Option("--header", "-H", metavar="NAME:VALUE",
                     help="Add a header to every request (repeatable), e.g. 'X-Source:"
                     " replay'. For username/password headers use --auth headers: the"
                     " password then stays off the command line."),
    ] = None,
    no_dedupe: Annotated[
        bool,
        typer.Option("--no-dedupe",
                     help="Send every item, even one repeating an earlier status_update_number."),
    ] = False,
    jobs: JobsOpt = 4,
    rate: RateOpt = None,
    journal: JournalOpt = None,
    wait: WaitOpt = None,
    report: ReportOpt = None,
    fail_fast: FailFastOpt = False,
    strict: StrictOpt = False,
    shard: ShardOpt = None,
    timeout: TimeoutOpt = 30.0,
    retries: RetriesOpt = 3,
    ca_bundle: CaBundleOpt = None,
    dry_run: DryRunOpt = False,
    show_secrets: ShowSecretsOpt = False,
    output: ResultsOpt = ResultsFormat.text,
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

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is not ResultsFormat.text, show_secrets=show_secrets)
    app.out.json_lines = output is ResultsFormat.jsonl
    paths_ = [str(p) for p in paths or []]
    password = None
    if password_stdin:
        if not paths_ or "-" in paths_:
            raise UsageError("--password-stdin reads the password from stdin: give the pushes"
                             " as files or directories, not -")
        password = secrets.read_line()
        if not password:
            raise UsageError("--password-stdin: stdin held no password")
        secrets.register(password)
    options = runner.RunOptions(
        paths=paths_,
        recursive=recursive,
        jobs=jobs,
        rate=rate,
        journal=journal,
        wait=wait_seconds(wait),
        report=report,
        fail_fast=fail_fast,
        strict=strict,
        shard=shard,
        timeout=timeout,
        retries=retries,
        ca_bundle=ca_bundle,
        dry_run=dry_run,
    )
    provider = Replay(to=to, username=username, password=password, headers=header or [],
                      dedupe=not no_dedupe, auth=auth.value)
    raise typer.Exit(runner.run(app, provider, options))
from shipctl.ecom import receiver_commands  # noqa: E402 - listen and export

receiver_commands.register(group)
