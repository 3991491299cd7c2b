"""`shipctl ewe validate`: every modifyShipment rule, offline, with where each problem is.

The rules are ``shipctl.ewe.models.check``, the command is ``shipctl.validation.run``. An
item's warnings (sent all the same: EWE decides) go to stderr as each item is checked, as
`ewe modify` says them.
"""

from __future__ import annotations

from typing import Any

from shipctl import validation
from shipctl.ewe import MSG_TYPE
from shipctl.ewe.models import Checked, PostcodeIndex, Problem, check, unknown_column
from shipctl.ewe.postcodes import configured_index, note_unchecked
from shipctl.inputs import Item
from shipctl.output import LINE_WIDTH, shorten

PASTE_PROMPT = "Paste the payload, then press Ctrl-D (Ctrl-Z Enter on Windows)"


class ModifyChecker:
    """EWE's ``validation.Checker``: the rules, with the user's ``ewe.postcodes`` list."""

    noun = "item"
    paste_prompt = PASTE_PROMPT
    allow_csv = True
    check_column = staticmethod(unknown_column)
    warnings_in_verdict = False

    def __init__(self, app: Any, postcodes: PostcodeIndex | None) -> None:
        self.app = app
        self.postcodes = postcodes
        self.checked = 0
        self.digest_dropped = False

    def check(self, item: Item) -> Checked:
        if self.postcodes is None and not self.checked:
            note_unchecked(self.app)  # once per run, before the first verdict
        self.checked += 1
        checked = check(item.data, postcodes=self.postcodes)
        carried = checked.envelope.get("msgType", MSG_TYPE)
        if carried != MSG_TYPE:
            shown = shorten(repr(carried), LINE_WIDTH)
            checked.warnings.insert(0, Problem(("msgType",),
                                               f"{shown} is replaced by {MSG_TYPE!r} when sent"))
        return checked

    def label(self, item: Item, verdict: Checked) -> str:
        return verdict.label

    def record(self, item: Item, verdict: Checked) -> dict[str, Any]:
        return {"reference_no": verdict.reference_no and verdict.label}

    def summary(self, counts: validation.Counts) -> dict[str, Any]:
        return {"items": counts.total}

    def fixed(self, item: Item) -> Any:
        data = item.data
        if isinstance(data, dict) and "digest" in data:
            # a secret (docs/conventions.md, Configuration), and shipctl computes it when
            # sending: not printed
            data = {key: value for key, value in data.items() if key != "digest"}
            if not self.digest_dropped:
                self.digest_dropped = True
                self.app.out.warn("--print-fixed leaves out 'digest' (a secret; computed when"
                                  " sent)")
        return data


def run(app: Any, paths: list[str], *, recursive: bool, print_fixed: bool = False) -> int:
    checker = ModifyChecker(app, configured_index(app))
    return validation.run(app, checker, paths, recursive=recursive, print_fixed=print_fixed)
