"""`shipctl config …` (placeholder until the config module lands)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Profiles, credentials and settings.", no_args_is_help=True)


def complete_profile(incomplete: str) -> list[str]:
    return []
