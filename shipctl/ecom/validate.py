"""`shipctl ecom validate`: a verdict on each push pasted from a ticket, with where each problem is.

Support staff paste a payload into ``shipctl ecom validate`` and press Ctrl-D. The shared
reader forgives what tickets do to JSON (trailing commas, single quotes, a Python dict repr,
typographic quotes, prose around it, several pushes back to back) and says so on stderr; the
rules are ``shipctl.ecom.models.check``, the command is ``shipctl.validation.run``. A push's
warnings are part of its verdict (support staff read them there), and the summary counts them.
"""

from __future__ import annotations

from typing import Any

from shipctl import validation
from shipctl.ecom.models import Verdict, check, label
from shipctl.inputs import Item

PASTE_PROMPT = "Paste the push, then press Ctrl-D (Ctrl-Z Enter on Windows)"


class PushChecker:
    """Ecom's ``validation.Checker``."""

    noun = "payload"
    paste_prompt = PASTE_PROMPT
    allow_csv = False
    check_column = None
    warnings_in_verdict = True

    def check(self, item: Item) -> Verdict:
        return check(item.data)

    def label(self, item: Item, verdict: Verdict) -> str:
        return label(item.data)

    def record(self, item: Item, verdict: Verdict) -> dict[str, Any]:
        return {"v2": verdict.v2}

    def summary(self, counts: validation.Counts) -> dict[str, Any]:
        return {"with_warnings": counts.warned, "interrupted": counts.interrupted}

    def fixed(self, item: Item) -> Any:
        return item.data  # a push carries no secret: printed as it would be replayed


def run(app: Any, paths: list[str], *, recursive: bool, print_fixed: bool = False) -> int:
    return validation.run(app, PushChecker(), paths, recursive=recursive,
                          print_fixed=print_fixed)
