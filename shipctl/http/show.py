"""Printing requests and responses: the dry run (``--dry-run``) and the wire log (``--debug``).

Both print the real ``PreparedRequest`` — the object the session sends, with the session's
headers and requests' Content-Length in it — with secrets masked (``redact``),
the way ``http --offline`` prints what it would send. Nothing here re-derives what requests
adds, so the dry run cannot drift from the run.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from shipctl import secrets
from shipctl.http.options import Call, HttpOptions
from shipctl.http.redact import (
    body_text,
    dump,
    mask_body,
    mask_fields,
    parse_body,
    redact_header,
    redact_text,
    redact_url,
    render_body,
)
from shipctl.http.session import make_session, prepare

# The wire log shows at most this much of a response body: --debug is for reading an exchange
# on a terminal, and an error page or a bulk answer of several megabytes would bury the lines
# around it (and every item's log) without telling the reader more than its first screenful.
LOG_BODY_LIMIT = 2048


# -- dry run --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _dry_run_session() -> requests.Session:
    # Built like a run's session, so it adds the same headers; it never sends anything.
    return make_session(HttpOptions())


def prepared_for_show(call: Call) -> requests.PreparedRequest:
    """What a run's session would send for ``call``.

    A call requests refuses to prepare (a malformed URL, a line break in a header value) is
    still shown, as given plus the session's headers: the run reports it item by item, and
    the dry run is where the user looks to see why.
    """
    session = _dry_run_session()
    try:
        return prepare(session, call)
    except (requests.RequestException, ValueError):
        request = requests.PreparedRequest()
        request.method = call.method.upper()
        request.url = call.url
        request.headers = CaseInsensitiveDict({**session.headers, **call.headers})
        request.prepare_body(call.body, None)
        return request


def describe(call: Call, *, show_secrets: bool) -> dict[str, Any]:
    """The request as a JSON-able dict (``--dry-run -o json``): method, url, headers, body."""
    prepared = prepared_for_show(call)
    keys = call.secret_keys
    kind, value = parse_body(prepared.body, prepared.headers.get("Content-Type", ""))
    url = prepared.url or call.url
    result = {
        "method": prepared.method,
        "url": url if show_secrets else redact_url(url, keys),
        "headers": {
            name: (val if show_secrets else redact_header(name, val, keys))
            for name, val in prepared.headers.items()
        },
        "body": render_body(kind, value, keys, show_secrets=show_secrets),
    }
    return result if show_secrets else secrets.redact_strings(result)


def format_call(call: Call, *, show_secrets: bool) -> str:
    """The exact request as text, httpie ``--offline`` style, for ``--dry-run`` output."""
    prepared = prepared_for_show(call)
    keys = call.secret_keys
    url = prepared.url or call.url
    if not show_secrets:
        url = redact_url(url, keys)
    lines = _request_line(prepared, url)
    for name, value in prepared.headers.items():
        shown = value if show_secrets else redact_header(name, value, keys)
        lines.append(f"{name}: {shown}")
    body = prepared.body
    kind, value = parse_body(body, prepared.headers.get("Content-Type", ""))
    if kind == "none":
        pass
    elif show_secrets:
        lines += ["", body_text(body)]  # the bytes as sent (Content-Length counts them)
    elif kind == "json":
        # Re-encoded the way the body was, so only the masked values differ from what is sent.
        masked = render_body(kind, value, keys, show_secrets=False)
        lines += ["", _encode_like(masked, body)]
    else:
        lines += ["", render_body(kind, value, keys, show_secrets=False)]
    text = "\n".join(lines) + "\n"
    return text if show_secrets else secrets.redact(text)


# -- dry run, exactly ----------------------------------------------------------------------
# What the bulk runner's --dry-run prints (``shipctl.runner``): the request as sent, with only
# the secrets masked *where they are* — headers by name (Authorization…), the body's secret
# fields (``Call.secret_keys``: the provider's list), a URL's password — and never as a
# substring of another value, so every other byte of the body is the byte sent.


def _request_line(prepared: requests.PreparedRequest, url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    except ValueError:
        host, target = "", url
    return [f"{prepared.method} {target} HTTP/1.1", f"Host: {host}"]


def exact_text(call: Call, *, show_secrets: bool) -> str:
    """The request as text, httpie ``--offline`` style: the body's bytes as sent (decoded
    as UTF-8), but for the values of its secret fields."""
    prepared = prepared_for_show(call)
    keys = call.secret_keys
    url = prepared.url or call.url
    if not show_secrets:
        url = redact_url(url, keys, registered=False)
    lines = _request_line(prepared, url)
    for name, value in prepared.headers.items():
        lines.append(f"{name}: {value if show_secrets else redact_header(name, value, keys)}")
    if prepared.body not in (None, b"", ""):
        content_type = prepared.headers.get("Content-Type", "")
        lines += ["", body_text(prepared.body) if show_secrets
                  else mask_body(prepared.body, content_type, keys)]
    return "\n".join(lines) + "\n"


def exact_record(call: Call, *, show_secrets: bool) -> dict[str, Any]:
    """The request as a JSON-able dict (``--dry-run -o json``): method, url, headers and the
    body parsed, its decimals as ``Decimal`` (``shipctl.plainjson`` writes their digits)."""
    from decimal import Decimal

    from shipctl import nesting

    prepared = prepared_for_show(call)
    keys = call.secret_keys
    url = prepared.url or call.url
    headers = {name: (value if show_secrets else redact_header(name, value, keys))
               for name, value in prepared.headers.items()}
    kind, body = parse_body(prepared.body, prepared.headers.get("Content-Type", ""))
    if kind == "json":  # again, keeping every decimal's digits
        body = nesting.loads(body_text(prepared.body).lstrip("\ufeff"), parse_float=Decimal)
        if _holds_float(body):
            # NaN or Infinity (every other number is a Decimal or an int here): Python's json
            # reads and writes them, no other JSON reader does; shown as the text sent, so
            # the document printed stays JSON.
            kind = "text"
        elif not show_secrets:
            body = mask_fields(body, keys)
    if kind not in ("json", "none"):
        content_type = prepared.headers.get("Content-Type", "")
        body = body_text(prepared.body) if show_secrets else mask_body(
            prepared.body, content_type, keys)
    return {"method": prepared.method,
            "url": url if show_secrets else redact_url(url, keys, registered=False),
            "headers": headers, "body": body}


def _holds_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_float(v) for v in value)
    return isinstance(value, float)


# The ways our clients encode JSON bodies: compact with ensure_ascii=False is
# shipctl.ewe.client.encode's (EWE modifyShipment); json.dumps' defaults are the others'.
_JSON_STYLES: tuple[dict[str, Any], ...] = (
    {"separators": (",", ":"), "ensure_ascii": False},
    {"separators": (",", ":"), "ensure_ascii": True},
    {"separators": (", ", ": "), "ensure_ascii": False},
    {"separators": (", ", ": "), "ensure_ascii": True},
    {"indent": 2, "ensure_ascii": False},
    {"indent": 2, "ensure_ascii": True},
)
_NO_VALUE = object()


def _encode_like(redacted: Any, body: bytes | str | None) -> str:
    """``redacted`` as JSON text in the style that reproduces ``body`` from its parsed value."""
    original = body_text(body)
    try:
        value = json.loads(original)
    except (ValueError, RecursionError):
        value = _NO_VALUE
    style: dict[str, Any] = _JSON_STYLES[0]
    if value is not _NO_VALUE:
        for candidate in _JSON_STYLES:
            try:
                if json.dumps(value, **candidate) == original:
                    style = candidate
                    break
            except (ValueError, RecursionError):
                break
    try:
        return json.dumps(redacted, **style)
    except (ValueError, RecursionError):  # unreachable for parsed JSON; belt and braces
        return str(redacted)


# -- wire log -------------------------------------------------------------------------------


def request_dump(prepared: requests.PreparedRequest, call: Call) -> str:
    keys = call.secret_keys
    lines = [f"> {prepared.method} {redact_url(prepared.url or call.url, keys)}"]
    for name, value in prepared.headers.items():
        lines.append(f"> {name}: {redact_header(name, value, keys)}")
    kind, value = parse_body(prepared.body, prepared.headers.get("Content-Type", ""))
    if kind != "none":
        body = dump(render_body(kind, value, keys, show_secrets=False))
        lines.append(">")
        lines += [f"> {line}" for line in body.splitlines()]
    return secrets.redact("\n".join(lines))


def response_dump(response: requests.Response, call: Call, *, with_body: bool = True) -> str:
    """The answer as ``<`` lines, redacted; ``with_body=False``: status and headers only (an
    answer whose body was not read: too slow or too large)."""
    keys = call.secret_keys
    lines = [f"< {response.status_code} {response.reason or ''}".rstrip()]
    for name, value in response.headers.items():
        lines.append(f"< {name}: {redact_header(name, value, keys)}")
    if not with_body:
        return secrets.redact("\n".join(lines))
    content = response.content or b""
    kind, value = parse_body(content, response.headers.get("Content-Type", ""))
    if kind != "none":
        # Responses carry secrets too (an OAuth token answer's access_token): redact the keys
        # on the whole body first, then cut it to size.
        body = dump(render_body(kind, value, keys, show_secrets=False))
        if len(body) > LOG_BODY_LIMIT:
            body = (
                redact_text(body[:LOG_BODY_LIMIT], keys)
                + f"… (truncated; {len(content)} bytes in all)"
            )
        lines.append("<")
        lines += [f"< {line}" for line in body.splitlines()]
    return secrets.redact("\n".join(lines))
