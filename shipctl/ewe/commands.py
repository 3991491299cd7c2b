"""`shipctl ewe …`: modify, validate, template."""

# Annotations stay real objects (no `from __future__ import annotations`): typer reads
# every option's annotation at start-up, and string ones cost an eval each (~3 ms a run).

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

group = command_group("EWE (Australia) modifyShipment: send, validate offline, print a template.")


class TemplateFormat(str, Enum):
    yaml = "yaml"
    json = "json"


@group.command(cls=BulkCommand, epilog=EXIT_CODES_HELP)
def modify(
    ctx: typer.Context,
    paths: PathsArg = None,
    recursive: RecursiveOpt = False,
    profile: ProfileOpt = None,
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
    content_type: Annotated[
        Optional[str],
        typer.Option(
            "--content-type",
            metavar="TYPE",
            help="Content-Type of the body (default: ewe.content_type, application/javascript).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    show_secrets: ShowSecretsOpt = False,
    output: ResultsOpt = ResultsFormat.text,
) -> None:
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

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is not ResultsFormat.text, show_secrets=show_secrets)
    app.out.json_lines = output is ResultsFormat.jsonl
    options = runner.RunOptions(
        paths=[str(p) for p in paths or []],
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
    raise typer.Exit(runner.run(app, ModifyShipment(content_type=content_type), options))


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
            help="Kept for scripts that pass it: what was not checked is now always said.",
        ),
    ] = False,
    print_fixed: Annotated[
        bool,
        typer.Option(
            "--print-fixed",
            help="Print each payload as clean JSON on stdout (comments, trailing commas,"
            " email quoting… repaired); the verdicts go to stderr.",
        ),
    ] = False,
    output: ResultsOpt = ResultsFormat.text,
) -> None:
    """Check modifyShipment request bodies offline against every documented field rule.

    \b
    Examples:
      $ shipctl ewe validate sample_payloads/ewe/invalid.yaml
      $ shipctl ewe validate -R payloads/ -o json
    """
    from shipctl.errors import UsageError
    from shipctl.ewe.validate import run

    app = get_app(ctx)
    if print_fixed and output is not ResultsFormat.text:
        raise UsageError(f"--print-fixed prints JSON of its own: use it without -o {output.value}")
    app.use(profile=profile, json_mode=output is not ResultsFormat.text)
    app.out.json_lines = output is ResultsFormat.jsonl
    app.out.verbose = app.out.verbose or verbose
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
