"""The receiving side of Ecom's push API (README "Receiving pushes"), free of any server.

``Receiver.receive(headers, body)`` turns one request — its headers and raw body bytes — into
what to answer (HTTP status and the JSON body of Ecom Express's push API documentation) and,
for an accepted push, what to store. Both servers use it: ``ecom listen`` (uvicorn,
``shipctl.ecom.receive.listen``) and the sandbox's Ecom simulator
(``shipctl.ecom.simulator``), so the two cannot answer differently. ``ecom listen`` calls
its two halves itself: ``refusal`` (credentials, from the headers alone) before it reads a
byte of the body, ``accept`` after.

In order, as a receiver should:

1. a body over 1 MiB → 413 (the server refuses it before reading when Content-Length says so);
2. credentials — Basic Auth (RFC 7617: UTF-8, or ISO-8859-1 as Python's requests and
   http.client send a ``str`` password) or the ``username`` / ``password`` headers some
   integrations check instead — compared in constant time; wrong or missing → 401 with
   ``WWW-Authenticate``, and nothing of the body is parsed;
3. the body must be JSON that can be stored as text (no lone surrogate, no NaN or infinite
   number, anywhere) and pass the push rules (``shipctl.ecom.models.check``) → else 400;
4. else 200 ``{"awb", "status": true, "status_update_number"}``, the number an integer when it
   is all digits (as in the documentation's sample answer), once the caller stored the push.

Every failure answers the documented failure body ``{"awb", "status": false, "reason",
"status_update_number"}``, echoing the push's awb and number when the body holds them (null
when it does not, or when it was not read: a 401), so the sender can tell which push was
refused. Answers are strict JSON (RFC 8259: no NaN, no lone surrogate). Never raises, whatever
the bytes: a receiver must keep serving hostile input.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipctl import nesting
from shipctl.ecom import models as rules
from shipctl.output import printable

MAX_BODY = 1024 * 1024  # larger bodies are answered 413
# A header whose name holds one of these (any case) carries a credential or something as good
# as one (X-Api-Key, X-Auth-Token, Set-Cookie, X-Session-Id…): never stored or logged in clear.
SECRET_HEADER = re.compile(r"auth|token|key|secret|passw|pwd|session|cookie|credential",
                           re.IGNORECASE)
REDACTED = "[redacted]"
# With a 401: the scheme and charset a standard client needs to send its credentials at all
# (RFC 7235 §4.1, RFC 7617 §2.1; urllib's Basic handler sends nothing without it).
WWW_AUTHENTICATE = 'Basic realm="shipctl ecom listen", charset="UTF-8"'
_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_KEY = object()  # marks a key with a lone surrogate while walking a body
_ECHO_MAX = 100  # characters of a refused body's awb / number echoed in the answer

_UNAUTHORIZED = (
    "unauthorized: wrong or missing credentials (Basic Auth, or username/password headers)"
)
Headers = Mapping[str, str] | Iterable[tuple[Any, Any]]  # a str mapping or ASGI's byte pairs


@dataclass(frozen=True)
class Push:
    """An accepted push, as the store keeps it."""

    body: bytes  # the raw body bytes, exactly as received
    headers: list[tuple[str, str]]  # lower-cased names, credentials redacted
    awb: str
    datetime: str
    status_update_number: str  # the dedupe key
    reason_code_number: str
    warnings: list[str] = field(default_factory=list)  # the validation result: valid, with these

    @property
    def compact(self) -> str:
        """The body on one line, for JSON Lines export (``shipctl.ecom.receive.export``).

        The raw body, less the whitespace around it (many senders end it with a newline),
        when it is one line of UTF-8 JSON, which it is whenever the sender did not
        pretty-print it; else the parsed document re-serialised compactly (a JSON text's line
        breaks can only be whitespace between tokens, so nothing but layout is lost, and the
        raw bytes stay in the store).
        """
        text = self.body.decode("utf-8").removeprefix("\ufeff").strip(" \t\r\n")
        if "\n" not in text and "\r" not in text:
            return text
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Answer:
    status: int  # HTTP status
    document: dict[str, Any]  # the JSON body
    push: Push | None = None  # set on a 200: the caller stores it, then answers
    reason: str = ""  # why it was refused (the log line's result), "" on success
    awb: str = ""  # for the log line, as far as the body told
    reason_code: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers (WWW-Authenticate)

    @property
    def body(self) -> bytes:
        # allow_nan=False: strict JSON. Echoes are cleaned before they get here (``_clean``);
        # should anything slip through, the answer is still JSON, never an exception.
        try:
            text = json.dumps(self.document, ensure_ascii=False, separators=(",", ":"),
                              allow_nan=False)
            return text.encode()
        except (ValueError, UnicodeEncodeError):
            document = {key: _clean(value) for key, value in self.document.items()}
            return json.dumps(document, ensure_ascii=True, separators=(",", ":"),
                              allow_nan=False, default=str).encode()


def answer_number(value: object) -> object:
    """``status_update_number`` as the answer carries it: an int when it is all digits (the
    documentation's sample answer), else as sent (None when absent, or not JSON: NaN)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            return int(value)
        except ValueError:  # more digits than Python converts (4,300 since 3.11)
            return value
    if isinstance(value, (dict, list)):
        return None  # not echoed: it could be a megabyte of nesting
    if isinstance(value, str):
        return _clean(value[:_ECHO_MAX])  # an echo, not a copy of a megabyte of junk
    if isinstance(value, float) and not math.isfinite(value):
        return None  # 1e999 or NaN: no JSON number says it
    return value


def failure(status: int, reason: str, data: object = None) -> Answer:
    """The failure body, echoing what ``data`` (the parsed body, if any) says."""
    awb, number, code = _echo(data)
    document = {"awb": awb, "status": False, "reason": reason,
                "status_update_number": answer_number(number)}
    return Answer(status, document, reason=reason, awb="" if awb is None else str(awb),
                  reason_code=code)


def unauthorized() -> Answer:
    """401, with the challenge that makes a standard client send its credentials."""
    answer = failure(401, _UNAUTHORIZED)
    return Answer(answer.status, answer.document, reason=answer.reason,
                  headers=(("www-authenticate", WWW_AUTHENTICATE),))


class Receiver:
    """One receiver's credentials and the rules; thread-safe (no state)."""

    def __init__(self, username: str, password: str) -> None:
        if ":" in username:
            # Basic Auth's user-id ends at the first colon (RFC 7617 §2): never matchable
            raise ValueError("a username cannot hold a colon (Basic Auth splits at it)")
        # RFC 7617: a user-id and password are UTF-8, in NFC (as `ecom replay` sends them).
        # Both sides are normalised, so "ä" typed as one code point or as two still matches.
        self._username = _nfc(username.encode("utf-8"))
        self._password = _nfc(password.encode("utf-8"))

    def receive(self, headers: Headers, body: bytes) -> Answer:
        """What to answer to one request. Never raises."""
        try:
            pairs = _header_pairs(headers)
            if len(body) > MAX_BODY:
                return failure(413, f"body over {MAX_BODY} bytes")
            return self.refusal(pairs) or self._accept(pairs, bytes(body))
        except Exception as error:  # noqa: BLE001 - a bug here must not stop the server
            return failure(500, f"internal error in the receiver: {type(error).__name__}")

    def refusal(self, headers: Headers) -> Answer | None:
        """The 401 for a request without the right credentials, from its headers alone;
        None when they are right. Never raises."""
        try:
            return None if self.authorized(_header_pairs(headers)) else unauthorized()
        except Exception:  # noqa: BLE001 - refused, not a 500: nothing a client sends is
            return unauthorized()

    def accept(self, headers: Headers, body: bytes) -> Answer:
        """What to answer to a request whose credentials ``refusal`` accepted. Never raises."""
        try:
            return self._accept(_header_pairs(headers), bytes(body))
        except Exception as error:  # noqa: BLE001 - a bug here must not stop the server
            return failure(500, f"internal error in the receiver: {type(error).__name__}")

    # -- steps ----------------------------------------------------------------------------------
    def _accept(self, headers: list[tuple[str, bytes]], body: bytes) -> Answer:
        if len(body) > MAX_BODY:
            return failure(413, f"body over {MAX_BODY} bytes")
        data, unreadable = _parse(body)
        if unreadable:
            return failure(400, unreadable, data)
        unstorable = _not_text(data)
        if unstorable:
            return failure(400, "invalid push: " + "; ".join(unstorable), data)
        verdict = rules.check(data)
        if not verdict.valid:
            reason = "invalid push: " + "; ".join(
                f"{p.field}: {p.message}" if p.field else p.message for p in verdict.problems)
            return failure(400, reason, data)
        assert isinstance(data, dict)  # check() refuses anything else
        number = str(data["status_update_number"])
        push = Push(
            body=body,
            headers=redact(headers),
            awb=str(data["awb"]),
            datetime=str(data["datetime"]),
            status_update_number=number,
            reason_code_number=str(data["reason_code_number"]),
            warnings=[f"{p.field}: {p.message}" if p.field else p.message
                      for p in verdict.warnings],
        )
        document = {"awb": data["awb"], "status": True,
                    "status_update_number": answer_number(data["status_update_number"])}
        return Answer(200, document, push=push, awb=push.awb,
                      reason_code=str(data.get("reason_code", "")))

    def authorized(self, headers: list[tuple[str, bytes]]) -> bool:
        """Basic Auth, or the ``username`` and ``password`` headers; constant-time compares.

        Both forms are always evaluated and the comparisons are not short-circuited, so the
        answer's timing does not tell which part of which form was wrong.
        """
        basic = self._basic_matches(_last(headers, "authorization"))
        user = _last(headers, "username")
        password = _last(headers, "password")
        by_headers = user is not None and password is not None
        header_ok = (hmac.compare_digest(_nfc(user or b""), self._username)
                     & hmac.compare_digest(_nfc(password or b""), self._password))
        return basic | (by_headers & header_ok)

    def _basic_matches(self, value: bytes | None) -> bool:
        scheme, _, token = (value or b"").strip().partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, colon, password = decoded.partition(b":")
        return bool(colon) & hmac.compare_digest(_nfc(user), self._username) & (
            hmac.compare_digest(_nfc(password), self._password))


# -- helpers ------------------------------------------------------------------------------------
def _nfc(value: bytes) -> bytes:
    """Credentials as UTF-8 in Unicode NFC (RFC 7617 §2.1). Bytes that are not UTF-8 are read
    as ISO-8859-1, which is what Python's requests and http.client send for a ``str``
    password, and what HTTP header bytes meant before UTF-8 (RFC 7230 §3.2.4)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")


def _header_pairs(headers: Headers) -> list[tuple[str, bytes]]:
    """(lower-case name, raw value bytes) from ASGI's byte pairs or a str mapping (the
    sandbox's http.server decodes header bytes as Latin-1, so encoding back restores them)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = []
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, str):
            try:
                value = value.encode("latin-1")
            except UnicodeEncodeError:
                value = value.encode("utf-8", "surrogateescape")
        pairs.append((str(name).lower(), bytes(value)))
    return pairs


def _last(headers: list[tuple[str, bytes]], name: str) -> bytes | None:
    found = None
    for key, value in headers:
        if key == name:
            found = value.strip()
    return found


def redact(headers: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """Headers as stored: every one whose name looks like a credential (``SECRET_HEADER``)
    replaced, the others as text (Latin-1, as HTTP has it)."""
    return [(name, REDACTED if SECRET_HEADER.search(name) else value.decode("latin-1"))
            for name, value in headers]


def _not_text(data: object) -> list[str]:
    """What in a parsed body cannot be stored as text or written back as strict JSON, named
    by field: a lone surrogate (a ``\\ud800`` escape, legal JSON syntax but not Unicode, which
    SQLite's UTF-8 and every UTF-8 encoder refuse) in any key or string, or a number JSON
    cannot hold (NaN, Infinity, 1e999). At most 5 named; iterative (the depth is bounded by
    ``nesting``, the breadth is not)."""
    problems: list[str] = []
    stack: list[tuple[str, object]] = [("", data)]
    while stack and len(problems) < 5:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in reversed(value.items()):  # popped in the body's order
                name = f"{path}.{_shown(key)}" if path else _shown(key)
                stack.append((name, item))
                if _SURROGATE.search(key):
                    stack.append((name, _BAD_KEY))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
        elif value is _BAD_KEY:
            problems.append(f"{path}: the key holds a lone surrogate, which is not text")
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                problems.append(f"{path or 'body'}: holds a lone surrogate"
                                f" ({_shown(_SURROGATE.search(value).group())}), which is not"
                                " text")
        elif isinstance(value, float) and not math.isfinite(value):
            what = ("NaN is not a JSON number" if math.isnan(value) else
                    "a number too large for any JSON reader (it reads as infinity)")
            problems.append(f"{path or 'body'}: {what}")
    return problems


def _shown(text: str, limit: int = 60) -> str:
    """A key or value as a reason may quote it: surrogates as ``\\udXXX``, cut."""
    return printable(text[:limit])


def _clean(value: object) -> object:
    """An echoed value made strict JSON: lone surrogates → U+FFFD, NaN/infinite → None."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _parse(body: bytes) -> tuple[object, str | None]:
    """(the JSON document, None) or (None, why it is unreadable)."""
    if not body.strip():
        return None, "empty body: expected the push as a JSON object"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"body is not UTF-8 (byte {error.start})"
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM is how some tools write UTF-8; the bytes stay as received
    try:
        return nesting.loads(text), None
    except nesting.TooDeep as error:
        return None, f"body is not a push: {error}"
    except ValueError as error:  # json.JSONDecodeError; huge integers too
        where = ""
        if isinstance(error, json.JSONDecodeError):
            where = f" at line {error.lineno} column {error.colno}"
            error = error.msg  # type: ignore[assignment]
        return None, f"body is not JSON: {error}{where}"


def _echo(data: object) -> tuple[Any, Any, str]:
    """(awb, status_update_number, reason_code) as the body has them, for a failure answer."""
    if not isinstance(data, dict):
        return None, None, ""
    awb = data.get("awb")
    if not isinstance(awb, (str, int)) or isinstance(awb, bool):
        awb = None
    elif isinstance(awb, str):
        awb = _clean(awb[:_ECHO_MAX])
    code = data.get("reason_code")
    code = _clean(code[:_ECHO_MAX]) if isinstance(code, str) else ""
    return awb, data.get("status_update_number"), code
