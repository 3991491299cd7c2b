"""Sending one provider's jobs with a run's credentials, and settling what may have applied.

The bulk engine's ``send`` (``shipctl.runner``) and a single-request command's
(``shipctl.single``) go through ``Sender``: one request (the HTTP layer retries it and renews
the credentials once after a 401: ``shipctl.http.RetryPolicy``), what its answer means (the
provider's ``outcome``), and for a provider that is not idempotent, a lost answer verified
before anything is sent again.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from shipctl.batch.vocabulary import Verdict

if TYPE_CHECKING:
    from shipctl.app import Application
    from shipctl.batch import Job, Outcome
    from shipctl.http import Auth, Call, Delivery
    from shipctl.single import RequestProvider


class Sender:
    """Sends a provider's jobs with the run's credentials: the bulk engine's ``send``, and a
    single-request command's way to send its one job.

    For a provider that is not idempotent, a job that may have been applied is verified
    (``BulkProvider.verify``): applied → succeeded; not applied → sent again (at most
    ``--retries`` times); cannot tell → UNKNOWN. Thread-safe: the engine's workers share it.
    """

    def __init__(self, app: Application, provider: RequestProvider, auth: Auth, http_options: Any,
                 *, jobs: int = 1, refusals: list[Outcome] | None = None,
                 resend_unknown: bool = False) -> None:
        from shipctl import http

        self.provider = provider
        self.auth = auth
        self.http_options = http_options
        self.refusals = refusals if refusals is not None else []
        self.resend_unknown = resend_unknown
        self.session = http.make_session(http_options, pool_size=max(jobs, 1))
        http.warn_plain_http(provider.url, sends_credentials=True, warn=app.out.warn)
        self.log = app.out.info if app.debug else None

    def deliver(self, call: Call) -> Delivery:
        """``call`` sent with the run's credentials (renewed once after a 401). A ShipctlError
        when there are none to send with (the token endpoint refuses or is down)."""
        from shipctl import http

        return http.send(self.session, call, self.http_options,
                         transient=self.provider.transient, auth=self.auth, log=self.log)

    def once(self, job: Job) -> Outcome:
        """One job sent (with its retries), and what the answer means."""
        from shipctl import batch
        from shipctl.errors import ShipctlError

        try:
            delivery = self.deliver(self.call(job))
        except ShipctlError as error:
            # No credentials to send with (a token endpoint that now refuses or is down):
            # every other job would meet the same, so stop as a refused credential does,
            # rather than record the rest as failures that were never sent.
            return batch.Outcome(False, f"not sent: {error}", attempts=0, fatal=True)
        if delivery.refused is not None:
            return batch.Outcome(False, "answered HTTP 401, and new credentials were refused:"
                                 f" {delivery.refused}", attempts=delivery.attempts,
                                 fatal=True, code=401)
        return self.judge(job, delivery)

    def call(self, job: Job) -> Call:
        """The provider's call for ``job``; never idempotent when the provider is not."""
        call = self.provider.call(job)
        if call.idempotent and not self.provider.idempotent:  # the provider's word counts
            call = dataclasses.replace(call, idempotent=False)
        return call

    def judge(self, job: Job, delivery: Delivery) -> Outcome:
        """What ``delivery`` of ``job`` means, before any verification."""
        from shipctl import batch

        if delivery.ambiguous:
            return self.lost(delivery, delivery.attempts)
        if delivery.response is None:
            return batch.Outcome(False, delivery.error or "not delivered",
                                 attempts=delivery.attempts)
        outcome = self.provider.outcome(delivery.response, job)
        outcome.attempts = delivery.attempts
        outcome.detail = {"http_status": delivery.response.status_code, **(outcome.detail or {})}
        if outcome.check:
            self.refusals.append(outcome)  # list.append is atomic: workers share it safely
        return outcome

    def lost(self, delivery: Any, attempts: int) -> Outcome:
        """Sent (or maybe), and no answer says whether it was applied: never "not delivered",
        and not sent again before it is verified."""
        from shipctl import batch

        what = delivery.error or f"HTTP {delivery.response.status_code}"
        return batch.Outcome(
            False, f"sent; {what}: {self.provider.api or 'the API'} may have applied it",
            code=None if delivery.response is None else delivery.response.status_code,
            attempts=attempts, unknown=True)

    def read(self, call: Call) -> Any:
        """A request that only reads, with the run's credentials: for ``verify``."""
        from shipctl import http
        from shipctl.errors import ShipctlError

        try:
            delivery = self.deliver(call)
        except ShipctlError as error:
            return http.Delivery(None, 0, f"cannot read it back: {error}", 0.0)
        if delivery.refused is not None:
            raise delivery.refused  # ``check`` says it could not verify, and why
        return delivery

    def check(self, job: Job, found: dict[str, Any]) -> Verdict:
        from shipctl import secrets

        try:
            verdict = self.provider.verify(job, self.read)
        except Exception as exc:  # noqa: BLE001 - a bug in verify must not cost the item
            verdict = Verdict(None, secrets.redact(f"could not verify ({exc})"))
        found.update(verdict.parts or {})
        return verdict

    def send(self, job: Job) -> Outcome:
        """The engine's ``send``: a job's outcome, verified where it has to be."""
        from shipctl import batch

        notes: list[str] = []
        found: dict[str, Any] = {}  # the parts settled before the last answer (verified)
        previous = job.previous_parts
        if previous:
            done = [p for p in job.parts if previous.get(p) == batch.SUCCEEDED]
            if done:
                left = [p for p in job.parts if p not in done]
                shown = ", ".join(job.parts[p] for p in done)
                if not left:
                    return batch.Outcome(True, f"{shown}: already succeeded (journal); not sent"
                                         " again", attempts=0)
                notes.append(f"left out {shown}: already succeeded (journal)")
                job = self.provider.only(job, left)
        if self.provider.idempotent:
            outcome = self.once(job)
        else:
            outcome = self._verified(job, notes, found)
        return self._finish(outcome, notes, found)

    def settle(self, job: Job, outcome: Outcome) -> Outcome:
        """``outcome`` of sending ``job`` is unknown (it may have been applied): verify,
        and send again what did not move, as ``send`` does after a lost answer."""
        notes: list[str] = []
        found: dict[str, Any] = {}
        return self._finish(self._until_settled(job, outcome, notes, found), notes, found)

    @staticmethod
    def _finish(outcome: Outcome, notes: list[str], found: dict[str, Any]) -> Outcome:
        if found or outcome.parts:
            # what was read back is newer than the answer's "not in the answer"
            outcome.parts = {**(outcome.parts or {}), **found}
        if notes:
            outcome.message = "; ".join([*notes, outcome.message])
        return outcome

    def _verified(self, job: Job, notes: list[str], found: dict[str, Any]) -> Outcome:
        from shipctl import batch

        unknown_before = job.previous == batch.UNKNOWN or batch.UNKNOWN in (
            job.previous_parts.get(p) for p in job.parts)
        if unknown_before and not self.resend_unknown:
            # an earlier run sent it and never learnt whether it was applied: look first
            verdict = self.check(job, found)
            if verdict.applied:
                return batch.Outcome(True, f"applied in an earlier run (verified: "
                                     f"{verdict.reason}); not sent again", attempts=0)
            if verdict.applied is None:
                return batch.Outcome(
                    False, f"unknown since an earlier run and still not verifiable "
                    f"({verdict.reason}); not sent (--resend-unknown sends it anyway)",
                    attempts=0, unknown=True)
            notes.append(f"verified not applied in an earlier run ({verdict.reason})")
            job = verdict.rest or job
        return self._until_settled(job, self.once(job), notes, found)

    def _unsettled(self, job: Job, outcome: Outcome, found: dict[str, Any]) -> Job:
        """``job`` without the parts the answer says succeeded (a shipment Fynd answered ok
        for): only the others are read back, and sent again if they did not move. Such a
        part is never judged by a read, which may trail the write and show nothing moved."""
        from shipctl import batch

        answered = {part: result for part, result in (outcome.parts or {}).items()
                    if part in job.parts and result.status == batch.SUCCEEDED}
        if not answered or len(answered) == len(job.parts):
            return job
        found.update(answered)
        return self.provider.only(job, [p for p in job.parts if p not in answered])

    def _until_settled(self, job: Job, outcome: Outcome, notes: list[str],
                       found: dict[str, Any]) -> Outcome:
        from shipctl import batch

        attempts = outcome.attempts
        rounds = max(0, self.http_options.retries)
        while outcome.unknown:
            job = self._unsettled(job, outcome, found)
            verdict = self.check(job, found)
            if verdict.applied:
                return batch.Outcome(True, f"applied (verified after: {outcome.message}:"
                                     f" {verdict.reason})", code=outcome.code,
                                     attempts=attempts, detail=outcome.detail)
            if verdict.applied is None:
                outcome.message += f"; could not verify: {verdict.reason}"
                return outcome
            if rounds == 0:  # verified not applied, and no attempt left: a plain failure
                return batch.Outcome(False, f"not applied (verified after: {outcome.message}:"
                                     f" {verdict.reason})", code=outcome.code,
                                     attempts=attempts)
            rounds -= 1
            notes.append(f"{outcome.message}; verified not applied ({verdict.reason}),"
                         " sent again")
            job = verdict.rest or job  # not applied: safe to send (what did not move) again
            outcome = self.once(job)
            attempts += outcome.attempts
            outcome.attempts = attempts
        return outcome
