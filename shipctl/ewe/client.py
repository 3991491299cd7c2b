"""EWE modifyShipment over HTTP: the envelope, the request, and what the answer means.

Facts from EWE's "Modify Shipment" API documentation (docs/ewe.md): POST
{ewe.url}/modifyShipment, JSON body documented with ``Content-Type: application/javascript``,
answer ``{success, message, code}`` where ``message`` is an array in that documentation and a
string in older material.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shipctl import nesting, plainjson
from shipctl.ewe import MSG_TYPE
from shipctl.ewe.credentials import Credentials

CONTENT_TYPE = "application/javascript"  # EWE's "Request Example"

# docs/ewe.md, Response codes: code → what it means, and a plain hint for a person
CODES: dict[int, str] = {
    0: "Successful",
    1: "Unknown error",
    2: "Service is temporarily unavailable",
    3: "Unsupported open API method",
    10: "Invalid parameter",
    101: "Invalid API key",
    104: "Incorrect signature",
}
HINTS: dict[int, str] = {
    3: "unsupported method: check ewe.url (it should end in /eweApi/ewe/api)",
    101: "invalid API key: check ewe.username",
    104: "incorrect signature: check ewe.password",
}
# Every item would be refused the same way: no point sending the rest of a bulk run.
FATAL_CODES = frozenset({3, 101, 104})
# the answers that refuse the credentials, and the setting each one points at
CREDENTIAL_CODES: dict[int, str] = {101: "ewe.username", 104: "ewe.password"}
TRANSIENT_CODE = 2


def envelope(request: dict[str, Any], credentials: Credentials) -> dict[str, Any]:
    """The body EWE expects: username, digest, msgType first, then the request's fields."""
    return {
        "username": credentials.username,
        "digest": credentials.digest,
        "msgType": MSG_TYPE,
        **request,
    }


def endpoint(base_url: str) -> str:
    return base_url.rstrip("/") + "/" + MSG_TYPE


def encode(body: dict[str, Any]) -> bytes:
    """The bytes sent: compact JSON in UTF-8, decimals in plain notation with their exact
    digits (``0.0000001``, never ``1e-07``: EWE's Java side reads decimals, and a float would
    drop digits of a 20-digit value)."""
    return plainjson.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Answer:
    """EWE's verdict on one request."""

    ok: bool
    code: int | None
    message: str
    hint: str | None = None

    @property
    def fatal(self) -> bool:
        return self.code in FATAL_CODES

    @property
    def text(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


def parse_answer(status: int, body: bytes) -> Answer:
    """EWE's answer (HTTP status and body) as an ``Answer``; never raises."""
    try:
        document = nesting.loads(body.decode("utf-8"))  # a hostile server may nest deep
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict) or "code" not in document:
        snippet = body[:200].decode("utf-8", "replace").strip() or "(empty body)"
        return Answer(False, None, f"HTTP {status}: unexpected answer: {snippet}")
    code = document.get("code")
    try:
        code = int(code)
    except (TypeError, ValueError):
        return Answer(False, None, f"HTTP {status}: unexpected code {code!r}")
    raw = document.get("message")
    if isinstance(raw, list):
        message = "; ".join(str(m) for m in raw)
    elif raw is None:
        message = ""
    else:
        message = str(raw)
    message = message or CODES.get(code, f"code {code}")
    ok = code == 0 and document.get("success") is not False and 200 <= status < 300
    if code == 0 and not ok:
        return Answer(False, code, f"HTTP {status}: {message}")
    label = f"code {code}" if code else ""
    return Answer(ok, code, message if ok else f"{label}: {message}", HINTS.get(code))


_CODE_2 = re.compile(rb'"code"\s*:\s*"?2\b')


def transient_reason(status: int, body: bytes) -> str | None:
    """EWE code 2 ("temporarily unavailable") is worth retrying (docs/ewe.md, Response codes)."""
    if not _CODE_2.search(body):  # cheap test first: this runs on every answer
        return None
    answer = parse_answer(status, body)
    return "EWE code 2: service temporarily unavailable" if answer.code == TRANSIENT_CODE else None
