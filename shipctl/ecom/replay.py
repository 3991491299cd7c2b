"""`shipctl ecom replay`: Ecom's part of a bulk run (``shipctl.runner`` does the rest).

Saved pushes are re-sent to a webhook exactly as Ecom would send them: one scan per POST,
Basic Auth (RFC 7617), JSON body. What is Ecom's own:

- **Order.** Per AWB, scans go chronologically (``datetime``, then ``status_update_number``),
  whatever the input order. The items are sorted on disk (``ExternalSorter``: a temporary SQLite
  table once they outgrow a small buffer; inputs can be larger than memory), globally by time,
  so each AWB's scans come in order and different AWBs interleave as they did in real life.
  The engine then keeps each AWB's scans one after another (ordering key: the ``awb``) and
  sends different AWBs concurrently.
- **Dedupe.** A job's id is the run's target and the ``status_update_number``: the engine
  reports a second scan with the same number as ``duplicate`` and sends it once (and a
  journal skips numbers already delivered). ``--no-dedupe`` makes each item its own job.
- **Blocking.** A failed or invalid scan blocks the later scans of its AWB
  (``invalid_blocks_keys``), so a receiver never sees a gap followed by later states.
- **Answers.** What a receiver's answer means is ``shipctl.ecom.client.answer_outcome``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from shipctl.batch.seen import storable
from shipctl.batch.sorter import ExternalSorter
from shipctl.ecom import client
from shipctl.ecom.credentials import (
    BasicAuth,
    HeaderAuth,
    basic_credentials,
    header_credentials_problem,
)
from shipctl.ecom.headers import is_secret, parse_header
from shipctl.runner import Auth, BulkProvider, RunContext, Warn

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.batch import Job, Outcome
    from shipctl.http import Call
    from shipctl.inputs import Item


SORT_MEMORY = 16 * 1024 * 1024  # bytes of scans sorted in memory before they go to disk


class Replay(BulkProvider):
    api = "the webhook"  # who refuses credentials: the receiver replayed to, not Ecom
    command = "ecom replay"
    invalid_blocks_keys = True  # a later scan assumes the earlier one happened

    def __init__(self, *, to: str | None = None, username: str | None = None,
                 password: str | None = None, headers: Iterable[str] = (),
                 dedupe: bool = True, sort_memory: int | None = None,
                 auth: str = "basic") -> None:
        self.to, self.username_flag, self.password_flag = to, username, password
        self.auth_scheme = auth  # "basic" (as Ecom Express sends) or "headers"
        self.header_args = list(headers)
        self.extra_headers: dict[str, str] = {}
        self.dedupe = dedupe
        self.sort_memory = SORT_MEMORY if sort_memory is None else sort_memory
        self.username = ""

    def prepare(self, app: Application) -> None:
        from shipctl import secrets
        from shipctl.errors import UsageError

        for text in self.header_args:
            try:
                name, value = parse_header(text)
            except ValueError as error:
                raise UsageError(str(error)) from None
            if is_secret(name):
                secrets.register(value)
            self.extra_headers[name] = value
        if self.auth_scheme == "basic" and self.username_flag is not None and (
                ":" in self.username_flag):
            raise UsageError("--username contains ':', which Basic auth cannot carry"
                             " (RFC 7617: the first colon ends the user-id)")

    def connect(self, app: Application, run: RunContext) -> Auth:
        from shipctl import secrets
        from shipctl.errors import UsageError

        self.url = str(app.require("ecom.url", flag=self.to))
        # An Authorization given with --header replaces Basic auth: no profile needed for it.
        if any(name.lower() == "authorization" for name in self.extra_headers):
            self.username = ""
            return BasicAuth(None)
        self.username = str(app.require("ecom.username", flag=self.username_flag))
        password = str(app.require("ecom.password", flag=self.password_flag))
        secrets.register(password)
        if self.auth_scheme == "headers":
            problem = header_credentials_problem(self.username, password)
            if problem:
                raise UsageError(f"--auth headers: {problem}")
            return HeaderAuth(self.username, password)
        try:
            value = basic_credentials(self.username, password)
        except ValueError as error:
            raise UsageError(f"ecom.username/ecom.password of profile {app.profile!r}: {error}"
                             ) from None
        secrets.register(value.split(" ", 1)[1])  # the Base64 alone is the password too
        return BasicAuth(value)

    def jobs(self, items: Iterable[Item], warn: Warn) -> Iterator[Job]:
        from shipctl import batch
        from shipctl.batch.seen import SeenBefore
        from shipctl.output import shorten

        sorter = ExternalSorter(memory=self.sort_memory)
        seen = SeenBefore()
        try:
            # records are ASCII JSON (a lone surrogate in a value cannot go to SQLite as UTF-8)
            for ordinal, item in enumerate(items):
                sorter.add(_sort_key(item.data, ordinal), self._job_record(item, ordinal, warn))
            for record in sorter.sorted():
                job_id, keys, label, where, number, body, problems, warnings = json.loads(
                    record)
                if self.dedupe and body is not None:
                    first = seen.first(number, where)
                    if first is not None:  # the engine reports it `duplicate`: say of what
                        said = (f"status_update_number {shorten(number, 40)} came before,"
                                f" at {first}")
                        warnings.append(said)
                        warn(f"{where}: {said}; sent once")
                yield batch.Job(
                    id=job_id, keys=tuple(keys), label=label, where=where,
                    payload=None if body is None else body.encode("utf-8"),
                    problems=[batch.FieldError(*p) for p in problems], warnings=warnings,
                )
        finally:
            sorter.close()
            seen.close()

    def _job_record(self, item: Item, ordinal: int, warn: Warn) -> str:
        """One item as a job, as JSON text (what the sorter keeps on disk)."""
        from shipctl.ecom.models import check
        from shipctl.ecom.models import label as label_of

        data = item.data
        verdict = check(data)
        awb = data.get("awb") if isinstance(data, dict) else None
        awb_text = str(awb) if isinstance(awb, str | int) and not isinstance(awb, bool) else ""
        keys = [awb_text] if awb_text.strip() else []
        label = label_of(data)
        where = item.where()
        warnings = []
        for problem in verdict.warnings:
            text = f"{problem.field}: {problem.message}" if problem.field else problem.message
            warnings.append(text)
            warn(f"{item.where(problem.path)}: {problem.message}")
        number = str(data.get("status_update_number")) if isinstance(data, dict) else ""
        if verdict.problems:
            problems = [[p.message, p.field, item.line_of(p.path), item.where(p.path)]
                        for p in verdict.problems]
            return json.dumps([self._identity(data, ordinal, valid=False), keys, label, where,
                               number, None, problems, warnings])
        # A JSON Lines line (an `ecom export`) goes as it was written, so the receiver gets the
        # bytes the first one did; anything else is encoded in one spelling.
        if item.text is not None:
            body = item.text.strip(" \t\r\n\ufeff")
        else:
            body = client.encode(data).decode("utf-8")
        return json.dumps([self._identity(data, ordinal, valid=True), keys, label, where,
                           number, body, [], warnings])

    def _identity(self, data: Any, ordinal: int, *, valid: bool) -> str:
        """Journal and duplicate identity: the same scan (status_update_number) to the same
        webhook and account. ``--no-dedupe`` (and an invalid item) adds the item's place in
        the input, so every item is its own job, and a re-run still finds it in the journal."""
        number = data.get("status_update_number") if isinstance(data, dict) else None
        parts: list[Any] = [self.url, self.username, str(number)]
        if not self.dedupe or not valid:
            parts.append(ordinal)
        canonical = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    def call(self, job: Job) -> Call:
        from shipctl import http

        headers = {"Content-Type": client.CONTENT_TYPE, **self.extra_headers}
        return http.Call("POST", self.url, headers, job.payload)

    def outcome(self, response: requests.Response, job: Job) -> Outcome:
        return client.answer_outcome(response.status_code, response.content,
                                     client.sent_push(response))


def _sort_key(data: Any, ordinal: int) -> tuple[str, int, int, str, int]:
    """models.sort_key flattened into columns, the item's place in the input last (stable)."""
    from shipctl.ecom.models import sort_key

    when, (kind, length, number) = sort_key(data)
    return (storable(when), kind, length, storable(number), ordinal)
