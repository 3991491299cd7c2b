"""The rules of an Ecom status push (Ecom Express's "Ecom Status Update API Reference Manual",
docs/ecom.md) and the one check.

``check(data)`` is the single entry point for everyone who needs the rules: ``shipctl ecom
validate``, ``shipctl ecom replay`` before it sends, and the receiver (``ecom listen`` and the
sandbox) for every push it answers. It never raises, whatever it is given: it returns the
problems as data (``shipctl.validation.Problem``), worded for support staff, with the key each
is about (``Problem.path`` for ``Item.line_of``, so a message can name the source line).

Standard library only, and cheap to import: the receiver imports it per request.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipctl.ecom.codes import CODES, is_known
from shipctl.output import shorten
from shipctl.suggest import kind_of, nearest
from shipctl.validation import Problem, Problems

# The push of Ecom's manual, in its order. Every key is required, spelt exactly so
# ("Employee" with a capital E); only ref_awb may be empty.
KEYS = (
    "awb",
    "datetime",
    "status",
    "reason_code",
    "reason_code_number",
    "location",
    "Employee",
    "status_update_number",
    "order_number",
    "city",
    "ref_awb",
)
DATETIME_EXAMPLE = "2024-03-05 14:07:09"

# docs/ecom.md: the newer push Ecom sends with "x-webhook-version: 2.0". Not handled
# yet, but recognised: one message says so instead of eleven missing keys.
V2_KEYS = frozenset({"date_time", "status_code", "order_id", "shipment_type", "employee_name"})

_KEY_SET = frozenset(KEYS)
_STR_ONLY = {str}
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_SHOWN = 60  # a value quoted in a message is cut to this many characters
_LABEL_WIDTH = 40


@dataclass
class Verdict:
    problems: Problems = field(default_factory=list)
    warnings: Problems = field(default_factory=list)
    v2: bool = False  # the payload looks like the v2 push (one problem says so)

    @property
    def valid(self) -> bool:
        return not self.problems


def label(data: Any) -> str:
    """What a person recognises a scan by: its AWB and status_update_number."""
    if type(data) is not dict:
        return "-"
    awb, number = data.get("awb"), data.get("status_update_number")
    if type(awb) is str and type(number) is str and awb and number:  # the common case
        text = f"{awb} #{number}"
    else:
        text = str(awb) if isinstance(awb, str | int) and str(awb) else "-"
        if isinstance(number, str | int) and str(number):
            text += f" #{number}"
    return shorten(text, _LABEL_WIDTH)


def check(data: object) -> Verdict:
    """Every rule of the push, on anything (a dict from any reader, or garbage)."""
    verdict = Verdict()
    if not isinstance(data, dict):
        verdict.problems.append(Problem((), f"expected a JSON object holding the push's keys"
                                          f" ({', '.join(KEYS[:3])}, …), found {kind_of(data)}"))
        return verdict
    if data.keys() == _KEY_SET and set(map(type, data.values())) == _STR_ONLY:
        texts: dict = data  # the common case, kept fast: the manual's keys, all strings
    elif looks_like_v2(data):
        verdict.v2 = True
        verdict.problems.append(Problem((), _V2_MESSAGE))
        return verdict
    else:
        texts = _keys(data, verdict)
    _values(texts, verdict)
    if len(verdict.problems) > 1 or len(verdict.warnings) > 1:
        _in_source_order(data, verdict)
    return verdict


def _in_source_order(data: dict, verdict: Verdict) -> None:
    """Problems in the order of their keys in the payload, as a person reads it; a missing
    key's after them, in the manual's order."""
    place = {key: n for n, key in enumerate(data)}
    last = len(place)

    def where(problem: Problem) -> int:
        return place.get(problem.path[0], last) if problem.path else last

    verdict.problems.sort(key=where)
    verdict.warnings.sort(key=where)


_V2_MESSAGE = (
    "this looks like a v2 push (date_time, status_code, order_id…, sent with header"
    " x-webhook-version: 2.0); shipctl checks and replays only the v1 push"
    " (awb, datetime, status, reason_code…)"
)


def looks_like_v2(data: dict) -> bool:
    """v2 keys and no v1 datetime: a v1 push with one stray v2-looking key is still v1."""
    if "datetime" in data or "reason_code" in data:
        return False
    return any(key in data for key in V2_KEYS)


def _keys(data: dict, verdict: Verdict) -> dict[str, str]:
    """Check the keys; return the text of each required key present (numbers made text),
    for the value rules."""
    missing = [key for key in KEYS if key not in data]
    extra = [key for key in data if key not in KEYS]
    claimed: set[str] = set()  # missing keys an extra key seems to be meant for
    hinted: set[object] = set()  # those extra keys
    for key in extra:
        wanted = nearest(key, missing) if isinstance(key, str) and missing else None
        if wanted is None or wanted in claimed:
            continue
        claimed.add(wanted)
        hinted.add(key)
        same = key.casefold() == wanted.casefold()
        note = " (keys are case-sensitive)" if same else ""
        verdict.problems.append(Problem(
            (key,), f"unknown key {_shown(key)}: did you mean {_shown(wanted)}?{note}"))
    for key in missing:
        if key not in claimed:
            empty = " (it may be empty)" if key == "ref_awb" else ""
            # the path names the key in "file:line item N key: …" (the line is the item's)
            verdict.problems.append(Problem(
                (key,), f"missing: every push carries this key{empty}"))
    for key in extra:
        if key in hinted:
            continue
        verdict.warnings.append(Problem(
            (key,), f"unknown key {_shown(key)}: not part of Ecom's push"))

    texts: dict[str, str] = {}
    for key in KEYS:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, str):
            texts[key] = value
        elif isinstance(value, float) and not math.isfinite(value):
            # json reads NaN, Infinity and 1e400 as floats, but no JSON receiver takes them
            verdict.problems.append(Problem(
                (key,), f"{value} is not a number JSON can carry"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            texts[key] = text
            verdict.warnings.append(Problem(
                (key,), f"a number where Ecom sends a string: write it as {_shown(text)}"))
        elif value is None and key == "ref_awb":
            texts[key] = ""
            verdict.warnings.append(Problem(
                (key,), 'null where Ecom sends a string: write "" for no return AWB'))
        else:
            verdict.problems.append(Problem(
                (key,), f"must be a string, found {kind_of(value)}"))
    return texts


def _values(texts: dict[str, str], verdict: Verdict) -> None:
    """The value rules, on the text of each key present (a hot path: one call per push)."""
    errors, warnings = verdict.problems, verdict.warnings
    if not "".join(texts.values()).isascii():  # one test for the common, all-ASCII push
        for key, text in texts.items():
            if not _encodable(text):  # JSON allows "\ud800"
                errors.append(Problem((key,), f"{_shown(text)} holds a lone UTF-16 surrogate:"
                                      " not text a receiver can store"))
    awb = texts.get("awb")
    if awb is not None:
        if not awb.strip():
            errors.append(Problem(("awb",), "must not be empty: the air waybill number the"
                                  " scan is about"))
        elif not (awb.isascii() and awb.isdigit()):
            warnings.append(Problem(("awb",), f"{_shown(awb)}: Ecom AWB numbers are digits only"))

    when = texts.get("datetime")
    if when is not None:
        problem = datetime_problem(when)
        if problem:
            errors.append(Problem(("datetime",), problem))

    number = texts.get("status_update_number")
    if number is not None and not (number.isascii() and number.isdigit()):
        errors.append(Problem(("status_update_number",), 'must be digits only (e.g. "44591782"),'
                              f" found {_shown(number)}"))

    code = texts.get("reason_code_number")
    if code is not None:
        if not code.strip():
            errors.append(Problem(("reason_code_number",), 'must not be empty (e.g. "777")'))
        elif code not in CODES and not is_known(code):
            warnings.append(Problem(("reason_code_number",),
                                    f"{_shown(code)} is not a reason code shipctl knows"
                                    " (see `shipctl ecom codes`); it may still be a real one"))
    reason = texts.get("reason_code")
    if reason is not None and code is not None and code.strip():
        prefix = code + " - "
        if not reason.startswith(prefix):
            errors.append(Problem(("reason_code",), "must start with the reason_code_number"
                                  f' and " - " ({_shown(prefix + "…")}), found {_shown(reason)}'))


def datetime_problem(text: str) -> str | None:
    """What is wrong with a push's ``datetime``, or None when it is a real
    ``YYYY-mm-dd HH:MM:SS``."""
    if not _DATETIME.fullmatch(text):
        shown = _shown(text)
        hint = ""
        if "T" in text[:20]:
            hint = "; use a space between date and time, not T"
        elif text.endswith("Z") or re.search(r"[+-][0-9]{2}:?[0-9]{2}$", text[10:]):
            hint = "; no time zone: Ecom sends Indian time without one"
        return f"must be YYYY-mm-dd HH:MM:SS (e.g. {DATETIME_EXAMPLE}), found {shown}{hint}"
    try:  # not strptime: fromisoformat is C and much faster; the format is checked above
        datetime.fromisoformat(text)
    except ValueError:
        return f"{_shown(text)} is not a real date and time"
    return None


def sort_key(data: object) -> tuple:
    """Chronological order of one AWB's scans: ``datetime``, then ``status_update_number``
    (as a number when it is digits). Never raises. A scan whose ``datetime`` is not
    ``YYYY-mm-dd HH:MM:SS`` text sorts first: which scans come after it cannot be known, so
    (invalid) it blocks all of its AWB's rather than those its text happens to sort before."""
    if not isinstance(data, dict):
        return ("", (1, 0, ""))
    when = data.get("datetime")
    number = data.get("status_update_number")
    number_text = str(number) if isinstance(number, str | int) and not isinstance(
        number, bool) else ""
    if _digits(number_text):
        digits = number_text.lstrip("0") or "0"
        # by length then text: int() of a 5,000-digit number is refused on Python ≥ 3.11
        order: tuple = (0, len(digits), digits)
    else:
        order = (1, 0, number_text)
    return (when if isinstance(when, str) and _DATETIME.fullmatch(when) else "", order)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit alone takes "٤٤" and "²" too."""
    return text.isascii() and text.isdigit()


def _shown(value: Any) -> str:
    """A value in a message: quoted as JSON (control characters escaped) and cut short, so a
    megabyte of junk stays one line."""
    text = value if isinstance(value, str) else str(value)
    return json.dumps(shorten(text, _SHOWN), ensure_ascii=False)
