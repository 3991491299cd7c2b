"""The one runner of bulk commands: `ewe modify`, and `fynd apply` and `ecom replay` to come.

A provider supplies only what is its own (``BulkProvider``): turning input items into jobs
(validation, identity, ordering keys, label), building the HTTP call for a job, how its
requests authenticate (``Auth``), and what an answer means (an ``Outcome``). The runner does
the rest, the same way for every provider:

- flags and settings are checked before any input is read (a usage error sends nothing);
- the journal is held before any input is read (``--journal``: one run at a time; a second
  run exits 2 at once naming the holder, or waits with ``--wait``);
- pass 1 only parses, so unreadable input stops the run before anything is sent (exit 2);
  an input with no items (``[]``, an empty directory) is a warning and exit 0, with
  ``--strict`` too (nothing is invalid), and needs no credentials;
- credentials are resolved once (``BulkProvider.connect``);
- ``--strict`` counts the invalid jobs in a pass of their own, and if there are any, reports
  every job and sends nothing;
- pass 2 turns items into jobs, keeps those of ``--shard``, and streams them into the bulk
  engine (``shipctl.batch``), or prints them with ``--dry-run``.

Two passes rather than one list, so memory stays flat however large the input.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.batch import FieldError, Job, Outcome
    from shipctl.http import Call
    from shipctl.inputs import Item

Warn = Callable[[str], None]


@dataclass
class RunOptions:
    """The flags every bulk command shares (SPEC §2 "Bulk engine" and "HTTP behaviour")."""

    paths: list[str]
    recursive: bool = False
    jobs: int = 4
    rate: float | None = None  # None: the provider's default (e.g. ewe.rate)
    journal: Path | None = None
    # --wait[=SECONDS]: when another run holds the journal, wait for it (math.inf: without
    # limit) rather than exit 2 at once; None: do not wait
    wait: float | None = None
    report: Path | None = None
    fail_fast: bool = False
    strict: bool = False
    shard: str | None = None
    timeout: float = 30.0
    retries: int = 3
    ca_bundle: Path | None = None
    dry_run: bool = False
    # A job whose outcome an earlier run left unknown (the journal says so) is verified
    # before it is sent; if that cannot tell, it is not sent. True: send it all the same.
    resend_unknown: bool = False


class Auth:
    """How a provider's requests say who sends them: one object per run, shared by every
    worker, so thread-safe. The default sends nothing extra (EWE signs the body itself)."""

    def headers(self) -> dict[str, str]:
        """The headers to add to the next request (a bearer token, Basic auth…)."""
        return {}

    def preview(self) -> dict[str, str]:
        """The headers ``--dry-run`` shows: like ``headers`` but fetching nothing (a token
        endpoint is not called for a dry run). They are masked when printed."""
        return self.headers()

    def renew(self, rejected: dict[str, str]) -> bool:
        """The API answered 401 to a request sent with ``rejected``: get fresh credentials
        (once for all workers: another may have renewed already) and say whether a retry
        can succeed. The request is then sent once more, and a second 401 stands."""
        return False


@dataclass
class Verdict:
    """What reading the target back says about a job that was sent and may have been applied
    (``BulkProvider.verify``)."""

    # True: it took effect (a success); False: it did not, it is safe to send (``rest``);
    # None: the target cannot tell, or could not be read (the outcome stays unknown)
    applied: bool | None
    reason: str  # for people: what was read, e.g. "shipment 800001 is in bag_confirmed"
    # applied False: the job to send instead, holding only what did not take effect (a Fynd
    # body without its shipments that did move); None: the job as it was
    rest: Job | None = None
    # what it found of each of the job's parts (``Job.parts``), journaled with the job
    parts: dict[str, Any] | None = None


class BulkProvider(ABC):
    """What one API supplies to a bulk command. ``shipctl/ewe/modify.py`` is the model."""

    api: str = ""  # the API's name for people: "EWE"
    command: str = ""  # "ewe modify": recorded in the journal's runs table
    allow_csv: bool = False
    # SPEC §2: for Fynd and Ecom an invalid item blocks its ordering keys, because a later
    # transition or scan assumes the earlier one happened; EWE modifications supersede each
    # other, so there it blocks nothing.
    invalid_blocks_keys: bool = False
    url: str = ""  # where the requests go; set by connect()
    # The body fields that hold credentials (EWE: ("digest",)). --dry-run masks their values
    # and nothing else of the body (headers are masked by name: Authorization…), so what it
    # prints is what is sent; None: the HTTP layer's usual names (``Call.secret_keys``).
    secret_fields: tuple[str, ...] | None = None
    # Sending a job twice does what sending it once does (EWE sets values; an Ecom receiver
    # dedupes by status_update_number): failures that may have reached the server are retried.
    # False (a Fynd transition moves units): such a failure is never sent again blindly; the
    # job is verified (``verify``) and, if that cannot tell, recorded as UNKNOWN.
    idempotent: bool = True

    def prepare(self, app: Application) -> None:  # noqa: B027 - optional hook
        """Check the provider's own flags and settings before any input is read."""

    def check_column(self, path: tuple[str | int, ...]) -> str | None:
        """What is wrong with a CSV column naming PATH, or None: judged once on the header,
        so a misspelt column is one error (exit 2), not one per row."""
        return None

    def default_rate(self, app: Application) -> float | None:
        """Requests per second when --rate is not given (None or 0: unlimited)."""
        return None

    @abstractmethod
    def connect(self, app: Application) -> Auth:
        """Resolve URL and credentials (a ConfigError names a missing one) and register every
        secret for redaction. Called once, after pass 1, only when there is something to do."""

    @abstractmethod
    def jobs(self, items: Iterable[Item], warn: Warn) -> Iterator[Job]:
        """Each item as a job: validated (``problems``), identified (``id``: same request,
        same job), with its ordering ``keys`` and ``label``. May reorder (Ecom sorts each
        AWB's scans), but must stream: inputs can be larger than memory."""

    @abstractmethod
    def call(self, job: Job) -> Call:
        """The HTTP request for a valid job, without the ``Auth`` headers."""

    def transient(self, response: requests.Response) -> str | None:
        """Why an otherwise final answer means "try again later" (EWE code 2), else None."""
        return None

    @abstractmethod
    def outcome(self, response: requests.Response, job: Job) -> Outcome:
        """What the final answer to ``job`` means: ok or not, message, code, ``fatal`` when
        every other job would be refused the same way (wrong credentials), and ``unknown``
        when the answer does not say whether it was applied (it leaves out a shipment)."""

    def only(self, job: Job, parts: list[str]) -> Job:
        """``job`` with only ``parts`` of its ``Job.parts`` (a Fynd body with only those
        shipments): what a re-run sends when the others succeeded in an earlier run. Only
        called for providers whose jobs have parts."""
        raise NotImplementedError

    def verify(self, job: Job, read: Callable[[Call], Any]) -> Verdict:
        """For a provider that is not idempotent: after ``job`` was sent and no answer said
        whether it was applied, read the target back and decide. ``read(call)`` sends a
        request that only reads (with the run's credentials) and returns its
        ``http.Delivery``. The default cannot tell."""
        return Verdict(None, f"{self.api or self.command} offers no way to check")


def field_errors(item: Item, problems: Iterable[Any]) -> list[FieldError]:
    """A provider's problems with an item (each with ``message``, ``field`` and ``path``) as
    the engine's ``FieldError``s: file:line and item number from where each field was read."""
    from shipctl.batch import FieldError

    return [FieldError(p.message, field=p.field, line=item.line_of(p.path),
                       where=item.where(p.path)) for p in problems]


def shard_key(job: Job) -> str:
    """SPEC §2 --shard: the ordering key (the first, when a job has several), else where it
    came from, so that jobs that must stay in order land in the same shard."""
    return job.keys[0] if job.keys else job.where


def run(app: Application, provider: BulkProvider, options: RunOptions) -> int:
    from shipctl import batch, http, inputs

    out = app.out
    # Flags and settings first: a usage error stops the run before any input is read.
    shard = batch.parse_shard(options.shard) if options.shard else None
    rate = options.rate if options.rate is not None else provider.default_rate(app)
    # One pacer for the run: the engine paces each job's first attempt with it and every
    # retry inside http.send takes a slot from it too (SPEC §2 --rate: requests, not items).
    pacer = batch.make_pacer(rate)
    http_options = http.HttpOptions(
        timeout=options.timeout, retries=options.retries, ca_bundle=options.ca_bundle,
        debug=app.debug, pace=pacer.wait if pacer is not None else None,
    )
    http.check_options(http_options)  # --timeout 0 / nan: exit 2 now, not a failure per item
    if options.report is not None:
        from shipctl.report import check_name

        check_name(options.report)  # --report x.json: exit 2 now, suggesting .jsonl
    provider.prepare(app)
    bulk = batch.BulkOptions(
        jobs=options.jobs, rate=rate, pacer=pacer, journal=options.journal,
        report=options.report, fail_fast=options.fail_fast, command=provider.command,
        invalid_blocks_keys=provider.invalid_blocks_keys, idempotent=provider.idempotent,
    )

    # The journal is this run's before any input is read: a second run on it stops here (or
    # waits, --wait), not after sending what the first one is sending (SPEC §2 --journal).
    # --dry-run reads no journal and writes none, so it holds none.
    with _hold_journal(app, provider, options) as lock:
        bulk.journal_lock = lock
        # A context manager: a spooled stdin (its temporary file) is removed however we leave.
        with inputs.open_inputs(
            options.paths, recursive=options.recursive, allow_csv=provider.allow_csv,
            check_column=provider.check_column,
            warn=out.warn, empty_ok=True,  # an empty directory: nothing to send, exit 0
        ) as source:
            # Before anything is written: a report or journal that is one of the inputs
            # would empty it (SPEC §2: nothing destroys input).
            _refuse_outputs_among_inputs(options, source.sources)
            total = sum(1 for _item in source.items())  # pass 1: readable, or exit 2
            if total == 0:
                # As validate does: an empty input is not an error, there is just nothing to
                # do; the usual (empty) summary still goes to stdout for scripts.
                out.warn("no items in the input; nothing to send")
                if options.dry_run:
                    return _dry_run(app, provider, Auth(), iter(()))
                return batch.run(iter(()), _never_sent, bulk, out, total=0).exit_code()

            auth = provider.connect(app)

            def jobs(warn: Warn = out.warn) -> Iterator[Job]:
                for job in provider.jobs(source.items(), warn):
                    if shard is None or batch.in_shard(shard_key(job), shard):
                        yield job

            if options.dry_run:
                return _dry_run(app, provider, auth, jobs())
            if options.strict:
                # its own pass, quietly: the reporting pass below gives each warning once
                invalid = sum(1 for job in jobs(warn=_quiet) if job.problems)
                if invalid:
                    # every job is reported (the valid ones as not_sent); nothing is sent
                    hold = batch.strict_hold_reason(invalid, total)
                    summary = batch.run(jobs(), _never_sent, bulk, out, total=total, hold=hold)
                    out.info(f"--strict: {invalid} invalid item(s); nothing was sent")
                    return summary.exit_code()
            refusals: list[Outcome] = []
            send = Sender(app, provider, auth, http_options, jobs=options.jobs,
                          refusals=refusals, resend_unknown=options.resend_unknown).send
            summary = batch.run(jobs(), send, bulk, out, total=total)
            if refusals:
                _say_refused(app, provider, refusals[0])
            if summary.counts.get(batch.UNKNOWN):
                _say_unknown(app, provider, summary.counts[batch.UNKNOWN], options)
            return summary.exit_code()


def _refuse_outputs_among_inputs(options: RunOptions, sources: Iterable[Any]) -> None:
    """A usage error (exit 2) when ``--report`` or ``--journal`` is one of the input files:
    the same file by device and inode, so a symlink or a hard link to it counts too."""
    import os

    outputs = [("--report", options.report), ("--journal", options.journal)]
    wanted: dict[tuple[int, int], str] = {}
    for flag, path in outputs:
        if path is None:
            continue
        try:
            st = os.stat(path)
        except OSError:  # not there yet (or unreadable): it cannot be an input
            continue
        wanted.setdefault((st.st_dev, st.st_ino), f"{flag} {path}")
    if not wanted:
        return
    for source in sources:
        if source.path is None:
            continue
        try:
            st = os.stat(source.path)
        except OSError:
            continue
        named = wanted.get((st.st_dev, st.st_ino))
        if named is not None:
            from shipctl.errors import UsageError

            raise UsageError(
                f"{named}: is the input file {source.name}; writing it would destroy the input;"
                " nothing was sent",
                hint="write the report and the journal outside the input files and directories",
            )


def _hold_journal(app: Application, provider: BulkProvider, options: RunOptions) -> Any:
    """A context manager: the journal's lock for the run (``journal.JournalLock``), if any."""
    import contextlib

    if options.journal is None or options.dry_run:
        return contextlib.nullcontext()
    from shipctl.journal import JournalLock

    if options.wait is not None and not options.wait >= 0:  # nan too
        from shipctl.errors import UsageError

        raise UsageError(f"--wait {options.wait}: must be a number of seconds, 0 or more")
    return JournalLock.acquire(Path(options.journal), wait=options.wait,
                               command=provider.command, notify=app.out.warn)


def _quiet(message: str) -> None:
    pass


def _with_auth(call: Call, headers: dict[str, str]) -> Call:
    return dataclasses.replace(call, headers={**call.headers, **headers}) if headers else call


def _say_refused(app: Application, provider: BulkProvider, outcome: Outcome) -> None:
    """One headline for refused credentials, however many items met the refusal."""
    app.out.info(
        f"error: {provider.api or provider.command} refused the credentials of profile "
        f"{app.profile!r} (code {outcome.code}: check {outcome.check}); nothing more was sent"
    )


def _say_unknown(app: Application, provider: BulkProvider, count: int,
                options: RunOptions) -> None:
    """What to do about items that were sent and may have been applied."""
    again = (f"a re-run with the same --journal {options.journal} verifies each before"
             " sending it" if options.journal is not None else
             "without --journal a re-run cannot tell them from new items: check each first")
    app.out.info(
        f"{count} item(s) sent with an unknown outcome: {provider.api or 'the API'} may have"
        f" applied them; {again}; --resend-unknown sends them without checking")


class Sender:
    """Sends a provider's jobs with the run's credentials: the bulk engine's ``send``, and a
    single-request command's (``fynd transition``) way to settle an answer that was lost.

    For a provider that is not idempotent, a job that may have been applied is verified
    (``BulkProvider.verify``): applied → succeeded; not applied → sent again (at most
    ``--retries`` times); cannot tell → UNKNOWN. Thread-safe: the engine's workers share it.
    """

    def __init__(self, app: Application, provider: BulkProvider, auth: Auth, http_options: Any,
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

    def deliver(self, call: Call, headers: dict[str, str]) -> Any:
        from shipctl import http

        return http.send(self.session, _with_auth(call, headers), self.http_options,
                         transient=self.provider.transient, log=self.log)

    def once(self, job: Job) -> Outcome:
        """One job sent (with its retries), and what the answer means."""
        from shipctl import batch
        from shipctl.errors import ShipctlError

        provider, auth = self.provider, self.auth
        call = provider.call(job)
        if call.idempotent and not provider.idempotent:  # the provider's word is what counts
            call = dataclasses.replace(call, idempotent=False)
        attempts = 0
        delivery = None
        try:
            headers = auth.headers()
            delivery = self.deliver(call, headers)
            attempts = delivery.attempts
            if (delivery.response is not None and delivery.response.status_code == 401
                    and auth.renew(headers)):
                delivery = self.deliver(call, auth.headers())  # once: a second 401 stands
                attempts += delivery.attempts
        except ShipctlError as error:
            # No credentials to send with (a token endpoint that now refuses or is down):
            # every other job would meet the same, so stop as a refused credential does,
            # rather than record the rest as failures that were never sent.
            said = ("answered HTTP 401, and new credentials were refused" if delivery
                    is not None else "not sent")
            return batch.Outcome(False, f"{said}: {error}", attempts=attempts, fatal=True,
                                 code=401 if delivery is not None else None)
        if delivery.ambiguous:
            return self.lost(delivery, attempts)
        if delivery.response is None:
            return batch.Outcome(False, delivery.error or "not delivered", attempts=attempts)
        outcome = provider.outcome(delivery.response, job)
        outcome.attempts = attempts
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

        auth = self.auth
        try:
            headers = auth.headers()
        except ShipctlError as error:
            return http.Delivery(None, 0, f"cannot read it back: {error}", 0.0)
        delivery = self.deliver(call, headers)
        if (delivery.response is not None and delivery.response.status_code == 401
                and auth.renew(headers)):
            delivery = self.deliver(call, auth.headers())
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


def _never_sent(job: Job) -> Any:  # pragma: no cover - the engine holds every job back
    raise AssertionError("a run that sends nothing tried to send")


def _dry_run(app: Application, provider: BulkProvider, auth: Auth, jobs: Iterator[Job]) -> int:
    """``--dry-run``: each request exactly as it would be sent, nothing sent.

    Secrets are masked where they are (auth headers by name, the provider's ``secret_fields``
    in the body) and nowhere else: the body is printed as it is, so with the password
    ``123456`` an e-mail ``123456@gmail.com`` prints as it is sent. Messages (the problems of
    invalid items, warnings) keep the usual masking of every registered secret.
    """
    from shipctl import batch, secrets
    from shipctl.batch.scheduler import SeenIds
    from shipctl.http.show import exact_record, exact_text
    from shipctl.output import shorten

    out = app.out
    headers = auth.preview()
    fields = provider.secret_fields
    printed = _DryRunResults(out)
    valid = invalid = duplicate = 0
    # As a real run: a job whose id came before is a duplicate, not a second request
    # (the engine's own record of ids, on disk, so memory stays flat for any input).
    seen = SeenIds()

    def scrubbed(value: Any) -> Any:  # messages: every registered secret masked
        return value if out.show_secrets else secrets.redact_strings(value)

    for index, job in enumerate(jobs, 1):
        # A label is whatever the input holds, at any length: keep each heading one line.
        heading = (f"{shorten(job.where, batch.LINE_FIELD_MAX, middle=True)}  "
                   f"{shorten(job.label, batch.LINE_FIELD_MAX)}")
        if job.problems:
            invalid += 1
            out.info(f"INVALID {heading}")
            for problem in job.problems:
                out.info(f"  {problem}")
            # {field, line, message} each, as in a real run's records and `validate -o json`
            printed.add(scrubbed({"where": job.where, "label": job.label, "status": "invalid",
                                  "valid": False, "errors": batch.error_records(job.problems),
                                  "warnings": list(job.warnings)}))
            continue
        first = seen.first_index(str(job.id), index)
        if first is not None:
            duplicate += 1
            why = f"duplicate of item {first}; would not be sent again"
            out.info(f"DUPLICATE {heading}  {why}")
            printed.add(scrubbed({"where": job.where, "label": job.label,
                                  "status": "duplicate", "valid": True, "message": why,
                                  "errors": [], "warnings": list(job.warnings)}))
            continue
        valid += 1
        call = _with_auth(provider.call(job), headers)
        if fields is not None:
            call = dataclasses.replace(call, secret_keys=frozenset(fields))
        if out.json_mode:
            record = {"where": job.where, "label": job.label, "status": "valid", "valid": True,
                      "errors": [], "warnings": scrubbed(list(job.warnings))}
            printed.add({**record,
                         "request": exact_record(call, show_secrets=out.show_secrets)})
        else:
            # written as it is: out.print would mask registered secrets inside other values
            out.stdout.write(_printable(f"# {heading}\n"))
            out.stdout.write(_printable(exact_text(call, show_secrets=out.show_secrets) + "\n"))
    seen.close()
    code = 1 if invalid else 0
    # "total", "invalid", "duplicate", "sent" and "exit_code" as in a real run's summary
    summary: dict[str, Any] = {"total": valid + invalid + duplicate, "valid": valid,
                               "invalid": invalid, "sent": 0, "dry_run": True,
                               "exit_code": code}
    if duplicate:  # only providers whose input may repeat an item (Ecom) show the count
        summary["duplicate"] = duplicate
    if out.json_mode:
        printed.finish(summary)
    else:
        duplicates = f", {duplicate} duplicate" if duplicate else ""
        out.info(f"dry run: {valid} request(s) built, {invalid} invalid{duplicates};"
                 " nothing was sent")
    return code


class _DryRunResults:
    """``Output.results()`` for the dry run: the same documents (``-o json``: one at the end;
    ``-o jsonl``: a record per line, then the summary), written without masking registered
    secrets as substrings (each record comes masked as it should be), and with numbers in
    plain notation with the digits sent (``shipctl.plainjson``)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.records: list[Any] = []

    def add(self, record: Any) -> None:
        if self.out.json_lines:
            self._write(record, indent=None)
        else:
            self.records.append(record)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.out.json_lines:
            self._write({"summary": summary}, indent=None)
        else:
            self._write({"summary": summary, "results": self.records}, indent=2)

    def _write(self, document: Any, indent: int | None) -> None:
        from shipctl import plainjson

        text = plainjson.dumps(document, indent=indent, ensure_ascii=False)
        self.out.stdout.write(_printable(text) + "\n")
        self.out.stdout.flush()


def _printable(text: str) -> str:
    """TEXT as stdout can write it: a lone surrogate (from a "\\ud800" escape in the input,
    which no UTF-8 holds) as that escape, which inside a JSON string is JSON's own escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
