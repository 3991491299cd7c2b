"""The one HTTP layer of every sending command: session, retries, redaction, dry-run printing.

SPEC §2 "HTTP behaviour": TLS verification always on (``--ca-bundle`` adds a CA), connect/read
timeouts, retries with exponential back-off and full jitter on connection errors, timeouts,
HTTP 429/502/503/504 and API-level "temporarily unavailable" answers, ``Retry-After`` honoured,
never a retry of a definite rejection; ``User-Agent: shipctl/<version>``; a warning for
credentials over plain ``http://``. SPEC §3: secrets never appear in what we print unless
``--show-secrets``.

Only sending commands import this module (never the CLI at start-up), so requests and tenacity
are imported at the top.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_random_exponential

from shipctl import __version__, nesting, secrets
from shipctl.errors import UsageError

USER_AGENT = f"shipctl/{__version__}"

# Answers that say "not now" rather than "no" (SPEC §2): rate limited, or a gateway/upstream
# that is down for the moment. Every other status (other 4xx, 500, 501...) is definite.
RETRY_STATUSES = frozenset({429, 502, 503, 504})

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

# The wire log shows at most this much of a response body: --debug is for reading an exchange
# on a terminal, and an error page or a bulk answer of several megabytes would bury the lines
# around it (and every item's log) without telling the reader more than its first screenful.
LOG_BODY_LIMIT = 2048
# Bodies larger than this are not parsed for redaction; the regex fallback still applies.
_PARSE_LIMIT = 4 * 1024 * 1024

# The sleep tenacity uses between attempts, looked up at call time so tests can replace it
# (monkeypatch.setattr(shipctl.http, "sleep", fake)) and never wait for real.
sleep: Callable[[float], None] = time.sleep


@dataclass
class HttpOptions:
    timeout: float = 30.0  # read timeout, --timeout
    connect_timeout: float = 10.0
    retries: int = 3  # --retries: attempts after the first
    ca_bundle: Path | None = None  # --ca-bundle: a CA added to certifi's
    backoff_base: float = 0.25  # first back-off is up to this long, then doubling
    backoff_max: float = 20.0
    retry_after_max: float = 60.0  # a server's Retry-After is honoured up to this long
    debug: bool = False  # --debug: wire logs (redacted) through send(log=...)
    # Called before each retry attempt, after its back-off wait: blocks until the request may
    # start (the bulk engine's --rate pacer: shipctl.batch.Pacer.wait). False = stop requested:
    # give up and return the last result. The first attempt is the caller's to pace.
    pace: Callable[[], bool] | None = None


# The longest --timeout accepted. Larger values overflow the platform's time_t in the socket
# layer (1e12 s raises OverflowError in urllib3), and no answer is worth waiting a day for.
TIMEOUT_MAX = 86400.0


def check_options(options: HttpOptions) -> None:
    """UsageError for settings no request could be sent with (before anything is sent).

    Without this, ``--timeout 0`` made every item fail with requests' "Invalid timeout"
    ValueError, reported as if the URL were wrong.
    """
    timeouts = (("--timeout", options.timeout), ("connect timeout", options.connect_timeout))
    for flag, value in timeouts:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 < value <= TIMEOUT_MAX
        ):
            shown = f"{value:g}" if isinstance(value, (int, float)) else repr(value)
            raise UsageError(
                f"{flag} {shown}: must be a number of seconds more than 0 "
                f"and at most {TIMEOUT_MAX:g}"
            )
    if isinstance(options.retries, bool) or not isinstance(options.retries, int) or (
        options.retries < 0
    ):
        raise UsageError(f"--retries {options.retries}: must be 0 or more")


@dataclass
class Call:
    """One request as the caller built it (before the session adds its defaults)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # JSON (or form) body keys whose values are masked when the call is printed or logged.
    secret_keys: frozenset[str] = DEFAULT_SECRET_KEYS


@dataclass
class Delivery:
    """The outcome of ``send``: the last attempt's response, or why there was none.

    Exactly one of ``response`` and ``error`` is set: ``response`` is the final response
    received (a 503 when retries ran out on 503s), ``error`` a one-line plain message when the
    last attempt got no response at all.
    """

    response: requests.Response | None
    attempts: int
    error: str | None
    elapsed: float  # seconds, back-off waits included


# -- session --------------------------------------------------------------------------------


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # With no session auth, requests would apply ~/.netrc credentials and overwrite the
    # Authorization header the caller built from the profile (SPEC §3 precedence).
    return request


def make_session(options: HttpOptions, *, pool_size: int = 10) -> requests.Session:
    """A session for one run: our User-Agent, TLS verification on, a pool for ``--jobs``.

    Raises UsageError when ``options`` cannot work (``check_options``) or the CA bundle is
    unusable: the caller makes the session before sending anything.
    """
    check_options(options)
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.auth = _no_netrc
    # max_retries=0: the retry loop in send() is the only one, so attempts are counted,
    # logged and paced in one place (urllib3's own retries would hide them).
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if options.ca_bundle is not None:
        path = _combined_ca_bundle(Path(options.ca_bundle))
        session.verify = path
        # The combined file lives as long as the session (or the process) and no longer.
        weakref.finalize(session, _unlink_quietly, path)
    else:
        session.verify = True
    return session


def _default_ca_file() -> str:
    """The CA file requests uses without --ca-bundle: REQUESTS_CA_BUNDLE, else certifi's."""
    import certifi

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests' own order
        value = os.environ.get(name)
        if value and os.path.isfile(value):
            return value
    return certifi.where()


def _combined_ca_bundle(user_file: Path) -> str:
    """The default CAs plus the user's, in a private temp file: SPEC says --ca-bundle *adds*."""
    name = f"--ca-bundle {user_file}"
    try:
        data = user_file.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory, not a PEM file") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    problem = None
    if "-----BEGIN CERTIFICATE-----" not in text:
        problem = "no PEM certificate in it"
    else:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=text)
        except (ssl.SSLError, ValueError) as exc:
            problem = f"not a valid PEM certificate ({getattr(exc, 'reason', None) or exc})"
    if problem:
        raise UsageError(
            f"{name}: {problem}",
            hint="give a PEM file (-----BEGIN CERTIFICATE-----); convert DER with "
            "`openssl x509 -inform der -in FILE -out FILE.pem`",
        )
    base = Path(_default_ca_file()).read_text(encoding="utf-8", errors="replace")
    fd, path = tempfile.mkstemp(prefix="shipctl-ca-", suffix=".pem")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(base.rstrip("\n") + "\n\n# --ca-bundle " + str(user_file) + "\n")
        handle.write(text.rstrip("\n") + "\n")
    return path


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- sending --------------------------------------------------------------------------------


@dataclass
class _Attempt:
    response: requests.Response | None = None
    error: str | None = None
    retry_reason: str | None = None  # None: final (success or definite failure)
    retry_after: float | None = None


def send(
    session: requests.Session,
    call: Call,
    options: HttpOptions,
    *,
    transient: Callable[[requests.Response], str | None] | None = None,
    log: Callable[[str], None] | None = None,
) -> Delivery:
    """Send ``call``, retrying what is worth retrying; never raises for network trouble.

    ``transient(response)`` returns a reason when an otherwise final answer means "try again
    later" at the API level (EWE code 2); it is not consulted for 429/502/503/504, and a
    ValueError from it (a body that is not JSON) counts as "not transient".
    ``options.pace`` (when set) is called before each retry, after the back-off wait; when it
    returns False the last attempt's result is returned as it is.
    Thread-safe: each call has its own retry state, the session's pool is shared.
    """
    wire_log = log if options.debug else None
    started = time.monotonic()
    attempts = 0

    def attempt() -> _Attempt:
        nonlocal attempts
        attempts += 1
        result = _attempt_once(session, call, options, wire_log)
        if result.response is not None and result.retry_reason is None and transient:
            try:
                result.retry_reason = transient(result.response)
            except ValueError:  # e.g. an HTML error page where JSON was expected: not "later"
                result.retry_reason = None
        return result

    # Most requests succeed at once: only build the retry machinery when the first attempt
    # asks for it (tenacity's per-call set-up is a measurable share of a bulk run's CPU).
    first = attempt()
    if first.retry_reason is None or options.retries <= 0:
        return Delivery(
            response=first.response,
            attempts=attempts,
            error=None if first.response is not None else first.error,
            elapsed=time.monotonic() - started,
        )
    pending = [first]
    last = [first]

    def attempt_after_first() -> _Attempt:
        if pending:
            return pending.pop()
        # SPEC §2 --rate counts every request: a retry takes a slot from the run's pacer too.
        if options.pace is not None and not options.pace():
            # Stop requested (Ctrl-C): the last answer stands, marked final so tenacity stops.
            if wire_log is not None:
                wire_log("not retrying: the run is stopping")
            return _Attempt(response=last[0].response, error=last[0].error)
        last[0] = attempt()
        return last[0]

    jitter = wait_random_exponential(multiplier=options.backoff_base, max=options.backoff_max)

    def wait(state: RetryCallState) -> float:
        seconds = jitter(state)
        retry_after = state.outcome.result().retry_after if state.outcome else None
        if retry_after is not None:
            # "at least that long": the server knows when it will be back; capped so a
            # hostile or mistaken header cannot park a cron job for hours.
            seconds = max(seconds, min(retry_after, options.retry_after_max))
        return seconds

    def before_sleep(state: RetryCallState) -> None:
        if wire_log is None or state.outcome is None or state.next_action is None:
            return
        reason = state.outcome.result().retry_reason
        wire_log(secrets.redact(f"retrying in {state.next_action.sleep:.1f} s ({reason})"))

    retrying = Retrying(
        sleep=_sleep,
        stop=stop_after_attempt(max(0, options.retries) + 1),
        wait=wait,
        retry=lambda state: (
            state.outcome is not None
            and not state.outcome.failed
            and state.outcome.result().retry_reason is not None
        ),
        before_sleep=before_sleep,
        # Out of attempts: hand back the last attempt as it is (its 503, or its error).
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    final: _Attempt = retrying(attempt_after_first)
    return Delivery(
        response=final.response,
        attempts=attempts,
        error=None if final.response is not None else final.error,
        elapsed=time.monotonic() - started,
    )


_TEMPLATES_MAX = 64


def _prepare(session: requests.Session, call: Call) -> requests.PreparedRequest:
    """The prepared request for ``call``: a copy of a cached template with the body swapped.

    Session.prepare_request merges session headers, cookies and hooks through generic
    machinery that costs ~0.2 ms of CPU a request; a bulk run sends thousands of requests
    that differ only in their body, so that work is done once per method, URL and headers.
    """
    if len(session.cookies):  # a server set cookies: they must ride along, so no template
        return session.prepare_request(
            requests.Request(call.method, call.url, headers=call.headers, data=call.body)
        )
    templates: dict[Any, requests.PreparedRequest] = session.__dict__.setdefault(
        "_shipctl_templates", {}
    )
    key = (call.method, call.url, tuple(sorted(call.headers.items())), call.body is None)
    template = templates.get(key)
    if template is None:
        if len(templates) >= _TEMPLATES_MAX:
            templates.clear()
        template = session.prepare_request(
            requests.Request(call.method, call.url, headers=call.headers,
                             data=None if call.body is None else b"-")
        )
        templates[key] = template
    prepared = template.copy()
    if call.body is not None:
        prepared.body = call.body
        prepared.headers["Content-Length"] = str(len(call.body))
    return prepared


def _environment_settings(session: requests.Session, url: str) -> dict[str, Any]:
    """Proxies and CA settings from the environment, worked out once per origin.

    requests re-reads every environment variable twice per request to find proxies
    (~0.3 ms of CPU each time); a bulk run talks to one origin, so the answer is cached.
    verify=session.verify: otherwise REQUESTS_CA_BUNDLE would replace the --ca-bundle file
    (requests lets the environment outrank the session's own setting).
    """
    cache: dict[tuple[str, str], dict[str, Any]] = session.__dict__.setdefault(
        "_shipctl_environment", {}
    )
    origin = urlsplit(url)[:2]
    settings = cache.get(origin)
    if settings is None:
        settings = session.merge_environment_settings(url, {}, None, session.verify, None)
        cache[origin] = settings
    return settings


def _sleep(seconds: float) -> None:
    sleep(seconds)


def _attempt_once(
    session: requests.Session,
    call: Call,
    options: HttpOptions,
    wire_log: Callable[[str], None] | None,
) -> _Attempt:
    try:
        prepared = _prepare(session, call)
    except (requests.RequestException, ValueError) as exc:  # a bad URL or header value
        return _Attempt(error=secrets.redact(describe_error(exc, _redact_url(call.url, call),
                                                             options)))
    if wire_log is not None:
        wire_log(_request_dump(prepared, call))
    settings = _environment_settings(session, prepared.url or call.url)
    try:
        response = session.send(
            prepared,
            timeout=(options.connect_timeout, options.timeout),
            # A redirect of a POST would silently turn into a GET without the body (301/302)
            # or resend credentials elsewhere: the caller sees the 3xx instead.
            allow_redirects=False,
            **settings,
        )
    except (requests.RequestException, ValueError, OverflowError) as exc:
        # ValueError: http.client's URL checks, or a timeout requests refuses (check_options
        # keeps those out; describe_error never calls them a URL problem). OverflowError: a
        # timeout too large for the socket layer.
        message = secrets.redact(describe_error(exc, _redact_url(call.url, call), options))
        if wire_log is not None:
            wire_log(f"! {message}")
        # Timeouts are retried too, although the server may have acted on the request: every
        # send is an idempotent "set" operation. modifyShipment writes the same addresses
        # again; a Fynd transition repeated after it took effect leaves the bag in the same
        # state (at worst answered "Invalid State Transition"); an Ecom push repeats the same
        # status_update_number, which identifies the scan (`ecom listen` dedupes on it).
        # TLS problems and malformed URLs are definite: retrying cannot change them.
        retriable = isinstance(
            exc,
            (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError),
        ) and not isinstance(exc, requests.exceptions.SSLError)
        return _Attempt(error=message, retry_reason=message if retriable else None)
    if wire_log is not None:
        wire_log(_response_dump(response, call))
    if response.status_code in RETRY_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        reason = f"HTTP {response.status_code}"
        if retry_after is not None:
            reason += f", Retry-After {retry_after:g} s"
        return _Attempt(response=response, retry_reason=reason, retry_after=retry_after)
    return _Attempt(response=response)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110: delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # HTTP-dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def describe_error(exc: BaseException, url: str, options: HttpOptions) -> str:
    """One plain line for a request that got no response: no traceback, no object reprs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port: int | str = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"invalid URL {url}"
    where = f"{host}:{port}"
    if isinstance(exc, (ValueError, OverflowError)) and _is_timeout_error(exc):
        return (
            f"invalid timeout (connect {options.connect_timeout:g} s, read {options.timeout:g} s):"
            f" each must be more than 0 and at most {TIMEOUT_MAX:g} s"
        )
    chain = _exception_chain(exc)

    def find(kind: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kind)), None)

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection to {where} timed out after {options.connect_timeout:g} s"
    if isinstance(exc, requests.Timeout):
        return f"timed out after {options.timeout:g} s waiting for {where} to answer"
    if isinstance(exc, requests.exceptions.SSLError):
        verify = find(ssl.SSLCertVerificationError)
        if verify is not None:
            detail = getattr(verify, "verify_message", None) or "certificate verify failed"
            return (
                f"TLS certificate verification failed for {where}: {detail}"
                " (--ca-bundle FILE adds a CA)"
            )
        ssl_error = find(ssl.SSLError)
        detail = getattr(ssl_error, "reason", None) or "handshake failed"
        return f"TLS error with {where}: {str(detail).lower().replace('_', ' ')}"
    if find(ConnectionRefusedError) is not None:
        return f"connection refused by {where}"
    # Before ConnectionResetError: RemoteDisconnected is a subclass of it.
    if find(http.client.RemoteDisconnected) is not None:
        return f"connection closed by {where} without a response"
    if find(ConnectionResetError) is not None:
        return f"connection reset by {where}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection to {where} broke off in the middle of the response"
    if find(socket.gaierror) is not None or "NameResolutionError" in {
        type(e).__name__ for e in chain
    }:
        return f"cannot resolve host name {host}"
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # requests' own message quotes the value, which may be a credential.
        return "invalid header value in the request (a line break or leading space in it?)"
    if isinstance(exc, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
        return f"invalid URL {url}: it must start with https:// (or http://)"
    if isinstance(exc, (requests.exceptions.InvalidURL, ValueError)):
        return f"invalid URL {url}"
    os_error = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if os_error is not None:
        return f"connection to {where} failed: {os_error.strerror.lower()}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection to {where} failed"
    return f"request to {where} failed ({type(exc).__name__})"


def _is_timeout_error(exc: BaseException) -> bool:
    """A timeout the libraries refused, not a URL: requests' "Invalid timeout (0, 30)...",
    urllib3's own checks, or the socket layer's overflow of a huge value."""
    if isinstance(exc, OverflowError):
        return True
    text = str(exc)
    return text.startswith(("Invalid timeout", "Timeout value", "Attempted to set"))


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes/contexts, and the urllib3 errors requests wraps in args."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 50:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        todo.extend(item.args)
    return seen


# -- redaction ------------------------------------------------------------------------------


def _is_secret_header(name: str, call: Call) -> bool:
    lowered = name.lower()
    if lowered in SECRET_HEADERS or any(w in lowered for w in _SECRET_HEADER_WORDS):
        return True
    keys = {k.lower().replace("_", "-") for k in call.secret_keys}
    return lowered.replace("_", "-") in keys


def _redact_header(name: str, value: str, call: Call) -> str:
    if not _is_secret_header(name, call):
        return value
    if name.lower() in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        if credentials:  # keep the scheme: "Basic ********" tells the reader which auth
            return f"{scheme} {secrets.MASK}"
    return secrets.MASK


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


def _redact_text(text: str, keys: frozenset[str]) -> str:
    def mask(match: re.Match[str]) -> str:
        quote_char = match.group(2)[:1] if match.group(2)[:1] in ("'", '"') else ""
        return match.group(1) + quote_char + secrets.MASK + quote_char

    return _key_pattern(keys).sub(mask, text)


def _redact_url(url: str, call: Call) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # unparseable: still hide a user:password@ part
        return re.sub(r"(//[^/:@]*:)[^/@]*@", rf"\g<1>{secrets.MASK}@", url)
    keys = _lower_keys(call)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{secrets.MASK}@{hostport}" if colon else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in keys for k, _ in pairs):
            query = "&".join(
                f"{quote(k, safe='')}="
                + (secrets.MASK if k.lower() in keys else quote(v, safe=""))
                for k, v in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _lower_keys(call: Call) -> frozenset[str]:
    return frozenset(k.lower() for k in call.secret_keys)


def _body_text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return bytes(body).decode("utf-8", errors="replace")


def _parse_body(body: bytes | str | None, content_type: str) -> tuple[str, Any]:
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
    return "text", _body_text(raw)


def _render_body(kind: str, value: Any, call: Call, *, show_secrets: bool) -> Any:
    """The body for printing: (redacted) JSON value, or text."""
    keys = _lower_keys(call)
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
    return value if show_secrets else _redact_text(value, keys)


def _dump(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # unreachable for parsed JSON; belt and braces
        return str(value)




# -- dry-run printing -----------------------------------------------------------------------


def _wire_headers(call: Call) -> CaseInsensitiveDict[str]:
    """The headers requests will send for ``call`` through ``make_session`` (Host aside)."""
    headers = requests.utils.default_headers()
    headers["User-Agent"] = USER_AGENT
    for name, value in call.headers.items():
        headers[str(name)] = str(value)
    if call.body is not None:
        headers["Content-Length"] = str(len(call.body))
    elif call.method.upper() not in ("GET", "HEAD"):
        headers["Content-Length"] = "0"  # requests sends it for a body-less POST/PUT/PATCH
    return headers


def describe(call: Call, *, show_secrets: bool) -> dict[str, Any]:
    """The request as a JSON-able dict (``--dry-run -o json``): method, url, headers, body."""
    headers = _wire_headers(call)
    kind, value = _parse_body(call.body, headers.get("Content-Type", ""))
    body = _render_body(kind, value, call, show_secrets=show_secrets)
    result = {
        "method": call.method.upper(),
        "url": call.url if show_secrets else _redact_url(call.url, call),
        "headers": {
            name: (val if show_secrets else _redact_header(name, val, call))
            for name, val in headers.items()
        },
        "body": body,
    }
    return result if show_secrets else secrets.redact_strings(result)


def format_call(call: Call, *, show_secrets: bool) -> str:
    """The exact request as text, httpie ``--offline`` style, for ``--dry-run`` output."""
    url = call.url if show_secrets else _redact_url(call.url, call)
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    except ValueError:
        host, target = "", url
    headers = _wire_headers(call)
    lines = [f"{call.method.upper()} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        shown = value if show_secrets else _redact_header(name, value, call)
        lines.append(f"{name}: {shown}")
    kind, value = _parse_body(call.body, headers.get("Content-Type", ""))
    if kind == "none":
        pass
    elif show_secrets:
        lines += ["", _body_text(call.body)]  # the bytes as sent (Content-Length counts them)
    elif kind == "json":
        # Re-encoded the way the body was, so only the masked values differ from what is sent.
        lines += ["", _encode_like(_render_body(kind, value, call, show_secrets=False), call.body)]
    else:
        lines += ["", _render_body(kind, value, call, show_secrets=False)]
    text = "\n".join(lines) + "\n"
    return text if show_secrets else secrets.redact(text)


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


def _encode_like(redacted: Any, body: bytes | str | None) -> str:
    """``redacted`` as JSON text in the style that reproduces ``body`` from its parsed value."""
    original = _body_text(body)
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


_NO_VALUE = object()


# -- wire log -------------------------------------------------------------------------------


def _request_dump(prepared: requests.PreparedRequest, call: Call) -> str:
    lines = [f"> {prepared.method} {_redact_url(prepared.url or call.url, call)}"]
    for name, value in prepared.headers.items():
        lines.append(f"> {name}: {_redact_header(name, value, call)}")
    kind, value = _parse_body(prepared.body, prepared.headers.get("Content-Type", ""))
    if kind != "none":
        body = _dump(_render_body(kind, value, call, show_secrets=False))
        lines.append(">")
        lines += [f"> {line}" for line in body.splitlines()]
    return secrets.redact("\n".join(lines))


def _response_dump(response: requests.Response, call: Call) -> str:
    lines = [f"< {response.status_code} {response.reason or ''}".rstrip()]
    for name, value in response.headers.items():
        lines.append(f"< {name}: {_redact_header(name, value, call)}")
    content = response.content or b""
    kind, value = _parse_body(content, response.headers.get("Content-Type", ""))
    if kind != "none":
        # Responses carry secrets too (an OAuth token answer's access_token): redact the keys
        # on the whole body first, then cut it to size.
        body = _dump(_render_body(kind, value, call, show_secrets=False))
        if len(body) > LOG_BODY_LIMIT:
            body = (
                _redact_text(body[:LOG_BODY_LIMIT], _lower_keys(call))
                + f"… (truncated; {len(content)} bytes in all)"
            )
        lines.append("<")
        lines += [f"< {line}" for line in body.splitlines()]
    return secrets.redact("\n".join(lines))


# -- plain http warning ---------------------------------------------------------------------

# Hosts already warned about in this process (SPEC §2: one warning, not one per item).
_warned_hosts: set[str] = set()
_warned_lock = threading.Lock()


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def warn_plain_http(url: str, *, sends_credentials: bool, warn: Callable[[str], None]) -> None:
    """Warn once per host when credentials would cross the network unencrypted."""
    if not sends_credentials:
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return
    if parts.scheme != "http" or not host or is_loopback(host):
        return
    with _warned_lock:
        if host in _warned_hosts:
            return
        _warned_hosts.add(host)
    warn(f"sending credentials over plain http:// to {host}; use https://")
