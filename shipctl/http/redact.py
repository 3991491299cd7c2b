"""Masking credentials in what we print: headers, URLs, JSON / form / text bodies
(docs/conventions.md, Configuration).

Two layers, both always applied to logs and error messages unless ``--show-secrets``: values
under secret *names* (an ``Authorization`` header, a ``digest`` JSON key, an ``access_token``
query parameter) are masked wherever they sit, and every value registered with
``shipctl.secrets`` is masked wherever it appears. ``--dry-run`` shows the request exactly and
uses only the first layer (``mask_body``, ``redact_url(registered=False)``): with the password
``123456``, the e-mail ``123456@gmail.com`` is data, not a secret. Functions take the call's
``secret_keys`` (the body keys it marks secret) rather than the call, so this module depends on
nothing else in the package.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from shipctl import nesting, secrets

DEFAULT_SECRET_KEYS = frozenset({"digest", "password", "client_secret", "access_token", "token"})

# Header names whose values are credentials whatever the API (compared lower-case).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "password",
        "x-password",
        "client-secret",
        "x-client-secret",
    }
)
_SECRET_HEADER_WORDS = ("password", "secret", "token", "api-key", "apikey")

# Bodies larger than this are not parsed for redaction; the regex fallback still applies.
_PARSE_LIMIT = 4 * 1024 * 1024


@functools.lru_cache(maxsize=32)
def lower_keys(secret_keys: frozenset[str]) -> frozenset[str]:
    return frozenset(k.lower() for k in secret_keys)


@functools.lru_cache(maxsize=32)
def _header_keys(secret_keys: frozenset[str]) -> frozenset[str]:
    # A body key "client_secret" also names the header "Client-Secret".
    return frozenset(k.lower().replace("_", "-") for k in secret_keys)


def _is_secret_header(name: str, secret_keys: frozenset[str]) -> bool:
    lowered = name.lower()
    if lowered in SECRET_HEADERS or any(w in lowered for w in _SECRET_HEADER_WORDS):
        return True
    return lowered.replace("_", "-") in _header_keys(secret_keys)


def redact_header(name: str, value: str, secret_keys: frozenset[str]) -> str:
    if not _is_secret_header(name, secret_keys):
        return value
    if name.lower() in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        if credentials:  # keep the scheme: "Basic ********" tells the reader which auth
            return f"{scheme} {secrets.MASK}"
    return secrets.MASK


def redact_url(url: str, secret_keys: frozenset[str], *, registered: bool = True) -> str:
    """The URL with a ``user:password@`` password, secret query parameters and (unless
    ``registered=False``) registered secrets masked. Compared decoded: requests
    percent-encodes a URL it prepares, and a registered ``p^ss`` must not survive as
    ``p%5Ess``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # unparseable: still hide a user:password@ part
        return re.sub(r"(//[^/:@]*:)[^/@]*@", rf"\g<1>{secrets.MASK}@", url)
    keys = lower_keys(secret_keys)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{secrets.MASK}@{hostport}" if colon else netloc
    path = parts.path
    if registered and _has_registered_secret(unquote(path)):
        path = quote(secrets.redact(unquote(path)), safe="/")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)

        def hidden(key: str, value: str) -> bool:
            return key.lower() in keys or (registered and _has_registered_secret(value))

        def shown(key: str) -> str:
            return secrets.redact(key) if registered else key

        if any(hidden(k, v) or (registered and _has_registered_secret(k)) for k, v in pairs):
            query = "&".join(
                f"{quote(shown(k), safe='')}="
                + (secrets.MASK if hidden(k, v) else quote(v, safe=""))
                for k, v in pairs
            )
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _has_registered_secret(text: str) -> bool:
    return secrets.redact(text) != text


def _redact_json(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            secrets.redact(k): (
                secrets.MASK if k.lower() in keys and v not in (None, "") else _redact_json(v, keys)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(v, keys) for v in value]
    if isinstance(value, str):
        # Before json.dumps escapes it: a registered secret with a quote or backslash in it
        # would no longer match once escaped.
        return secrets.redact(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # A numeric password ("123456") sent as a JSON number.
        return secrets.MASK if secrets.redact(str(value)) != str(value) else value
    return value


@functools.lru_cache(maxsize=32)
def _key_pattern(keys: frozenset[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) or "(?!)"
    # "key": "value" in text that is not valid JSON (truncated, JSON-ish, logged dicts).
    return re.compile(
        rf"""(["']?(?<![\w-])(?i:{names})["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,&;}}\]]+)"""
    )


def redact_text(text: str, secret_keys: frozenset[str]) -> str:
    """``key: value`` / ``key=value`` pairs under secret keys masked in free text."""

    def mask(match: re.Match[str]) -> str:
        quote_char = match.group(2)[:1] if match.group(2)[:1] in ("'", '"') else ""
        return match.group(1) + quote_char + secrets.MASK + quote_char

    return _key_pattern(lower_keys(secret_keys)).sub(mask, text)


def body_text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return bytes(body).decode("utf-8", errors="replace")


def parse_body(body: bytes | str | None, content_type: str) -> tuple[str, Any]:
    """("json", value) / ("form", pairs) / ("text", str) / ("none", None)."""
    if body is None or body in (b"", ""):
        return "none", None
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    if len(raw) <= _PARSE_LIMIT:
        try:
            return "json", nesting.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            pass
        if "x-www-form-urlencoded" in content_type.lower():
            try:
                return "form", parse_qsl(raw.decode("ascii"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                pass
    return "text", body_text(raw)


def render_body(kind: str, value: Any, secret_keys: frozenset[str], *, show_secrets: bool) -> Any:
    """A parsed body (``parse_body``) for printing: (redacted) JSON value, or text."""
    keys = lower_keys(secret_keys)
    if kind == "none":
        return None
    if kind == "json":
        return value if show_secrets else _redact_json(value, keys)
    if kind == "form":
        return "&".join(
            f"{quote(k, safe='')}="
            + (secrets.MASK if (k.lower() in keys and not show_secrets) else quote(v, safe=""))
            for k, v in value
        )
    return value if show_secrets else redact_text(value, secret_keys)


# -- by field only (--dry-run) ------------------------------------------------------------------
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_COLON = re.compile(r"\s*:\s*")
# a JSON number, or a string; what a secret field's value is, when it is not an object or list
_JSON_SCALAR = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*', re.DOTALL)


def _masked(value: Any) -> bool:
    """Is this a value a secret field holds (not null, not empty, not an object or list)?"""
    return not (value is None or value == "" or isinstance(value, (bool, dict, list)))


def mask_fields(value: Any, secret_keys: frozenset[str]) -> Any:
    """A parsed JSON value with the values of secret fields masked, at any depth: by name
    only; every other value as it is."""
    keys = lower_keys(secret_keys)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (secrets.MASK if isinstance(k, str) and k.lower() in keys and _masked(v)
                        else walk(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)


def mask_json_text(text: str, secret_keys: frozenset[str]) -> str:
    """Valid JSON ``text`` exactly as it is, but for the values of its secret fields, each
    replaced by ``"********"`` where it stands: the spacing, the order, the escapes and the
    digits of every other value stay the bytes that are sent."""
    keys = lower_keys(secret_keys)
    parts: list[str] = []
    done = 0
    # Strings found from the left in valid JSON are its string tokens: no other token holds a
    # quote. A name is a string followed by a colon.
    for token in _JSON_STRING.finditer(text):
        if token.start() < done:
            continue  # the masked value itself
        colon = _COLON.match(text, token.end())
        if colon is None:
            continue
        if json.loads(token.group()).lower() not in keys:
            continue
        value = _JSON_SCALAR.match(text, colon.end())
        if value is None or value.group() == '""':
            continue
        parts += [text[done:value.start()], f'"{secrets.MASK}"']
        done = value.end()
    return "".join(parts) + text[done:]


def mask_form_text(text: str, secret_keys: frozenset[str]) -> str:
    """A form body as it is, but for the values of its secret fields."""
    keys = lower_keys(secret_keys)
    pairs = text.split("&")
    for n, pair in enumerate(pairs):
        name, equals, value = pair.partition("=")
        if equals and value and unquote(name.replace("+", " ")).lower() in keys:
            pairs[n] = f"{name}={secrets.MASK}"
    return "&".join(pairs)


def mask_body(body: bytes | str | None, content_type: str,
              secret_keys: frozenset[str]) -> str:
    """The body as text, as sent, with only its secret fields masked (``--dry-run``)."""
    kind, _value = parse_body(body, content_type)
    text = body_text(body)
    if kind == "json":
        return mask_json_text(text, secret_keys)
    if kind == "form":
        return mask_form_text(text, secret_keys)
    if kind == "none":
        return ""
    return redact_text(text, secret_keys)  # ``key: value`` pairs in text: by name as well


def dump(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # unreachable for parsed JSON; belt and braces
        return str(value)
