"""Option declarations shared by several commands, so each flag means one thing everywhere."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

EXIT_CODES_HELP = (
    "Exit codes: 0 everything valid/delivered; 1 an item invalid, rejected or not delivered;"
    " 2 usage error, unreadable input or missing configuration (nothing sent);"
    " 130 interrupted."
)


def command_group(help: str, **settings) -> typer.Typer:
    """A command group. Help is click's plain formatter, not rich's: rich help costs ~45 ms
    of imports per `--help` (2.3× the start-up floor) for boxes around the same text."""
    settings.setdefault("no_args_is_help", True)
    return typer.Typer(help=help, rich_markup_mode=None, **settings)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="text for people, json for one JSON document on stdout."),
]

# -- TAB completion: must never raise and must stay cheap -------------------------------------
def complete_profile(incomplete: str, ctx: Optional[typer.Context] = None) -> list[str]:
    """Profile names in the config file (--config, SHIPCTL_CONFIG or the per-user one)."""
    try:
        from shipctl import config

        path = None
        if ctx is not None:
            path = ctx.find_root().params.get("config")
        path = path or os.environ.get("SHIPCTL_CONFIG") or None
        names = config.load(path).profiles()
        if config.DEFAULT_PROFILE not in names:
            names.insert(0, config.DEFAULT_PROFILE)
        return [name for name in names if name.startswith(incomplete or "")]
    except Exception:  # noqa: BLE001 - a broken config must not break the shell's TAB
        return []


def complete_key(incomplete: str) -> list[str]:
    try:
        from shipctl.config import KEYS

        return [key for key in KEYS if key.startswith(incomplete or "")]
    except Exception:  # noqa: BLE001
        return []


def complete_key_described(incomplete: str) -> list[tuple[str, str]]:
    """Config keys with what each one is: zsh, fish and PowerShell show it beside the key."""
    from shipctl.config import KEYS

    return [(key, KEYS[key].help) for key in complete_key(incomplete)]




ProfileOpt = Annotated[
    Optional[str],
    typer.Option(
        "--profile",
        "-p",
        help="Credentials profile (overrides the global --profile).",
        autocompletion=complete_profile,
    ),
]

ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Show passwords, digests and tokens in clear.")
]

# Paths (not str) so shells complete file names; "-" still means stdin.
PathsArg = Annotated[
    Optional[list[Path]],
    typer.Argument(
        help="Files, directories or - for stdin (default: stdin when it is not a terminal).",
        show_default=False,
    ),
]

RecursiveOpt = Annotated[bool, typer.Option("--recursive", "-R", help="Recurse into directories.")]

DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Validate and print exactly what would be sent; send nothing."),
]

# -- HTTP (SPEC §2 "HTTP behaviour") ---------------------------------------------------------
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds for one attempt's whole answer, from sending to its last byte "
        "(connect timeout is 10 s).",
    ),
]
RetriesOpt = Annotated[
    int, typer.Option("--retries", min=0, help="Retries of transient failures per request.")
]
CaBundleOpt = Annotated[
    Optional[Path],
    typer.Option("--ca-bundle", help="Extra CA certificate(s) to trust (PEM).", dir_okay=False),
]

# -- Bulk engine (SPEC §2 "Bulk engine") -----------------------------------------------------
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Requests in flight at once.")]
RateOpt = Annotated[
    Optional[float],
    typer.Option(
        "--rate",
        min=0,
        help="At most R requests per second, evenly paced, retries included; 0 = unlimited."
        " Default: the profile's rate setting (EWE: ewe.rate, 1.0).",
    ),
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
OPTIONAL_VALUES = ("--wait",)


def _is_seconds(text: str) -> bool:
    import re

    return re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text) is not None


def with_optional_values(args: list[str], names: tuple[str, ...] = OPTIONAL_VALUES) -> list[str]:
    """``args`` with each option of ``names`` given its value in the ``--opt=VALUE`` form that
    the parser reads: ``--wait`` → ``--wait=``, ``--wait 30`` → ``--wait=30``."""
    result: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # the rest are arguments, whatever they look like
            result.extend(args[i:])
            break
        if arg in names:
            following = args[i + 1] if i + 1 < len(args) else None
            if following is not None and _is_seconds(following):
                result.append(f"{arg}={following}")
                i += 2
                continue
            result.append(f"{arg}=")
        else:
            result.append(arg)
        i += 1
    return result


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


class BulkCommand(TyperCommand):
    """A bulk command: reads ``--wait`` with or without its value (``with_optional_values``)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # noqa: ANN001 - click's
        return super().parse_args(ctx, with_optional_values(list(args)))


JournalOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--journal", dir_okay=False, help="SQLite journal: a re-run skips items that succeeded."
    ),
]
ReportOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--report", dir_okay=False, help="Per-item report: CSV if *.csv, else JSON Lines."
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
