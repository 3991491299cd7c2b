"""The one runner of bulk commands: `ewe modify`, `fynd apply` and `ecom replay`.

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

# Where every sending command's credentials come from; the HTTP layer renews them after a 401.
from shipctl.batch.vocabulary import Verdict
from shipctl.http.options import Auth

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.batch import FieldError, Job, Outcome
    from shipctl.http import Call, HttpOptions
    from shipctl.inputs import Item

Warn = Callable[[str], None]


@dataclass
class RunOptions:
    """The flags every bulk command shares (docs/conventions.md, Bulk engine and HTTP behaviour)."""

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


@dataclass(frozen=True)
class RunContext:
    """What ``connect`` is told of the run: whether it is a dry run (no credentials are
    fetched), and the HTTP options of the provider's own requests (a token endpoint)."""

    dry_run: bool = False
    http: HttpOptions | None = None


class BulkProvider(ABC):
    """What one API supplies to a bulk command. ``shipctl/ewe/modify.py`` is the model."""

    api: str = ""  # the API's name for people: "EWE"
    command: str = ""  # "ewe modify": recorded in the journal's runs table
    allow_csv: bool = False
    # For Fynd and Ecom an invalid item blocks its ordering keys, because a later transition
    # or scan assumes the earlier one happened; EWE modifications supersede each other, so
    # there it blocks nothing (docs/conventions.md, Bulk engine).
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
    def connect(self, app: Application, run: RunContext) -> Auth:
        """Resolve URL and credentials (a ConfigError names a missing one) and register every
        secret for redaction; for ``run.dry_run`` fetch nothing (``Auth.preview`` is shown).
        Called once, after pass 1 of a bulk run, only when there is something to do."""

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
    """--shard (docs/conventions.md, Bulk engine): the ordering key (the first, when a job has
    several), else where it came from, so that jobs that must stay in order land in the same
    shard."""
    return job.keys[0] if job.keys else job.where


def run(app: Application, provider: BulkProvider, options: RunOptions) -> int:
    from shipctl import batch, http, inputs

    out = app.out
    # Flags and settings first: a usage error stops the run before any input is read.
    shard = batch.parse_shard(options.shard) if options.shard else None
    rate = options.rate if options.rate is not None else provider.default_rate(app)
    # One pacer for the run: the engine paces each job's first attempt with it and every
    # retry inside http.send takes a slot from it too (--rate counts requests, not items).
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
    # waits, --wait), not after sending what the first one is sending (docs/conventions.md,
    # Bulk engine).
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
            # would empty it (docs/conventions.md, Input files: nothing destroys input).
            _refuse_outputs_among_inputs(options, source.sources)
            total = sum(1 for _item in source.items())  # pass 1: readable, or exit 2
            if total == 0:
                # As validate does: an empty input is not an error, there is just nothing to
                # do; the usual (empty) summary still goes to stdout for scripts.
                out.warn("no items in the input; nothing to send")
                if options.dry_run:
                    return _dry_run(app, provider, Auth(), iter(()))
                return batch.run(iter(()), _never_sent, bulk, out, total=0).exit_code()

            run = RunContext(dry_run=options.dry_run,
                             http=dataclasses.replace(http_options, pace=None))
            auth = provider.connect(app, run)

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
            return _send_all(app, provider, auth, http_options, options, bulk, jobs(), total)


def _send_all(app: Application, provider: BulkProvider, auth: Auth, http_options: Any,
              options: RunOptions, bulk: Any, jobs: Iterator[Job], total: int) -> int:
    """Pass 2: every job through the bulk engine, sent by a ``Sender``; the exit code."""
    from shipctl import batch
    from shipctl.sender import Sender

    refusals: list[Outcome] = []
    send = Sender(app, provider, auth, http_options, jobs=options.jobs, refusals=refusals,
                  resend_unknown=options.resend_unknown).send
    summary = batch.run(jobs, send, bulk, app.out, total=total)
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


def _never_sent(job: Job) -> Any:  # pragma: no cover - the engine holds every job back
    raise AssertionError("a run that sends nothing tried to send")


def _dry_run(app: Application, provider: BulkProvider, auth: Auth, jobs: Iterator[Job]) -> int:
    """``--dry-run``: each request exactly as it would be sent, nothing sent.

    Secrets are masked where they are (auth headers by name, the provider's ``secret_fields``
    in the body) and nowhere else: the body is printed as it is, so with the password
    ``123456`` an e-mail ``123456@gmail.com`` prints as it is sent. Messages (the problems of
    invalid items, warnings) keep the usual masking of every registered secret.
    """
    from shipctl.batch.seen import SeenBefore
    from shipctl.errors import ExitCode

    out = app.out
    printed = out.results(masked=False) if out.json_mode else None
    counts = dict.fromkeys(("valid", "invalid", "duplicate"), 0)
    # As a real run: a job whose id came before is a duplicate, not a second request
    # (the engine's own record of ids, on disk, so memory stays flat for any input).
    seen = SeenBefore()
    headers = auth.preview()

    def summary(code: int) -> dict[str, Any]:
        # "total", "invalid", "duplicate", "sent" and "exit_code" as in a real run's summary
        written: dict[str, Any] = {"total": sum(counts.values()), "valid": counts["valid"],
                                   "invalid": counts["invalid"], "sent": 0, "dry_run": True,
                                   "exit_code": code}
        if counts["duplicate"]:  # only providers whose input may repeat an item (Ecom)
            written["duplicate"] = counts["duplicate"]
        return written

    try:
        for index, job in enumerate(jobs, 1):
            _dry_run_one(out, provider, headers, job, index, seen, printed, counts)
        code = 1 if counts["invalid"] else 0
        if printed is not None:
            printed.finish(summary(code))
        else:
            duplicates = f", {counts['duplicate']} duplicate" if counts["duplicate"] else ""
            out.info(f"dry run: {counts['valid']} request(s) built, {counts['invalid']} invalid"
                     f"{duplicates}; nothing was sent")
        return code
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (shipctl.cli): the counts so far, then 130
        if printed is not None:
            printed.stop(summary(int(ExitCode.INTERRUPTED)), interrupted=True)
        raise
    finally:
        seen.close()


def _dry_run_one(out: Any, provider: BulkProvider, headers: dict[str, str], job: Job,
                 index: int, seen: Any, printed: Any, counts: dict[str, int]) -> None:
    """Job ``index`` of a dry run: its request, or why it would not be sent. ``printed``:
    the ``Output.results`` of -o json, else None."""
    from shipctl import batch, secrets
    from shipctl.output import printable, shorten

    def scrubbed(value: Any) -> Any:  # messages: every registered secret masked
        return value if out.show_secrets else secrets.redact_strings(value)

    # A label is whatever the input holds, at any length: keep each heading one line.
    heading = (f"{shorten(job.where, batch.LINE_FIELD_MAX, middle=True)}  "
               f"{shorten(job.label, batch.LINE_FIELD_MAX)}")
    if job.problems:
        counts["invalid"] += 1
        out.info(f"INVALID {heading}")
        for problem in job.problems:
            out.info(f"  {problem}")
        if printed is not None:  # {field, line, message} each, as in `validate -o json`
            printed.add(scrubbed({"where": job.where, "label": job.label, "status": "invalid",
                                  "valid": False, "errors": batch.error_records(job.problems),
                                  "warnings": list(job.warnings)}))
        return
    first = seen.first(str(job.id), index)
    if first is not None:
        counts["duplicate"] += 1
        why = f"duplicate of item {first}; would not be sent again"
        out.info(f"DUPLICATE {heading}  {why}")
        if printed is not None:
            printed.add(scrubbed({"where": job.where, "label": job.label, "status": "duplicate",
                                  "valid": True, "message": why, "errors": [],
                                  "warnings": list(job.warnings)}))
        return
    counts["valid"] += 1
    request = dry_run_request(out, provider, headers, job)
    if printed is not None:
        printed.add({"where": job.where, "label": job.label, "status": "valid", "valid": True,
                     "errors": [], "warnings": scrubbed(list(job.warnings)),
                     "request": request})
    else:
        # written as it is: out.print would mask registered secrets inside other values
        out.stdout.write(printable(f"# {heading}\n"))
        out.stdout.write(request + "\n")


def dry_run_request(out: Any, provider: Any, headers: dict[str, str], job: Job) -> Any:
    """The request ``job`` would be, exactly as ``--dry-run`` shows it (bulk runs and single
    requests alike): the record (``-o json``) or the text. ``headers``: ``Auth.preview()``,
    masked by name; of the body only the provider's ``secret_fields`` are masked."""
    from shipctl.http.show import exact_record, exact_text
    from shipctl.output import printable

    call = provider.call(job).with_headers(headers)
    if provider.secret_fields is not None:
        call = dataclasses.replace(call, secret_keys=frozenset(provider.secret_fields))
    if out.json_mode:
        return exact_record(call, show_secrets=out.show_secrets)
    return printable(exact_text(call, show_secrets=out.show_secrets))
