"""The flags every bulk command shares, declared once (docs/conventions.md, Bulk engine).

One call adds the whole group to a command, as gh's ``AddJSONFlags`` does. A bulk command
writes its own options and one keyword-only parameter annotated ``Bulk``; ``flags`` puts the
shared flags around them and calls the command with a ``Bulk`` holding their values::

    @group.command(cls=bulk.BulkCommand, epilog=EXIT_CODES_HELP)
    @bulk.flags(rate_default=bulk.UNLIMITED)
    def replay(ctx: typer.Context, to: ToOpt = None, *, run: bulk.Bulk) -> None:
        provider = Replay(to=to, ...)
        raise typer.Exit(runner.run(run.app, provider, run.options()))

``run.app`` is the invocation's Application with ``--profile``, ``--output`` and
``--show-secrets`` applied. ``run.options(**extra)`` is the ``runner.RunOptions`` of the
flags (``extra``: the fields the command sets itself, e.g. ``resend_unknown=...``); it reads
``--wait``, so a wrong value is a usage error raised there. Each flag's value is also an
attribute (``run.paths`` as strings, ``run.timeout``, ``run.dry_run``…).

``rate_default`` is what ``--rate``'s help says applies when it is not given: the setting
and its default (``"ewe.rate, 1.0"``), or ``UNLIMITED``. It is only what help says: the rate
used is the provider's ``default_rate``.

The options are listed in this order, in help and in completion: ``PATHS``, ``--recursive``,
``--profile``; the command's own options written before its ``Bulk`` parameter; ``--jobs`` to
``--ca-bundle``; its options written after it; ``--dry-run``, ``--show-secrets``, ``--output``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer

from shipctl.commands.groups import ShipctlCommand, with_optional_values
from shipctl.commands.options import (
    CaBundleOpt,
    DryRunOpt,
    PathsArg,
    ProfileOpt,
    RecursiveOpt,
    ResultsFormat,
    ResultsOpt,
    RetriesOpt,
    ShowSecretsOpt,
    TimeoutOpt,
    results_app,
)

if TYPE_CHECKING:
    from shipctl.app import Application
    from shipctl.runner import RunOptions

Command = TypeVar("Command", bound=Callable[..., Any])

UNLIMITED = None  # rate_default: no setting, no pacing unless --rate is given

JobsOpt = Annotated[
    int, typer.Option("--jobs", "-j", min=1, metavar="N", help="Requests in flight at once.")
]
# --wait takes an optional value: `--wait` (without limit), `--wait=30`, `--wait 30`. Typer's
# parser has no such option, so BulkCommand rewrites the arguments before parsing: a bare
# --wait becomes `--wait=` (empty: without limit), `--wait 30` becomes `--wait=30` when the
# next argument is a number; anything else after it (a file, another flag) is left alone.
WaitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--wait",
        metavar="[SECONDS]",
        help="When another run holds the --journal, wait for it to finish (at most SECONDS:"
        " --wait=30 or --wait 30; --wait alone waits without limit) instead of exiting 2.",
        show_default=False,
    ),
]
JournalOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--journal",
        metavar="FILE",
        dir_okay=False,
        help="SQLite journal: a re-run skips items that succeeded.",
    ),
]
ReportOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--report",
        metavar="FILE",
        dir_okay=False,
        help="Per-item report: CSV if *.csv, else JSON Lines.",
    ),
]
FailFastOpt = Annotated[
    bool, typer.Option("--fail-fast", help="Stop sending at the first failure.")
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="If any item is invalid, send nothing and exit 1.")
]
ShardOpt = Annotated[
    Optional[str],
    typer.Option("--shard", metavar="K/N", help="Process only shard K of N (0-based)."),
]


def rate_option(default: str | None) -> Any:
    """``--rate``, its help naming what applies when it is not given."""
    shown = "unlimited."
    if default:
        setting, _, value = default.partition(", ")
        shown = f"the profile's {setting} ({value})." if value else f"the profile's {setting}."
    return Annotated[
        Optional[float],
        typer.Option(
            "--rate",
            min=0,
            metavar="R",
            help="At most R requests per second, evenly paced, retries included; 0 = unlimited."
            f" Default: {shown}",
        ),
    ]


def _shared(rate: Any) -> tuple[list[tuple[str, Any, Any]], ...]:
    """(name, annotation, default) of the shared flags: before, amid and after the command's."""
    leading = [
        ("paths", PathsArg, None),
        ("recursive", RecursiveOpt, False),
        ("profile", ProfileOpt, None),
    ]
    middle = [
        ("jobs", JobsOpt, 4),
        ("rate", rate, None),
        ("journal", JournalOpt, None),
        ("wait", WaitOpt, None),
        ("report", ReportOpt, None),
        ("fail_fast", FailFastOpt, False),
        ("strict", StrictOpt, False),
        ("shard", ShardOpt, None),
        ("timeout", TimeoutOpt, 30.0),
        ("retries", RetriesOpt, 3),
        ("ca_bundle", CaBundleOpt, None),
    ]
    trailing = [
        ("dry_run", DryRunOpt, False),
        ("show_secrets", ShowSecretsOpt, False),
        ("output", ResultsOpt, ResultsFormat.text),
    ]
    return leading, middle, trailing


class Bulk:
    """The shared flags' values of one bulk command, and the Application they set up."""

    paths: list[str]  # as given; "-" is stdin
    recursive: bool
    profile: str | None
    jobs: int
    rate: float | None  # None: the provider's default
    journal: Path | None
    wait: str | None  # as given; options() reads it
    report: Path | None
    fail_fast: bool
    strict: bool
    shard: str | None
    timeout: float
    retries: int
    ca_bundle: Path | None
    dry_run: bool
    show_secrets: bool
    output: ResultsFormat
    app: Application

    def __init__(self, ctx: typer.Context, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.paths = [str(path) for path in values["paths"] or []]
        self.app = results_app(ctx, self.output, profile=self.profile,
                               show_secrets=self.show_secrets)

    def options(self, **extra: Any) -> RunOptions:
        from shipctl import runner

        return runner.RunOptions(
            paths=self.paths,
            recursive=self.recursive,
            jobs=self.jobs,
            rate=self.rate,
            journal=self.journal,
            wait=wait_seconds(self.wait),
            report=self.report,
            fail_fast=self.fail_fast,
            strict=self.strict,
            shard=self.shard,
            timeout=self.timeout,
            retries=self.retries,
            ca_bundle=self.ca_bundle,
            dry_run=self.dry_run,
            **extra,
        )


def flags(*, rate_default: str | None) -> Callable[[Command], Command]:
    """Decorator: the command gets the shared bulk flags and is called with one ``Bulk``.

    The command's first parameter is its ``typer.Context``; exactly one keyword-only
    parameter is annotated ``Bulk``. See this module's docstring.
    """
    leading, middle, trailing = _shared(rate_option(rate_default))

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        ctx, *own = signature.parameters.values()
        at = next((i for i, p in enumerate(own) if p.annotation is Bulk), None)
        if at is None:
            raise TypeError(f"{command.__qualname__}: no parameter annotated bulk.Bulk")
        bulk_name = own[at].name
        shared = [name for name, _, _ in (*leading, *middle, *trailing)]

        def made(rows: list[tuple[str, Any, Any]]) -> list[inspect.Parameter]:
            return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                      default=default) for name, kind, default in rows]

        mine = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        parameters = [ctx, *made(leading), *mine[:at], *made(middle), *mine[at + 1:],
                      *made(trailing)]

        @functools.wraps(command)
        def with_flags(**values: Any) -> Any:
            given = {name: values.pop(name) for name in shared}
            values[bulk_name] = Bulk(values[ctx.name], given)
            return command(**values)

        with_flags.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_flags.__annotations__ = {p.name: p.annotation for p in parameters}
        return with_flags  # type: ignore[return-value]

    return decorate



def wait_seconds(value: Optional[str]) -> Optional[float]:
    """--wait's value: None (not given), math.inf (without limit) or seconds (0 or more)."""
    if value is None:
        return None
    if value.strip() == "":
        return float("inf")
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:  # nan too
        from shipctl.errors import UsageError

        raise UsageError(
            f"--wait={value}: must be a number of seconds (0 or more), or nothing to wait"
            " without limit"
        )
    return seconds


class BulkCommand(ShipctlCommand):
    """A bulk command: reads ``--wait`` with or without its value (``with_optional_values``)."""

    optional_values = ("--wait",)

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # noqa: ANN001 - click's
        return super().parse_args(ctx, with_optional_values(list(args), self.optional_values))
