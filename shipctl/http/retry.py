"""Sending with retries (docs/conventions.md, HTTP behaviour): what is retried, how long to
wait, when to give up, and when a 401 is worth new credentials.

``RetryPolicy`` answers those questions and nothing else; ``send`` is the loop that asks it:
one attempt; after a 401, new credentials once and the request again at once; if the outcome
means "not now" and attempts are left, wait, take a pacer slot, try again. ``attempt`` is one
request and its wire log.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests

from shipctl import secrets
from shipctl.errors import ShipctlError
from shipctl.http.answer import read_answer
from shipctl.http.failure import describe_error, is_retriable, may_have_arrived
from shipctl.http.options import Auth, Call, Delivery, HttpOptions
from shipctl.http.redact import redact_url
from shipctl.http.session import environment_settings, prepare
from shipctl.http.show import request_dump, response_dump

# Answers that say "not now" rather than "no" (docs/conventions.md, HTTP behaviour): rate
# limited, or a gateway/upstream that is down for the moment. Every other status (other 4xx,
# 500, 501...) is definite.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Of those, the ones a gateway gives after it may have passed the request on (502 Bad
# Gateway, 504 Gateway Timeout: the upstream may have applied it and its answer was lost).
# For a call that is not idempotent they are not retried but returned as ambiguous; so is a
# 503 without Retry-After. 429, and a 503 that says when to come back, mean "not done".
AMBIGUOUS_STATUSES = frozenset({502, 503, 504})


@dataclass
class Attempt:
    """One request's outcome: a response, or the error line and exception of why none came."""

    response: requests.Response | None = None
    error: str | None = None
    exception: BaseException | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """What is retried, how long to wait, when to give up: the loop in ``send`` asks this
    object and nothing else.

    Retried (never a definite answer): no response because the connection failed, broke off
    or timed out (``shipctl.http.failure.is_retriable``); a status in RETRY_STATUSES; an
    answer the caller's ``transient`` predicate calls temporary (EWE code 2).
    Waits: exponential back-off with full jitter, at least a Retry-After (capped).
    Gives up after ``retries`` attempts after the first.
    Renews: a 401 to a request sent with ``auth``'s credentials, once per call; the request
    then goes again at once with the new ones, with its retries anew (a second 401 stands).
    """

    retries: int
    backoff_base: float
    backoff_max: float
    retry_after_max: float
    transient: Callable[[requests.Response], str | None] | None = None
    auth: Auth | None = None

    @classmethod
    def from_options(
        cls,
        options: HttpOptions,
        transient: Callable[[requests.Response], str | None] | None = None,
        auth: Auth | None = None,
    ) -> RetryPolicy:
        return cls(max(0, options.retries), options.backoff_base, options.backoff_max,
                   options.retry_after_max, transient, auth)

    def renews(self, result: Attempt, renewed: bool) -> bool:
        """Whether ``result`` asks for new credentials: a 401, not yet renewed for this call."""
        return (self.auth is not None and not renewed and result.response is not None
                and result.response.status_code == 401)

    def reason(self, result: Attempt, idempotent: bool = True) -> str | None:
        """Why ``result`` is worth another attempt (for the wire log), or None if it is final.

        Not ``idempotent``: an ambiguous result (``ambiguous``) is final, whatever it is."""
        if not idempotent and ambiguous(result):
            return None
        if result.response is None:
            retriable = result.exception is not None and is_retriable(result.exception)
            return result.error if retriable else None
        status = result.response.status_code
        if status in RETRY_STATUSES:
            retry_after = _retry_after(result.response)
            return f"HTTP {status}" + ("" if retry_after is None else
                                       f", Retry-After {retry_after:g} s")
        if self.transient is None:
            return None
        try:
            return self.transient(result.response)
        except ValueError:  # e.g. an HTML error page where JSON was expected: not "later"
            return None

    def gives_up(self, attempts: int) -> bool:
        return attempts > self.retries

    def wait(self, attempts: int, result: Attempt) -> float:
        """Seconds to wait after attempt number ``attempts`` (1 = the first) gave ``result``.

        Full jitter (uniform between 0 and a ceiling that doubles per attempt up to
        backoff_max) keeps the --jobs workers that hit the same 503 from coming back together.
        A Retry-After means "at least that long": the server knows when it will be back; it
        is capped so a hostile or mistaken header cannot park a cron job for hours.
        """
        # The exponent is capped so a large --retries cannot overflow a float.
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** min(attempts - 1, 64))
        seconds = random.uniform(0, max(0.0, ceiling))
        retry_after = _retry_after(result.response) if result.response is not None else None
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, self.retry_after_max))
        return seconds


def ambiguous(result: Attempt) -> bool:
    """The request may have been applied, and ``result`` does not say whether it was: no
    complete answer after it may have arrived, or a gateway's 502/504 (or a 503 without
    Retry-After) that may have passed it on."""
    if result.response is None:
        return result.exception is not None and may_have_arrived(result.exception)
    status = result.response.status_code
    if status in AMBIGUOUS_STATUSES:
        return status != 503 or _retry_after(result.response) is None
    return False


def _retry_after(response: requests.Response) -> float | None:
    if response.status_code not in RETRY_STATUSES:
        return None
    return parse_retry_after(response.headers.get("Retry-After"))


def send(
    session: requests.Session,
    call: Call,
    options: HttpOptions,
    *,
    transient: Callable[[requests.Response], str | None] | None = None,
    auth: Auth | None = None,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """``shipctl.http.send``: see its docstring; ``sleep`` waits out each back-off."""
    policy = RetryPolicy.from_options(options, transient, auth)
    wire_log = log if options.debug else None
    started = time.monotonic()
    headers = auth.headers() if auth is not None else {}
    sent = call.with_headers(headers)
    attempts = tries = 0
    renewed = False
    refused: Exception | None = None
    while True:
        attempts += 1
        tries += 1
        result = attempt(session, sent, options, wire_log)
        if policy.renews(result, renewed):
            renewed = True
            try:
                if auth is not None and auth.renew(headers):
                    headers = auth.headers()
                    sent, tries = call.with_headers(headers), 0
                    continue
            except ShipctlError as error:  # the credentials themselves were refused
                refused = error
            break
        reason = policy.reason(result, call.idempotent)
        if reason is None or policy.gives_up(tries):
            break
        seconds = policy.wait(tries, result)
        if wire_log is not None:
            wire_log(secrets.redact(f"retrying in {seconds:.1f} s ({reason})"))
        sleep(seconds)
        # --rate counts every request (docs/conventions.md, Bulk engine): a retry takes a slot
        # from the run's pacer too, once its back-off is over, so the slot is used at once.
        if options.pace is not None and not options.pace():
            if wire_log is not None:  # stop requested (Ctrl-C): the last answer stands
                wire_log("not retrying: the run is stopping")
            break
    return Delivery(
        response=result.response,
        attempts=attempts,
        error=None if result.response is not None else result.error,
        elapsed=time.monotonic() - started,
        ambiguous=not call.idempotent and ambiguous(result),
        refused=refused,
    )


def attempt(
    session: requests.Session,
    call: Call,
    options: HttpOptions,
    wire_log: Callable[[str], None] | None,
) -> Attempt:
    """One request, logged to ``wire_log`` (redacted) when it is set; never raises for a
    request that cannot be sent or gets no answer."""
    try:
        prepared = prepare(session, call)
    except (requests.RequestException, ValueError) as exc:  # a bad URL or header value
        return Attempt(error=_error_line(exc, call, options), exception=exc)
    if wire_log is not None:
        wire_log(request_dump(prepared, call))
    response = None
    try:
        response = session.send(
            prepared,
            # The read timeout bounds the whole answer (shipctl.http.answer), streamed (see
            # environment_settings) so that read_answer stops an endless one at 1 MiB.
            timeout=(options.connect_timeout, options.timeout),
            # A redirect of a POST would silently turn into a GET without the body (301/302)
            # or resend credentials elsewhere: the caller sees the 3xx instead.
            allow_redirects=False,
            **environment_settings(session, prepared.url or call.url),
        )
        read_answer(response)
    except (requests.RequestException, ValueError, OverflowError) as exc:
        # ValueError: http.client's URL checks, or a timeout requests refuses (check_options
        # keeps those out; describe_error never calls them a URL problem). OverflowError: a
        # timeout too large for the socket layer.
        message = _error_line(exc, call, options)
        if wire_log is not None:
            if response is not None:  # the headers came, the body did not (in time, or fit)
                wire_log(response_dump(response, call, with_body=False))
            wire_log(f"! {message}")
        return Attempt(error=message, exception=exc)
    if wire_log is not None:
        wire_log(response_dump(response, call))
    return Attempt(response=response)


def _error_line(exc: BaseException, call: Call, options: HttpOptions) -> str:
    url = redact_url(call.url, call.secret_keys)
    return secrets.redact(describe_error(exc, url, options))


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
