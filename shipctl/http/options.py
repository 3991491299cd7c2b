"""What a sending command hands the HTTP layer, and what it gets back.

Plain data with no requests import at run time, so every other module of the package can
depend on it without depending on one another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shipctl import __version__
from shipctl.errors import UsageError
from shipctl.http.redact import DEFAULT_SECRET_KEYS

if TYPE_CHECKING:
    import requests

USER_AGENT = f"shipctl/{__version__}"

# The longest --timeout accepted. Larger values overflow the platform's time_t in the socket
# layer (1e12 s raises OverflowError in urllib3), and no answer is worth waiting a day for.
TIMEOUT_MAX = 86400.0


@dataclass
class HttpOptions:
    timeout: float = 30.0  # --timeout: one attempt's whole answer, from sending to last byte
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
    # Sending it twice does what sending it once does (EWE's modifyShipment sets values; an
    # Ecom receiver dedupes by status_update_number; a GET reads). False (a Fynd transition,
    # which moves units): a request that may have reached the server is never sent again
    # blindly; ``send`` returns it as ``Delivery.ambiguous`` for the caller to verify.
    idempotent: bool = True

    def with_headers(self, headers: dict[str, str]) -> Call:
        """This call with ``headers`` added (credentials): itself when there are none."""
        if not headers:
            return self
        return dataclasses.replace(self, headers={**self.headers, **headers})


class Auth:
    """How a provider's requests say who sends them: one object per run, shared by every
    worker, so thread-safe. The default sends nothing extra (EWE signs the body itself).

    ``send`` asks it for the headers of a call and, after a 401, to renew them once
    (``RetryPolicy.renews``): no caller repeats that exchange."""

    def headers(self) -> dict[str, str]:
        """The headers to add to the next request (a bearer token, Basic auth…). A
        ShipctlError here (no token to be had) means nothing can be sent."""
        return {}

    def preview(self) -> dict[str, str]:
        """The headers ``--dry-run`` shows: like ``headers`` but fetching nothing (a token
        endpoint is not called for a dry run). They are masked when printed."""
        return self.headers()

    def renew(self, rejected: dict[str, str]) -> bool:
        """The API answered 401 to a request sent with ``rejected``: get fresh credentials
        (once for all workers: another may have renewed already) and say whether a retry
        can succeed. The request is then sent once more, and a second 401 stands. A
        ShipctlError here says the credentials themselves were refused."""
        return False


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
    # Only for a call that is not idempotent: the request was (or may have been) written and
    # no complete, definite answer came (a read timeout, a reset after sending, an answer cut
    # off or too large, a 502/504, a 503 without Retry-After): the server may have applied
    # it. Not retried; ``error`` (or the response's status) says what happened.
    ambiguous: bool = False
    # The API answered 401 and new credentials could not be had: why (the ShipctlError the
    # ``Auth`` raised). ``response`` is that 401.
    refused: Exception | None = None
