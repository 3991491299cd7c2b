"""Option declarations shared by several commands, so each flag means one thing everywhere.

The command classes are in ``groups`` (help layout: ``help_layout``); the flags of bulk runs
are declared once in ``bulk``.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from shipctl.app import Application

EXIT_CODES_HELP = (
    "Exit codes: 0 everything valid/delivered; 1 an item invalid, rejected or not delivered;"
    " 2 usage error, unreadable input or missing configuration (nothing sent);"
    " 130 interrupted."
)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="text for people, json for one JSON document on stdout."),
]


class ResultsFormat(str, Enum):
    """Commands that report item by item (validate, bulk runs) also stream JSON Lines."""

    text = "text"
    json = "json"
    jsonl = "jsonl"


ResultsOpt = Annotated[
    ResultsFormat,
    typer.Option("--output", "-o", help="text for people, json for one JSON document on stdout,"
                 " jsonl for one JSON object per line as items finish."),
]


def print_fixed_option(item: str, repairs: str) -> Any:
    """``--print-fixed`` of a validate command: ``item`` is what one input holds ("push"),
    ``repairs`` what the reader forgives in it, for the help."""
    return Annotated[
        bool,
        typer.Option(
            "--print-fixed",
            help=f"Print each {item} as clean JSON on stdout ({repairs}… repaired); the"
            " verdicts go to stderr.",
        ),
    ]


def results_app(ctx: typer.Context, output: ResultsFormat, **settings: Any) -> Application:
    """The invocation's Application, writing results as ``-o`` says; ``settings`` go to
    ``Application.use`` (``profile``, ``show_secrets``)."""
    from shipctl.app import get_app

    app = get_app(ctx)
    app.use(json_mode=output is not ResultsFormat.text, **settings)
    app.out.json_lines = output is ResultsFormat.jsonl
    return app

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
        metavar="NAME",
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

# -- HTTP (docs/conventions.md, HTTP behaviour) ----------------------------------------------
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="S",
        help="Seconds for one attempt's whole answer, from sending to its last byte "
        "(connect timeout is 10 s).",
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries", min=0, metavar="N", help="Retries of transient failures per request."
    ),
]
CaBundleOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--ca-bundle",
        metavar="FILE",
        help="Extra CA certificate(s) to trust (PEM).",
        dir_okay=False,
    ),
]
