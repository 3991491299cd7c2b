"""The one HTTP layer of every sending command: session, retries, redaction, dry-run printing.

docs/conventions.md, HTTP behaviour: TLS verification always on (``--ca-bundle`` adds a CA),
a connect timeout and ``--timeout`` for each whole answer, answers read up to 1 MiB, retries
with exponential back-off and full jitter on connection errors, timeouts, HTTP
429/502/503/504 and API-level "temporarily unavailable" answers, ``Retry-After`` honoured,
never a retry of a definite rejection, new credentials once after a 401; ``User-Agent:
shipctl/<version>``; a warning for credentials over plain ``http://``. Secrets never appear in
what we print unless ``--show-secrets``.

By job, each module importing only ones before it in this list and never this
``__init__`` (so there is no import cycle): ``redact`` (masking), ``options`` (what callers
pass and get back), ``answer`` (reading an answer within --timeout and 1 MiB), ``session``
(the requests session and the prepared request), ``failure`` (a plain line for a request
that got no answer), ``show`` (dry run, wire log), ``retry`` (the retry policy and the send
loop). Only sending commands import this package (never the CLI at start-up), so requests is
imported at the top.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from shipctl.http import retry as _retry
from shipctl.http.answer import ANSWER_LIMIT
from shipctl.http.failure import describe_error
from shipctl.http.options import (
    TIMEOUT_MAX,
    USER_AGENT,
    Auth,
    Call,
    Delivery,
    HttpOptions,
    check_options,
)
from shipctl.http.redact import DEFAULT_SECRET_KEYS, SECRET_HEADERS
from shipctl.http.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from shipctl.http.session import make_session, warn_plain_http
from shipctl.http.show import LOG_BODY_LIMIT, describe, format_call
from shipctl.loopback import is_loopback

__all__ = [
    "ANSWER_LIMIT",
    "DEFAULT_SECRET_KEYS",
    "LOG_BODY_LIMIT",
    "RETRY_STATUSES",
    "SECRET_HEADERS",
    "TIMEOUT_MAX",
    "USER_AGENT",
    "Auth",
    "Call",
    "Delivery",
    "HttpOptions",
    "RetryPolicy",
    "check_options",
    "describe",
    "describe_error",
    "format_call",
    "is_loopback",
    "make_session",
    "parse_retry_after",
    "send",
    "sleep",
    "warn_plain_http",
]

# The sleep between attempts, looked up at call time so tests can replace it
# (monkeypatch.setattr(shipctl.http, "sleep", fake)) and never wait for real.
sleep: Callable[[float], None] = time.sleep


def send(
    session: requests.Session,
    call: Call,
    options: HttpOptions,
    *,
    transient: Callable[[requests.Response], str | None] | None = None,
    auth: Auth | None = None,
    log: Callable[[str], None] | None = None,
) -> Delivery:
    """Send ``call``, retrying what is worth retrying; never raises for network trouble.

    ``transient(response)`` returns a reason when an otherwise final answer means "try again
    later" at the API level (EWE code 2); it is not consulted for 429/502/503/504, and a
    ValueError from it (a body that is not JSON) counts as "not transient".
    ``options.pace`` (when set) is called before each retry, after the back-off wait; when it
    returns False the last attempt's result is returned as it is.
    ``options.debug``: each request, response, error and back-off goes to ``log``, redacted.
    Thread-safe: each call has its own retry state, the session's pool is shared.
    """
    return _retry.send(session, call, options, transient=transient, auth=auth, log=log,
                       sleep=lambda seconds: sleep(seconds))
