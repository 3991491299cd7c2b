"""Fynd updateShipmentStatus over HTTP: the endpoints, and what an answer means.

Facts from docs/fynd.md: ``PUT {base}/service/platform/order-manage/v1.0/company/
{company_id}/shipment/status-internal`` with a JSON body and a bearer token. The answer is
``{"statuses": [{"shipments": [ShipmentResult, …]}, …]}`` and **an HTTP 200 can carry
failures**: a ShipmentResult is a success only with a 2xx ``status``, no ``exception`` and no
error message (``status: null`` with "Invalid State Transition…" is a failed shipment).
The document's response examples show a bare ShipmentResult (``{status, final_state,
identifier}``); that is read too. Transport-level errors (non-2xx)
carry ``{"success": false, "message": …}``; a gateway's HTML page shows as its status and
first line.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from shipctl import nesting
from shipctl.output import shorten, visible

STATUS_PATH = "/service/platform/order-manage/v1.0/company/{company_id}/shipment/status-internal"
TOKEN_PATH = "/service/panel/authentication/v1.0/company/{company_id}/oauth/token"
REASONS_PATH = ("/service/platform/order/v1.0/company/{company_id}/shipments/{shipment_id}"
                "/bags/{bag_id}/state/{state}/reasons")
# The SDK's getShipmentById (``ShipmentInfoResponse``): the path says ``order``, as the reasons
# endpoint's does, and the shipment goes in the query string.
DETAILS_PATH = "/service/platform/order/v1.0/company/{company_id}/shipment-details"
CONTENT_TYPE = "application/json"
CREDENTIALS_CHECK = "fynd.client_id / fynd.client_secret"
# A 401/403 from the API itself: the token endpoint accepted the client id and secret (the
# token came from it, fetched anew after a first 401), so the token does not open this company
# or the app lacks the permission; the secret is not the thing to check.
TOKEN_CHECK = "fynd.company_id and the app's permissions"


def token_refused(text: str) -> str:
    """An API 401/403 in one line, pointing at the real cause."""
    return (f"{text} (the token endpoint accepted the client but the API refused the token: "
            f"check {TOKEN_CHECK})")
MESSAGE_MAX = 300  # one shipment's message in a line of text output


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def status_url(base_url: str, company_id: str) -> str:
    return base_url.rstrip("/") + STATUS_PATH.format(company_id=_segment(company_id))


def token_url(base_url: str, company_id: str) -> str:
    return base_url.rstrip("/") + TOKEN_PATH.format(company_id=_segment(company_id))


def reasons_url(base_url: str, company_id: str, shipment_id: str, bag_id: str,
                state: str) -> str:
    return base_url.rstrip("/") + REASONS_PATH.format(
        company_id=_segment(company_id), shipment_id=_segment(shipment_id),
        bag_id=_segment(bag_id), state=_segment(state))


def details_url(base_url: str, company_id: str, shipment_id: str) -> str:
    """``GET`` this for a shipment's bags, lines, quantities and current states."""
    return (base_url.rstrip("/") + DETAILS_PATH.format(company_id=_segment(company_id))
            + "?shipment_id=" + _segment(shipment_id))


def encode(body: dict[str, Any]) -> bytes:
    """The body as sent: compact JSON, keys in the order they were built (as in Fynd's
    "Example Request Payload of Update Shipment Status API")."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- answers ------------------------------------------------------------------------------------
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_STATUS_TEXT = re.compile(r"\s*[0-9]{1,3}\s*")


def _first_line(body: bytes) -> str:
    """What a person needs of a body that is not the JSON we expect: an HTML page's title (or
    first line of text), or the first non-empty line, shortened."""
    title = _TITLE.search(body[:65536])
    if title is not None:
        text = html.unescape(_TAG.sub("", title.group(1).decode("utf-8", "replace")))
        text = " ".join(text.split())
        if text:
            return visible(shorten(text, MESSAGE_MAX))
    text = body[:65536].decode("utf-8", "replace")
    for line in text.splitlines():
        line = " ".join(html.unescape(_TAG.sub(" ", line)).split())
        if line:
            return visible(shorten(line, MESSAGE_MAX))
    return "(empty body)"


def load_json(body: bytes) -> Any:
    """An answer's JSON value, or None when it is not JSON (a hostile server may nest deep:
    that is refused as not JSON, never a RecursionError)."""
    try:
        return nesting.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def error_text(status: int, body: bytes) -> str:
    """A non-2xx answer in one line: ``HTTP 400: <message>`` from Fynd's
    ``{"success": false, "message"}`` (or an OAuth ``error_description``), else the status and
    the body's first line, never a wall of HTML."""
    document = load_json(body)
    if isinstance(document, dict):
        for key in ("message", "error_description", "error"):
            value = document.get(key)
            if isinstance(value, str) and value.strip():
                return f"HTTP {status}: {visible(shorten(' '.join(value.split()), MESSAGE_MAX))}"
    return f"HTTP {status}: {_first_line(body)}"


@dataclass
class ShipmentResult:
    """One ShipmentResult of the answer: identifier, ok or failed, requested → reached."""

    identifier: str
    ok: bool
    status: Any  # the server's per-shipment status (an int, normally)
    reached: list[tuple[str, str]]  # final_state's (requested, reached) pairs
    message: str
    response: dict[str, Any]  # the server's fields, as received

    @property
    def states(self) -> str:
        """``bag_invoiced → dp_assigned`` when the system moved on, else the state reached."""
        return ", ".join(req if req == got else f"{req} → {got}" for req, got in self.reached)

    def record(self) -> dict[str, Any]:
        """For ``-o json`` and reports: ours, then the server's fields untouched."""
        return {
            "identifier": self.identifier,
            "result": "ok" if self.ok else "failed",
            "requested": [req for req, _ in self.reached] or None,
            "reached": [got for _, got in self.reached] or None,
            "message": self.message,
            "response": self.response,
        }

    def line(self) -> str:
        parts = [self.identifier or "-", "ok" if self.ok else "FAILED"]
        if self.states:
            parts.append(self.states)
        if self.message:
            parts.append(shorten(self.message, MESSAGE_MAX))
        return visible("  ".join(parts))


@dataclass
class Answer:
    """Fynd's verdict on one request: per shipment, or one transport-level message."""

    http_status: int
    shipments: list[ShipmentResult] = field(default_factory=list)
    error: str | None = None  # set when the answer is not a usable list of results
    # A 2xx answer that accounts for no shipment (not what Fynd answers, an empty list): the
    # request arrived and may have been applied, so it says nothing of any shipment sent.
    unread: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and all(s.ok for s in self.shipments)

    @property
    def failed(self) -> list[ShipmentResult]:
        return [s for s in self.shipments if not s.ok]

    @property
    def refused_credentials(self) -> bool:
        return self.http_status in (401, 403)

    def text(self) -> str:
        """One line for a bulk run's record: what failed first, then what went through."""
        if self.error is not None:
            return self.error
        failed = self.failed
        if failed:
            listed = "; ".join(f"{s.identifier or '-'}: {s.message or 'failed'}" for s in failed)
            return visible(f"{len(failed)} of {len(self.shipments)} shipment(s) failed: "
                             f"{listed}")
        return visible("; ".join(f"{s.identifier}: {s.states or 'ok'}"
                                   for s in self.shipments))


def _is_result(value: Any) -> bool:
    return isinstance(value, dict) and ("final_state" in value or "status" in value
                                        or "exception" in value) and "statuses" not in value


# Fynd's documented refusals inside an HTTP 200 ("Common Error Scenarios" of its page "Example
# Request Payload of Update Shipment Status API"), as they begin: an entry whose message starts
# so failed, whatever its status says.
ERROR_MESSAGES = (
    "invalid state transition", "invalid user facing state transition", "not found bag_ids",
    "reasonerror", "reason is missing", "reason is not allowed", "invalid reason ids",
    "entity is under", "child bag ids are repeated", "breaking up of",
    "entity id doesn't have any bag", "unable to convert", "length is greater than",
    "not allowed keys", "mandatory keys",
)


def is_error_message(message: str) -> bool:
    text = " ".join(message.split()).lower()
    return any(text.startswith(prefix) for prefix in ERROR_MESSAGES)


def _result(entry: dict[str, Any]) -> ShipmentResult:
    """One ShipmentResult. A success needs a 2xx ``status`` AND no ``exception`` AND no error
    message: an entry with ``status: null`` and "Invalid State Transition…" was refused, and
    an entry without a status says nothing was done (a missing status is never a success)."""
    status = entry.get("status")
    exception = entry.get("exception")
    if isinstance(status, str) and _STATUS_TEXT.fullmatch(status):
        status = int(status)  # "400": a status sent as text (isdigit() would take "²" too)
    status_ok = (isinstance(status, int) and not isinstance(status, bool)
                 and 200 <= status < 300)
    final = entry.get("final_state")
    reached: list[tuple[str, str]] = []
    if isinstance(final, dict):
        reached = [(str(k), str(v)) for k, v in final.items()
                   if k != "shipment_id" and isinstance(v, (str, int))]
    message = entry.get("message")
    message = " ".join(str(message).split()) if message not in (None, "") else ""
    refused = bool(message) and is_error_message(message)
    ok = status_ok and not exception and not refused
    if not ok:
        detail = []
        if exception:
            detail.append(str(exception))
        if status is None:
            detail.append("no status")
        elif not status_ok:
            detail.append(f"status {status}")
        if detail:
            message = f"{message} ({', '.join(detail)})" if message else ", ".join(detail)
        message = message or "failed"
    identifier = entry.get("identifier")
    if identifier in (None, "") and isinstance(final, dict):
        identifier = final.get("shipment_id")
    return ShipmentResult(str(identifier) if identifier is not None else "", ok, status,
                          reached, message, entry)


def parse_answer(status: int, body: bytes) -> Answer:
    """Fynd's answer (HTTP status and body) as an ``Answer``; never raises."""
    if not 200 <= status < 300:
        return Answer(status, error=error_text(status, body))
    document = load_json(body)
    results: list[ShipmentResult] = []
    if isinstance(document, dict) and isinstance(document.get("statuses"), list):
        for transition in document["statuses"]:
            shipments = transition.get("shipments") if isinstance(transition, dict) else None
            for entry in shipments if isinstance(shipments, list) else []:
                if isinstance(entry, dict):
                    results.append(_result(entry))
    elif _is_result(document):
        results.append(_result(document))
    elif isinstance(document, list) and all(_is_result(e) for e in document) and document:
        results.extend(_result(e) for e in document)
    else:
        if isinstance(document, dict) and document.get("success") is False:
            return Answer(status, error=error_text(status, body))
        return Answer(status, error=f"HTTP {status}: unexpected answer: {_first_line(body)}",
                      unread=True)
    if not results:
        return Answer(status, error=f"HTTP {status}: the answer lists no shipment results",
                      unread=True)
    return Answer(status, results)
