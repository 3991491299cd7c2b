"""`shipctl fynd transition`: one updateShipmentStatus request built from flags, sent once.

The body comes from the flags (``shipctl.fynd.body``); sending it is the single-request
contract's (``shipctl.single``: dry run, credentials renewed once after a 401, an answer that
leaves a shipment out settled as `fynd apply` settles it) with `fynd apply`'s provider
(``shipctl.fynd.apply.UpdateShipmentStatus``). What is here is Fynd's and the person's: the
question before a cancellation, and each shipment's result line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl.errors import ExitCode, ShipctlError
from shipctl.output import visible

if TYPE_CHECKING:
    from shipctl.app import Application
    from shipctl.batch import Job, Outcome
    from shipctl.http import Delivery


def _job(body: dict[str, Any]) -> Job:
    """The transition as the bulk vocabulary's one job: each shipment a part of it."""
    from shipctl import batch
    from shipctl.fynd import models
    from shipctl.fynd.apply import part_id

    identifiers = models.identifiers(body)
    return batch.Job(id="fynd transition", keys=tuple(dict.fromkeys(identifiers)),
                     label=" ".join(identifiers), where="fynd transition", payload=body,
                     parts={part_id("fynd transition", i): i for i in identifiers})


def run(app: Application, flags: Any, *, timeout: float, retries: int,
        ca_bundle: Path | None, dry_run: bool) -> int:
    from shipctl import http, single
    from shipctl.fynd import client, credentials, models
    from shipctl.fynd.apply import UpdateShipmentStatus
    from shipctl.fynd.body import checked_body

    out = app.out
    options = single.http_options(app, timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    body = checked_body(app, flags)
    provider = UpdateShipmentStatus(force=flags.force)
    job = _job(body)
    if dry_run:
        return _dry_run(app, provider, job)

    from shipctl.fynd.move import confirmed

    config = credentials.settings(app)
    url = client.status_url(config.url, config.company_id)
    if not flags.yes and not confirmed(app, body):
        return _declined(app, url)
    http.warn_plain_http(url, sends_credentials=True, warn=out.warn)  # before the secret goes
    auth = single.connect(app, provider, options)  # the token: Ctrl-C up to here sent nothing
    try:
        sent = single.send(app, provider, auth, job, options)
    except KeyboardInterrupt:
        # Ctrl-C on a transition that hangs: it went out and may have been applied; running
        # it again at once could move the units twice.
        ids = list(dict.fromkeys(models.identifiers(body)))
        look = ", ".join(f"`shipctl fynd show {i}`" for i in ids[:3])
        out.info(visible(
            "the transition was sent and its answer not read: Fynd may have applied it;"
            f" look ({look}{', …' if len(ids) > 3 else ''}) before sending it again"))
        raise
    if sent.settled:
        return _say_settled(app, url, sent.outcome)
    return _say_answer(app, body, url, sent.delivery)


def _dry_run(app: Application, provider: Any, job: Job) -> int:
    """The request exactly as it would be sent (as `fynd apply --dry-run` prints each one):
    no body field is a credential, the Authorization header is masked."""
    from shipctl import plainjson, single

    out = app.out
    request = single.dry_run(app, provider, job)
    if out.json_mode:
        out.stdout.write(plainjson.dumps(request, indent=2) + "\n")
    else:
        out.stdout.write(request + "\n")
        out.info("dry run: nothing was sent")
    return int(ExitCode.OK)


def _say_answer(app: Application, body: dict[str, Any], url: str,
                delivery: Delivery | None) -> int:
    """Fynd's answer, each shipment's line (or -o json's document); exit 1 if one failed."""
    from shipctl.fynd import client
    from shipctl.fynd.move import Move

    out = app.out
    response = delivery.response if delivery is not None else None
    if response is None:  # it never reached Fynd (refused, no connection…)
        message = f"not delivered: {(delivery and delivery.error) or 'no answer'}"
        if out.json_mode:  # the document on every outcome, as a script expects it
            out.write_json({"request": {"method": "PUT", "url": url}, "http_status": None,
                            "ok": False, "error": message, "shipments": [],
                            "exit_code": int(ExitCode.FAILED)})
            return int(ExitCode.FAILED)
        raise ShipctlError(message)
    answer = client.parse_answer(response.status_code, response.content)
    code = int(ExitCode.OK if answer.ok else ExitCode.FAILED)
    error = answer.error
    if error and answer.refused_credentials:
        error = client.token_refused(error)
    if out.json_mode:
        out.write_json({
            "request": {"method": "PUT", "url": url},
            "http_status": response.status_code,
            "ok": answer.ok,
            "error": error,
            "shipments": [s.record() for s in answer.shipments],
            "exit_code": code,
        })
        return code
    move = Move.of(body)
    for shipment in answer.shipments:
        out.print(move.line(shipment))
    if error:
        out.info(f"error: {error}")
    elif answer.failed:
        out.info(f"{len(answer.failed)} of {len(answer.shipments)} shipment(s) failed")
    return code


def _say_settled(app: Application, url: str, outcome: Outcome) -> int:
    """The transition was sent and no complete answer said whether each shipment moved: what
    reading them back decided (applied → ok; nothing moved → sent again; cannot tell →
    unknown, exit 1, never sent twice blindly)."""

    out = app.out
    code = int(ExitCode.OK if outcome.ok else ExitCode.FAILED)
    parts = outcome.parts or {}
    if out.json_mode:
        out.write_json({
            "request": {"method": "PUT", "url": url},
            "status": outcome.status,
            "ok": outcome.ok,
            "message": outcome.message,
            "shipments": [{"identifier": p.key, "status": p.status, "message": p.message}
                          for p in parts.values()],
            "exit_code": code,
        })
        return code
    for part in parts.values():
        out.print(visible(f"{part.key}  {part.status}  {part.message}"))
    if outcome.ok:
        out.info(visible(outcome.message))
    elif outcome.unknown:
        out.info(visible(f"unknown: {outcome.message}"))
        out.info("check each shipment with `shipctl fynd show SHIPMENT` before sending this"
                 " transition again: Fynd may have applied it")
    else:
        out.info(visible(f"error: {outcome.message}"))
    return code


def _declined(app: Application, url: str) -> int:
    """Declining is the user's choice, not a failure: exit 0, as rm -i does, saying so."""
    code = int(ExitCode.OK)
    if app.out.json_mode:
        app.out.write_json({"request": {"method": "PUT", "url": url}, "sent": False,
                            "declined": True, "shipments": [], "exit_code": code})
    app.out.info("declined: nothing was sent")
    return code
