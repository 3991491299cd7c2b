"""Ecom's status push on the wire: the body of a push, and what a receiver's answer means
(docs/ecom.md, Answers).

2xx with ``status`` true or "true" succeeded; ``false`` failed with the receiver's
``reason``; 2xx without JSON succeeded with a warning; 401/403 failed "check ecom
credentials" (not retried, stops the run); an echo of another awb or status_update_number is
a warning.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shipctl.ecom.credentials import CREDENTIALS_CHECK

if TYPE_CHECKING:
    import requests

    from shipctl.batch import Outcome

CONTENT_TYPE = "application/json"


def encode(data: Any) -> bytes:
    """The body of a push read from anything but a JSON Lines line (which goes as written):
    JSON in UTF-8, keys in the order they came, one spelling for every item."""
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800"): kept as the escape it came as
        return json.dumps(data).encode("ascii")


def sent_push(response: requests.Response) -> dict[str, Any]:
    """The push this answer is about, from the request that got it (for the echo check)."""
    body = response.request.body if response.request is not None else None
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def answer_outcome(status: int, content: bytes, sent: dict[str, Any]) -> Outcome:
    """What a receiver's answer means (docs/ecom.md)."""
    from shipctl import batch
    from shipctl.output import shorten

    if status in (401, 403):
        return batch.Outcome(False, f"HTTP {status}: check ecom credentials", code=status,
                             fatal=True, check=CREDENTIALS_CHECK)
    try:
        answer = json.loads(content) if content.strip() else None
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict):
        answer = None
    reason = None
    if answer is not None and answer.get("reason") not in (None, ""):
        reason = shorten(str(answer["reason"]), 200).replace("\n", " ")
    if not 200 <= status < 300:
        return batch.Outcome(False, f"HTTP {status}" + (f": {reason}" if reason else ""),
                             code=status)
    if answer is None:
        warning = f"HTTP {status} without a JSON answer; counted as delivered"
        return batch.Outcome(True, f"delivered (warning: {warning})", code=status,
                             detail={"warnings": [warning]})
    flag = answer.get("status")
    if flag is False or flag == "false":
        return batch.Outcome(False, f"refused by the receiver: {reason or 'no reason given'}",
                             code=status)
    if flag is not True and flag != "true":
        shown = shorten(json.dumps(flag, ensure_ascii=False), 40)
        return batch.Outcome(False, f"HTTP {status} but the answer's status is {shown}, not"
                             " true", code=status)
    warnings = _echo_warnings(answer, sent)
    if warnings:
        return batch.Outcome(True, f"delivered (warning: {'; '.join(warnings)})", code=status,
                             detail={"warnings": warnings})
    return batch.Outcome(True, "delivered", code=status)


def _echo_warnings(answer: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    """The receiver's echo of awb and status_update_number, where it differs from the push."""
    from shipctl.output import shorten

    said = []
    if "awb" in answer and "awb" in sent and str(answer["awb"]) != str(sent["awb"]):
        said.append(f"the answer's awb {shorten(str(answer['awb']), 40)!r} is not the one sent")
    if "status_update_number" in answer and "status_update_number" in sent:
        got, want = str(answer["status_update_number"]), str(sent["status_update_number"])
        # Ecom Express's manual answers the number as an integer: "0044" comes back as 44
        same = got == want or (got.isdigit() and want.isdigit() and got.isascii()
                               and want.isascii() and got.lstrip("0") == want.lstrip("0"))
        if not same:
            said.append(f"the answer's status_update_number {shorten(got, 40)!r} is not the"
                        " one sent")
    return said
