"""`shipctl ewe modify`: read items, validate each offline, send the valid ones in bulk.

Two passes over the input, so memory stays flat however large it is: the first only parses
(and, with --strict, validates) so that unreadable input stops the run before anything is sent
(exit 2); the second validates, builds each request and streams it into the bulk engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl.errors import InputError

if TYPE_CHECKING:
    from shipctl.app import Application
    from shipctl.batch import Job
    from shipctl.inputs import Item


@dataclass
class ModifyOptions:
    paths: list[str]
    recursive: bool = False
    jobs: int = 4
    rate: float | None = None
    journal: Path | None = None
    report: Path | None = None
    fail_fast: bool = False
    strict: bool = False
    shard: str | None = None
    timeout: float = 30.0
    retries: int = 3
    ca_bundle: Path | None = None
    content_type: str | None = None
    dry_run: bool = False


def run(app: Application, options: ModifyOptions) -> int:
    from shipctl import batch, inputs
    from shipctl.ewe import client, models

    out = app.out
    shard = batch.parse_shard(options.shard) if options.shard else None
    source = inputs.open_inputs(
        options.paths, recursive=options.recursive, allow_csv=True, warn=out.warn
    )
    postcodes = _postcodes(app)

    # Pass 1: everything must be readable before anything is sent (exit 2 otherwise).
    total = invalid = 0
    for item in source.items():
        total += 1
        if options.strict and models.check(item.data, postcodes=postcodes).problems:
            invalid += 1
    if total == 0:
        raise InputError("no items found in the input")

    credentials = client.Credentials(
        username=str(app.require("ewe.username")), password=str(app.require("ewe.password"))
    )
    url = client.endpoint(str(app.require("ewe.url")))
    from shipctl import secrets

    secrets.register(credentials.password)
    secrets.register(credentials.digest)
    context = _Context(app, credentials, url, postcodes, shard)

    if options.dry_run:
        return _dry_run(app, options, url, context.jobs(source.items()))

    bulk = batch.BulkOptions(
        jobs=options.jobs,
        rate=_rate(app, options),
        journal=options.journal,
        report=options.report,
        fail_fast=options.fail_fast,
        strict=options.strict,
        shard=shard,
        command="ewe modify",
    )
    if options.strict and invalid:
        # --strict: every item is reported (the valid ones as not_sent) and nothing is sent.
        hold = batch.strict_hold_reason(invalid, total)
        summary = batch.run(context.jobs(source.items()), _never_sent, bulk, out, total=total,
                            hold=hold)
        out.info(f"--strict: {invalid} invalid item(s); nothing was sent")
        return summary.exit_code()

    send = _sender(app, options, url)
    summary = batch.run(context.jobs(source.items()), send, bulk, out, total=total)
    return summary.exit_code()


class _Context:
    """Turns input items into bulk-engine jobs: validation, envelope, identity, shard."""

    def __init__(self, app: Application, credentials: Any, url: str, postcodes: Any,
                 shard: tuple[int, int] | None) -> None:
        self.app = app
        self.credentials = credentials
        self.url = url
        self.postcodes = postcodes
        self.shard = shard

    def jobs(self, items: Iterator[Item]) -> Iterator[Job]:
        from shipctl import batch
        from shipctl.ewe import client, models

        for item in items:
            checked = models.check(item.data, postcodes=self.postcodes)
            reference = checked.reference_no or ""
            where = item.where()
            if self.shard and not batch.in_shard(reference or where, self.shard):
                continue
            if checked.problems:
                problems = [f"{item.where(p.path)}: {p.message}" for p in checked.problems]
                yield batch.Job(id=_identity(self.url, self.credentials.username, item.data),
                                key=reference or None, label=reference or "-", where=where,
                                payload=None, problems=problems)
                continue
            self._warn_envelope(item, checked.envelope)
            yield batch.Job(
                id=_identity(self.url, self.credentials.username, checked.request),
                key=reference or None,
                label=reference,
                where=where,
                payload=client.envelope(checked.request, self.credentials),
            )

    def _warn_envelope(self, item: Item, carried: dict[str, Any]) -> None:
        """SPEC §5: username/digest/msgType come from the profile; say when the file differs."""
        from shipctl.ewe import client

        warn = self.app.out.warn
        where = item.where()
        if "username" in carried and carried["username"] != self.credentials.username:
            warn(f"{where}: the item's username {carried['username']!r} is replaced by the "
                 f"profile's {self.credentials.username!r}")
        if "digest" in carried and carried["digest"] != self.credentials.digest:
            # never print either digest: both are bearer credentials
            warn(f"{where}: the item's digest differs from the profile's and is replaced")
        if "msgType" in carried and carried["msgType"] != client.MSG_TYPE:
            warn(f"{where}: the item's msgType {carried['msgType']!r} is replaced by "
                 f"{client.MSG_TYPE!r}")


def _identity(url: str, username: str, request: Any) -> str:
    """Journal identity: the same change to the same account and endpoint is the same item."""
    canonical = json.dumps([url, username, request], sort_keys=True, ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _postcodes(app: Application) -> Any:
    from shipctl.ewe.postcodes import configured_index

    return configured_index(app)


def _rate(app: Application, options: ModifyOptions) -> float | None:
    if options.rate is not None:
        return options.rate
    value = app.setting("ewe.rate").value  # EWE asks for at most one request per second
    return float(value) if value is not None else 1.0


def _http_options(app: Application, options: ModifyOptions) -> Any:
    from shipctl import http

    return http.HttpOptions(timeout=options.timeout, retries=options.retries,
                            ca_bundle=options.ca_bundle, debug=app.debug)


def _call(url: str, content_type: str | None, body: dict[str, Any]) -> Any:
    from shipctl import http
    from shipctl.ewe import client

    headers = {"Content-Type": content_type or client.CONTENT_TYPE}
    return http.Call("POST", url, headers, client.encode(body))


def _sender(app: Application, options: ModifyOptions, url: str) -> Any:
    from shipctl import batch, http
    from shipctl.ewe import client

    http_options = _http_options(app, options)
    session = http.make_session(http_options, pool_size=max(options.jobs, 1))
    http.warn_plain_http(url, sends_credentials=True, warn=app.out.warn)
    log = app.out.info if app.debug else None

    def transient(response: Any) -> str | None:
        return client.transient_reason(response.status_code, response.content)

    def send(job: Job) -> batch.Outcome:
        call = _call(url, options.content_type, job.payload)
        delivery = http.send(session, call, http_options, transient=transient, log=log)
        if delivery.response is None:
            return batch.Outcome(False, delivery.error or "not delivered",
                                 attempts=delivery.attempts)
        answer = client.parse_answer(delivery.response.status_code, delivery.response.content)
        return batch.Outcome(
            answer.ok,
            answer.text,
            code=answer.code,
            attempts=delivery.attempts,
            detail={"http_status": delivery.response.status_code},
            fatal=answer.fatal,
        )

    return send


def _never_sent(job: Job) -> Any:  # pragma: no cover - the engine holds every job back
    raise AssertionError("--strict run tried to send")


def _dry_run(app: Application, options: ModifyOptions, url: str, jobs: Iterator[Job]) -> int:
    from shipctl import http

    out = app.out
    results: list[dict[str, Any]] = []
    valid = invalid = 0
    for job in jobs:
        if job.problems:
            invalid += 1
            out.info(f"INVALID {job.where}  {job.label}")
            for problem in job.problems:
                out.info(f"  {problem}")
            results.append({"where": job.where, "label": job.label, "valid": False,
                            "errors": job.problems})
            continue
        valid += 1
        call = _call(url, options.content_type, job.payload)
        if out.json_mode:
            results.append({"where": job.where, "label": job.label, "valid": True,
                            "request": http.describe(call, show_secrets=out.show_secrets)})
        else:
            out.print(f"# {job.where}  {job.label}")
            out.print(http.format_call(call, show_secrets=out.show_secrets))
            out.print()
    if out.json_mode:
        out.write_json({"summary": {"items": valid + invalid, "valid": valid,
                                    "invalid": invalid, "sent": 0, "dry_run": True},
                        "results": results})
    else:
        out.info(f"dry run: {valid} request(s) built, {invalid} invalid; nothing was sent")
    return 1 if invalid else 0
