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
    from shipctl import batch, http, inputs, secrets
    from shipctl.ewe import client, models
    from shipctl.ewe.postcodes import configured_index

    out = app.out
    # Flags and settings first: a usage error stops the run before any input is read.
    shard = batch.parse_shard(options.shard) if options.shard else None
    rate = _rate(app, options)
    # One pacer for the run: the engine paces each item's first attempt with it and every
    # retry inside http.send takes a slot from it too (SPEC §2 --rate: requests, not items).
    pacer = batch.make_pacer(rate)
    http_options = _http_options(app, options, pacer)
    http.check_options(http_options)  # --timeout 0 / nan: exit 2 now, not a failure per item
    content_type = _content_type(app, options)
    bulk = batch.BulkOptions(
        jobs=options.jobs,
        rate=rate,
        pacer=pacer,
        journal=options.journal,
        report=options.report,
        fail_fast=options.fail_fast,
        command="ewe modify",
    )

    # A context manager: a spooled stdin (its temporary file) is removed however we leave.
    with inputs.open_inputs(
        options.paths, recursive=options.recursive, allow_csv=True, warn=out.warn
    ) as source:
        postcodes = configured_index(app)

        # Pass 1: everything must be readable before anything is sent (exit 2 otherwise).
        total = invalid = 0
        for item in source.items():
            total += 1
            if options.strict:
                checked = models.check(item.data, postcodes=postcodes)
                # an invalid item of another shard is that shard's business
                if checked.problems and (
                    shard is None or batch.in_shard(checked.reference_no or item.where(), shard)
                ):
                    invalid += 1
        if total == 0:
            # As `ewe validate` does: an empty input is not an error, there is just nothing
            # to do; the usual (empty) summary still goes to stdout for scripts.
            out.warn("no items in the input; nothing to send")
            if options.dry_run:
                return _dry_run(app, content_type, "", iter(()))
            return batch.run(iter(()), _never_sent, bulk, out, total=0).exit_code()

        credentials = client.Credentials(
            username=str(app.require("ewe.username")),
            password=str(app.require("ewe.password")),
        )
        url = client.endpoint(str(app.require("ewe.url")))
        secrets.register(credentials.password)
        secrets.register(credentials.digest)
        context = _Context(app, credentials, url, postcodes, shard)

        if options.dry_run:
            return _dry_run(app, content_type, url, context.jobs(source.items()))

        if options.strict and invalid:
            # --strict: every item is reported (the valid ones as not_sent); nothing is sent.
            hold = batch.strict_hold_reason(invalid, total)
            summary = batch.run(context.jobs(source.items()), _never_sent, bulk, out,
                                total=total, hold=hold)
            out.info(f"--strict: {invalid} invalid item(s); nothing was sent")
            return summary.exit_code()

        send = _sender(app, options, url, http_options, content_type)
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
                                keys=(reference,) if reference else (),
                                label=reference or "-", where=where,
                                payload=None, problems=problems)
                continue
            self._warn_envelope(item, checked.envelope)
            yield batch.Job(
                id=_identity(self.url, self.credentials.username, checked.request),
                keys=(reference,) if reference else (),
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


def _rate(app: Application, options: ModifyOptions) -> float | None:
    if options.rate is not None:
        return options.rate
    value = app.setting("ewe.rate").value  # EWE asks for at most one request per second
    return float(value) if value is not None else 1.0


def _content_type(app: Application, options: ModifyOptions) -> str:
    """--content-type, else the profile's ``ewe.content_type`` (SPEC §5 "configurable")."""
    from shipctl.errors import UsageError
    from shipctl.ewe import client

    setting = app.setting("ewe.content_type", flag=options.content_type)
    value = str(setting.value or client.CONTENT_TYPE)
    # A header value is one line of visible ASCII (RFC 9110); anything else would fail every
    # item with "invalid header value" after the run had started.
    if not value.strip() or any(not (" " <= ch <= "~") for ch in value):
        given = "--content-type" if setting.source == "flag" else (
            f"ewe.content_type ({setting.source})"
        )
        raise UsageError(
            f"{given} {value!r}: must be one line of printable ASCII, e.g. application/json"
        )
    return value


def _http_options(app: Application, options: ModifyOptions, pacer: Any = None) -> Any:
    from shipctl import http

    return http.HttpOptions(timeout=options.timeout, retries=options.retries,
                            ca_bundle=options.ca_bundle, debug=app.debug,
                            pace=pacer.wait if pacer is not None else None)


def _call(url: str, content_type: str, body: dict[str, Any]) -> Any:
    from shipctl import http
    from shipctl.ewe import client

    return http.Call("POST", url, {"Content-Type": content_type}, client.encode(body))


def _sender(app: Application, options: ModifyOptions, url: str, http_options: Any,
            content_type: str) -> Any:
    from shipctl import batch, http
    from shipctl.ewe import client

    session = http.make_session(http_options, pool_size=max(options.jobs, 1))
    http.warn_plain_http(url, sends_credentials=True, warn=app.out.warn)
    log = app.out.info if app.debug else None

    def transient(response: Any) -> str | None:
        return client.transient_reason(response.status_code, response.content)

    def send(job: Job) -> batch.Outcome:
        call = _call(url, content_type, job.payload)
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


def _dry_run(app: Application, content_type: str, url: str, jobs: Iterator[Job]) -> int:
    from shipctl import batch, http

    out = app.out
    results: list[dict[str, Any]] = []
    valid = invalid = 0
    for job in jobs:
        # A label is the item's referenceNo, whatever its length: keep each heading one line.
        heading = (f"{batch.shorten(job.where, batch.LINE_FIELD_MAX, middle=True)}  "
                   f"{batch.shorten(job.label, batch.LINE_FIELD_MAX)}")
        if job.problems:
            invalid += 1
            out.info(f"INVALID {heading}")
            for problem in job.problems:
                out.info(f"  {problem}")
            results.append({"where": job.where, "label": job.label, "valid": False,
                            "errors": job.problems})
            continue
        valid += 1
        call = _call(url, content_type, job.payload)
        if out.json_mode:
            results.append({"where": job.where, "label": job.label, "valid": True,
                            "request": http.describe(call, show_secrets=out.show_secrets)})
        else:
            out.print(f"# {heading}")
            out.print(http.format_call(call, show_secrets=out.show_secrets))
            out.print()
    if out.json_mode:
        # "total" and "sent" as in a real run's summary, so a script reads both the same way.
        out.write_json({"summary": {"total": valid + invalid, "valid": valid,
                                    "invalid": invalid, "sent": 0, "dry_run": True},
                        "results": results})
    else:
        out.info(f"dry run: {valid} request(s) built, {invalid} invalid; nothing was sent")
    return 1 if invalid else 0
