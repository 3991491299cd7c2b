"""`shipctl fynd apply`: Fynd's part of a bulk run (``shipctl.runner`` does the rest).

An item is an updateShipmentStatus body (``{"statuses": [...]}`` and the optional top-level
booleans), checked against the request model and sent as it is, one request per body. Its
ordering keys are the shipment identifiers it names (several per job): a later transition of
a shipment waits for the earlier one, and is ``blocked`` if that failed or was invalid (a
transition assumes the one before it happened). Requests carry the run's bearer token
(``shipctl.fynd.credentials.BearerAuth``): one token for the whole run, every worker included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from shipctl.runner import Auth, BulkProvider, RunContext, Verdict, Warn, field_errors

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.batch import Job, Outcome
    from shipctl.fynd.credentials import TokenSource
    from shipctl.http import Call
    from shipctl.inputs import Item


def company_placeholder(app: Application, company_id: str | None) -> str:
    """A dry run needs no credentials: without fynd.company_id its URL shows a placeholder."""
    if company_id:
        return company_id
    app.out.warn("fynd.company_id is not set: the URL shows COMPANY_ID in its place")
    return "COMPANY_ID"


class UpdateShipmentStatus(BulkProvider):
    api = "Fynd"
    command = "fynd apply"
    allow_csv = False
    invalid_blocks_keys = True  # a later transition assumes the earlier one happened
    secret_fields = ()  # the token travels in a header; no body field is a credential
    # A transition moves units: sent twice, a partial cancellation cancels twice as many.
    # Fynd has no idempotency key, so what may have been applied is read back (``verify``).
    idempotent = False
    read_delay = 2.0  # seconds before that read (see verify)

    def __init__(self, *, force: bool = False) -> None:
        self.force = force  # --force: states shipctl does not know are sent all the same
        self.config: Any = None
        self.tokens: TokenSource | None = None

    def connect(self, app: Application, run: RunContext) -> Auth:
        from shipctl import http
        from shipctl.fynd import client
        from shipctl.fynd.credentials import BearerAuth, settings, source

        if run.dry_run:
            self.config = settings(app, credentials=False, company=False)
            company = company_placeholder(app, self.config.company_id)
            self.url = client.status_url(self.config.url, company)
            return BearerAuth(None)
        self.config = settings(app)
        self.url = client.status_url(self.config.url, self.config.company_id)
        options = run.http or http.HttpOptions()
        self.tokens = source(self.config, options, log=app.out.info if app.debug else None)
        # Now, before any job: refused credentials stop the run here (exit 2), once.
        self.tokens.get()
        return BearerAuth(self.tokens)

    def jobs(self, items: Iterable[Item], warn: Warn) -> Iterator[Job]:
        from shipctl import batch
        from shipctl.fynd import models

        for item in items:
            checked = models.check(item.data, force=self.force)
            keys = tuple(dict.fromkeys(checked.identifiers))
            label = " ".join(keys) or "-"
            warnings = [f"{w.field}: {w.message}" if w.path else w.message
                        for w in checked.warnings]
            for w in checked.warnings:
                warn(f"{item.where(w.path)}: {w.message}")
            if checked.problems or checked.request is None:
                yield batch.Job(id=self._identity(item.data), keys=keys, label=label,
                                where=item.where(), payload=None,
                                problems=field_errors(item, checked.problems),
                                warnings=warnings)
                continue
            body_id = self._identity(checked.request)
            # Each shipment's move is journaled on its own: a re-run sends only the shipments
            # of a body that have not succeeded (a body names a shipment once at most).
            yield batch.Job(id=body_id, keys=keys, label=label, where=item.where(),
                            payload=checked.request, warnings=warnings,
                            parts={part_id(body_id, key): key for key in keys})

    def only(self, job: Job, parts: list[str]) -> Job:
        """The body with only the shipments of PARTS (a transition left with none goes)."""
        from shipctl import batch

        keep = {job.parts[part] for part in parts}
        body = dict(job.payload)
        statuses = []
        for transition in body.get("statuses") or []:
            shipments = [s for s in transition.get("shipments") or []
                         if isinstance(s, dict) and s.get("identifier") in keep]
            if shipments:
                statuses.append({**transition, "shipments": shipments})
        body["statuses"] = statuses
        narrowed = batch.Job(id=job.id, keys=job.keys, label=" ".join(sorted(keep)),
                             where=job.where, payload=body, warnings=job.warnings,
                             parts={part: job.parts[part] for part in parts})
        narrowed.previous, narrowed.previous_parts = job.previous, job.previous_parts
        return narrowed

    def verify(self, job: Job, read: Any) -> Verdict:
        """Read each shipment of the body back (Fynd's shipment details) and judge whether
        its transition shows (``shipctl.fynd.shipment.verify``, whose docstring has the
        rules). All applied: applied. None unknown and some not applied: those are sent
        again, alone. Any that cannot tell: unknown (a person looks: ``fynd show``)."""
        from shipctl import batch, http
        from shipctl.fynd import client, shipment

        body = job.payload
        # Fynd's reads may trail its writes (its answers carry a kafka_sync flag): a read at
        # once after a reset could show the shipment as it was before, and "nothing moved"
        # would then send the move twice. A moment's wait, only on this rare path.
        http.sleep(self.read_delay)
        applied, again, unsure = [], [], []
        parts: dict[str, Any] = {}
        reasons = []
        for part, identifier in job.parts.items():
            call = http.Call("GET", client.details_url(self.config.url,
                                                       str(self.config.company_id), identifier),
                             {"Accept": "application/json"})
            delivery = read(call)
            details = (delivery.error or "no answer" if delivery.response is None else
                       shipment.read_answer(delivery.response.status_code,
                                            delivery.response.content, identifier))
            verdict = shipment.verify_in_body(body, identifier, details)
            reasons.append(f"{identifier}: {verdict.reason}")
            if verdict.applied:
                applied.append(part)
                parts[part] = batch.Part(batch.SUCCEEDED, identifier,
                                         f"verified: {verdict.reason}")
            elif verdict.not_applied:
                again.append(part)
            else:
                unsure.append(part)
                parts[part] = batch.Part(batch.UNKNOWN, identifier, verdict.reason)
        reason = "; ".join(reasons)
        if unsure or not (applied or again):
            return Verdict(None, reason, parts=parts)
        if not again:
            return Verdict(True, reason, parts=parts)
        rest = self.only(job, again) if applied else job
        return Verdict(False, reason, rest=rest, parts=parts)

    def call(self, job: Job) -> Call:
        from shipctl import http
        from shipctl.fynd import client

        return http.Call("PUT", self.url, {"Content-Type": client.CONTENT_TYPE},
                         client.encode(job.payload), idempotent=False)

    def outcome(self, response: requests.Response, job: Job) -> Outcome:
        return outcome(response.status_code, response.content, job)

    def _identity(self, request: Any) -> str:
        """Journal identity: the same body to the same company, client and endpoint is the
        same item, so an edited body is a new one."""
        config = self.config
        canonical = json.dumps([self.url, config.company_id, config.client_id, request],
                               ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def part_id(body_id: str, identifier: str) -> str:
    """The journal's id for one shipment's move in one body."""
    return f"{body_id}/{identifier}"


def outcome(status: int, body: bytes, job: Job | None = None) -> Outcome:
    """An answer as a bulk record: failed if any shipment failed, even inside an HTTP 200;
    ``detail.shipments`` keeps each shipment's result and the server's own fields.

    Every shipment the body names must be answered for: one the answer leaves out may have
    been applied or not, so it is ``unknown`` (to be verified), never a success."""
    from shipctl import batch
    from shipctl.fynd import client

    answer = client.parse_answer(status, body)
    if answer.refused_credentials:
        return batch.Outcome(False, client.token_refused(answer.text()),
                             code=status, fatal=True, check=client.TOKEN_CHECK)
    detail = {"shipments": [s.record() for s in answer.shipments]} if answer.shipments else None
    # the code of a failure: the first failed shipment's status inside a 200, else HTTP's
    code = None if answer.ok else (answer.failed[0].status if answer.failed else status)
    # a 2xx answer that accounts for no shipment leaves every one of them out
    if job is None or not job.parts or (answer.error is not None and not answer.unread):
        return batch.Outcome(answer.ok, answer.text(), code=code, detail=detail)
    results: dict[str, Any] = {}
    for result in answer.shipments:  # a shipment answered twice: a failure stands
        if result.identifier not in results or not result.ok:
            results[result.identifier] = result
    parts: dict[str, Any] = {}
    missing = []
    for part, identifier in job.parts.items():
        result = results.get(identifier)
        if result is None:
            missing.append(identifier)
            parts[part] = batch.Part(batch.UNKNOWN, identifier, "not in Fynd's answer: Fynd"
                                     " may have applied it")
        else:
            parts[part] = batch.Part(batch.SUCCEEDED if result.ok else batch.FAILED,
                                     identifier, result.message or ("ok" if result.ok else
                                                                    "failed"))
    if not missing:
        return batch.Outcome(answer.ok, answer.text(), code=code, detail=detail, parts=parts)
    left_out = (f"sent; {answer.error}; it accounts for no shipment sent: Fynd may have"
                " applied them" if answer.unread else
                f"sent; Fynd's answer (HTTP {status}) leaves out shipment(s) "
                f"{', '.join(missing)}: Fynd may have applied them")
    if answer.failed:  # a definite failure: the missing ones are verified on a re-run
        return batch.Outcome(False, f"{answer.text()}; {left_out}", code=code, detail=detail,
                             parts=parts)
    return batch.Outcome(False, left_out, code=status, detail=detail, parts=parts, unknown=True)
