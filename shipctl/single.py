"""The one way a single-request command sends (`fynd transition`, and any later one).

A bulk run and a single request share their vocabulary: the provider's hooks are those of a
bulk provider (``RequestProvider``: a subset of ``runner.BulkProvider``), the request is a
``batch.Job``, its result a ``batch.Outcome`` with the same ``unknown`` for "sent, and it may
have been applied". What differs is only that there is one job and a person waiting:

- ``connect`` is told of the run (``runner.RunContext``: dry run, HTTP options);
- ``dry_run`` prints the request as `--dry-run` of a bulk run prints each one
  (``runner.dry_run_request``);
- ``send`` sends it once with the run's credentials, renewed once after a 401 by the HTTP
  layer (``http.RetryPolicy``); refused credentials raise (exit 2) rather than become a
  record; an answer that does not account for everything is settled as a bulk run settles it
  (``sender.Sender``: read back, sent again only what did not move, else unknown);
- ``read`` is a request that only reads (a GET), with the same credentials.

This module knows nothing of a provider nor of the terminal: the command renders what it gets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.batch import Job, Outcome
    from shipctl.http import Auth, Call, Delivery, HttpOptions
    from shipctl.runner import RunContext, Verdict


class RequestProvider(Protocol):
    """The hooks a single-request command's provider supplies (as a bulk provider does)."""

    api: str
    url: str  # set by connect()
    secret_fields: tuple[str, ...] | None
    idempotent: bool

    def connect(self, app: Application, run: RunContext) -> Auth: ...

    def call(self, job: Job) -> Call: ...

    def transient(self, response: requests.Response) -> str | None: ...

    def outcome(self, response: requests.Response, job: Job) -> Outcome: ...

    def only(self, job: Job, parts: list[str]) -> Job: ...

    def verify(self, job: Job, read: Callable[[Call], Any]) -> Verdict: ...


class Sent(NamedTuple):
    """What came of sending the one job."""

    outcome: Outcome
    # the answer as it came, when it accounts for the whole job (the command may show more of
    # it than the outcome holds); None when there was none, or it was settled by reading back
    delivery: Delivery | None
    settled: bool  # the answer did not account for everything: read back and decided


def dry_run(app: Application, provider: RequestProvider, job: Job) -> Any:
    """The request ``job`` would be, as ``--dry-run`` shows it: ``provider`` is connected for
    a dry run (``RunContext(dry_run=True)``: nothing is fetched or sent); the record
    (``-o json``) or the text comes back for the command to write."""
    from shipctl.runner import dry_run_request

    auth = provider.connect(app, _dry())
    return dry_run_request(app.out, provider, auth.preview(), job)


def _dry() -> RunContext:
    from shipctl.runner import RunContext

    return RunContext(dry_run=True)


def send(app: Application, provider: RequestProvider, auth: Auth, job: Job,
         options: HttpOptions) -> Sent:
    """Send ``job`` once (its retries and one renewal of the credentials after a 401 are the
    HTTP layer's) and say what came of it. A ShipctlError when the credentials are refused."""
    from shipctl import batch
    from shipctl.sender import Sender

    sender = Sender(app, provider, auth, options)
    delivery = sender.deliver(sender.call(job))
    if delivery.refused is not None:
        raise delivery.refused  # the cached token was stale and the credentials are wrong
    outcome = sender.judge(job, delivery)
    unaccounted = outcome.unknown or any(part.status == batch.UNKNOWN
                                         for part in (outcome.parts or {}).values())
    if not unaccounted:
        return Sent(outcome, delivery, settled=False)
    return Sent(sender.settle(job, outcome), None, settled=True)


def http_options(app: Application, *, timeout: float, retries: int, ca_bundle: Any
                 ) -> HttpOptions:
    """A single request's HTTP options from its flags: a usage error (exit 2) for values no
    request could be sent with, before anything is read or sent."""
    from shipctl import http

    options = http.HttpOptions(timeout=timeout, retries=retries, ca_bundle=ca_bundle,
                               debug=app.debug)
    http.check_options(options)
    return options


def connect(app: Application, provider: RequestProvider, options: HttpOptions) -> Auth:
    """``provider`` connected for sending: its URL and credentials (a token is fetched now)."""
    from shipctl.runner import RunContext

    return provider.connect(app, RunContext(http=options))


def read(app: Application, call: Call, auth: Auth, options: HttpOptions) -> requests.Response:
    """The answer to a request that only reads, with ``auth``'s credentials (renewed once
    after a 401); a ShipctlError when none came or the credentials are refused."""
    from shipctl import http
    from shipctl.errors import ShipctlError

    session = http.make_session(options, pool_size=1)
    http.warn_plain_http(call.url, sends_credentials=True, warn=app.out.warn)
    delivery = http.send(session, call, options, auth=auth,
                         log=app.out.info if app.debug else None)
    if delivery.refused is not None:
        raise delivery.refused
    if delivery.response is None:
        raise ShipctlError(f"not delivered: {delivery.error or 'no answer'}")
    return delivery.response
