"""The one bulk engine (SPEC §2 "Bulk engine"): EWE modify, Fynd apply, Ecom replay.

The caller turns its input into ``Job``s (validating each one: ``Job.problems``), filters them
with ``in_shard`` when ``--shard`` is given, and hands them to ``run`` with a ``send`` function
that performs one request — retries included — and returns an ``Outcome``. ``--strict`` is the
caller's too: it needs a validation pass over the whole input before anything is sent, so the
caller counts the invalid jobs first and passes ``run(..., hold=strict_hold_reason(...))``.
``--rate``: the caller makes the run's ``Pacer`` (``make_pacer``), passes it in
``BulkOptions.pacer`` and lets its send() take a slot for each retry, so every request of the
run is paced, not only first attempts.

Where things go:

- stderr: on a terminal, a progress bar with count, rate and ETA (failed, invalid and blocked
  items are printed above it); otherwise one line per finished item:
  ``succeeded  TEST0001  bulk.jsonl:1 item 1  Modify success!`` (status, label, where, message;
  label and where shortened to ``LINE_FIELD_MAX`` characters so one item stays one line).
- stdout, text mode: only the final summary line
  (``sent 10, succeeded 9, failed 1, invalid 0, skipped 0, blocked 0, duplicate 0 in 2.3 s``).
  json mode: exactly one JSON document ``{"results": [...], "summary": {...}}``, streamed one
  record at a time so memory stays flat however long the input.
- ``--report FILE``: one record per item as it finishes (``shipctl.report``).
- ``--journal FILE``: each outcome, durably, before it is reported (``shipctl.journal``).
  Reports, journal and json records keep label, where and key whole up to ``RECORD_FIELD_MAX``
  characters.

Statuses: ``succeeded``, ``failed``, ``invalid`` (never sent), ``skipped`` (the journal says it
already succeeded), ``blocked`` (an earlier item with the same ordering key failed or was
blocked; an *invalid* item does not block its key), ``duplicate`` (same job id earlier in this
input), ``not_sent`` (after ``--fail-fast`` or a ``fatal`` outcome, or held back by
``--strict``) and ``interrupted`` (not started, or abandoned in flight, because of
Ctrl-C/SIGTERM; not journaled, so a re-run sends it). After Ctrl-C the rest of the input is not
read, so ``total`` counts the items read.

How it runs: the calling (main) thread reads the jobs lazily and decides each one's fate as it
is read (invalid, duplicate, skipped, blocked, or queued for sending); it also handles
Ctrl-C/SIGTERM, whose handlers only ever run in it. ``options.jobs`` worker threads take the
next ready job themselves, wait for the pacer, call ``send`` and record the outcome
themselves (journal, report, terminal), then take the next job: a job costs no round trip
through the main thread. All of the engine's state and every write are guarded by one lock,
so records are never interleaved and the journal is still written before the report. The main
thread sleeps while the window is full or everything read is in flight, and is woken only when
there is room to read a batch of jobs, when the run may be over, or by a signal. At most a
bounded window of jobs is held at once, so memory does not grow with the input; the only
per-input state kept for the whole run is the set of failed ordering keys and the
duplicate-detection set, which lives in a temporary SQLite file rather than in memory.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import queue
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipctl import secrets
from shipctl.errors import ExitCode, ShipctlError, UsageError
from shipctl.output import LINE_WIDTH, Output, shorten

SUCCEEDED = "succeeded"
FAILED = "failed"
INVALID = "invalid"
SKIPPED = "skipped"
BLOCKED = "blocked"
DUPLICATE = "duplicate"
NOT_SENT = "not_sent"
INTERRUPTED = "interrupted"
STATUSES = (SUCCEEDED, FAILED, INVALID, SKIPPED, BLOCKED, DUPLICATE, NOT_SENT, INTERRUPTED)
# Any of these makes the run exit 1 (SPEC §2 "Exit codes": invalid, rejected or not delivered).
_BAD = (FAILED, INVALID, BLOCKED, NOT_SENT)
# Shown above the progress bar on a terminal, where successes are only counted.
_NOTEWORTHY = (FAILED, INVALID, BLOCKED)


@dataclass(slots=True)
class Job:
    id: str  # stable identity (e.g. a hash of the request body): journal and duplicates
    key: str | None  # ordering key; None = independent of every other job
    label: str  # what a person recognises, e.g. the referenceNo
    where: str  # source location, e.g. "bulk.jsonl:3 item 3"
    payload: Any = None  # what send() needs; never journaled or reported
    problems: list[str] = field(default_factory=list)  # non-empty → invalid, never sent


@dataclass(slots=True)
class Outcome:
    ok: bool
    message: str
    code: str | int | None = None
    attempts: int = 1
    detail: dict | None = None  # extra fields for -o json / JSON Lines reports; no secrets
    # A failure every other item would meet too (e.g. EWE 104 "Incorrect signature"): stop
    # sending, as --fail-fast would, rather than be refused thousands of times.
    fatal: bool = False


@dataclass
class BulkOptions:
    jobs: int = 4
    rate: float | None = None  # starts per second; None or 0 = unlimited
    journal: Path | None = None
    report: Path | None = None
    fail_fast: bool = False
    # The run's pacer, shared with send() so that retries take slots too (make_pacer(rate));
    # when None, the engine makes one from ``rate`` that paces first attempts only.
    pacer: Pacer | None = None
    grace_seconds: float = 5.0  # after Ctrl-C, how long in-flight requests may finish
    command: str = ""  # e.g. "ewe modify", recorded in the journal's runs table


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    sent: int = 0  # jobs whose send() was called
    total: int = 0  # jobs read from the input
    elapsed: float = 0.0
    interrupted: bool = False
    signal: str | None = None  # "SIGINT" / "SIGTERM" when interrupted

    def exit_code(self) -> int:
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if any(self.counts[s] for s in _BAD):
            return int(ExitCode.FAILED)
        return int(ExitCode.OK)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "sent": self.sent,
            **self.counts,
            "elapsed_seconds": round(self.elapsed, 3),
            "signal": self.signal,
            "exit_code": self.exit_code(),
        }

    def line(self) -> str:
        c = self.counts
        parts = [f"sent {self.sent}"] + [
            f"{s} {c[s]}" for s in (SUCCEEDED, FAILED, INVALID, SKIPPED, BLOCKED, DUPLICATE)
        ]
        if c[NOT_SENT]:
            parts.append(f"not sent {c[NOT_SENT]}")
        if self.interrupted or c[INTERRUPTED]:
            parts.append(f"interrupted {c[INTERRUPTED]}")
        return f"{', '.join(parts)} in {_duration(self.elapsed)}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {secs} s" if hours else f"{minutes} min {secs} s"


# -- shards ----------------------------------------------------------------------------------
_SHARD = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → (K, N) with 0 ≤ K < N (SPEC §2 ``--shard K/N``, 0-based)."""
    match = _SHARD.fullmatch(text or "")
    if match is None:
        raise UsageError(f"--shard {text!r}: expected K/N, e.g. 0/3 (shard K of N, 0-based)")
    k, n = int(match[1]), int(match[2])
    if n < 1 or k >= n:
        raise UsageError(
            f"--shard {text!r}: K must be 0 to N-1 and N at least 1, e.g. 0/3, 1/3, 2/3"
        )
    return k, n


def shard_of(key: str, n: int) -> int:
    # sha256, not hash(): the split must be the same on every machine and every run.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or shard_of(key, shard[1]) == shard[0]


def strict_hold_reason(invalid: int, total: int) -> str:
    """The message for valid jobs held back by ``--strict`` (pass as ``run(..., hold=...)``)."""
    return f"not sent: --strict and {invalid} of {total} items are invalid"


# -- pacing ----------------------------------------------------------------------------------
class Pacer:
    """At most ``rate`` request starts per second, evenly spaced (SPEC §2 ``--rate``).

    A start is allowed no sooner than 1/rate after the previous *actual* start, so no two
    requests start closer than that, and an idle spell earns no burst. Every request counts:
    the engine takes a slot for each job's first attempt, and the caller's send() takes one
    for each retry (``HttpOptions.pace = pacer.wait``), so one pacer — made with
    ``make_pacer`` and handed to the engine in ``BulkOptions.pacer`` — governs them all.

    ``cancel()`` (the engine calls it on Ctrl-C/SIGTERM and at the end of the run) makes every
    waiting and future ``wait`` return False at once: a pacer serves one run.
    """

    def __init__(self, rate: float) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, not {rate!r}")
        self.rate = rate
        self.interval = 1.0 / rate
        # One condition guards the last start and the queue of waiters, and wakes them on
        # cancel() and wake(). Slots go to waiters strictly in queue order (first come, first
        # served), so a paced run starts its items in input order; starts are serialised,
        # which is exactly what the rule asks.
        self._cond = threading.Condition(threading.Lock())
        self._last = -math.inf
        self._cancelled = False
        self._queue: deque[object] = deque()

    def enter(self) -> object:
        """Take a place in the queue now (the engine does, as it takes a job in input order);
        pass the ticket to ``wait``, which always gives the place up again."""
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
        return ticket

    def wait(self, give_up: Callable[[], bool] | None = None, ticket: object = None) -> bool:
        """Block until this caller may start; False if cancelled (or ``give_up()``) meanwhile.

        ``give_up`` is checked before granting a slot and whenever ``wake()`` is called; the
        engine passes its "stop sending new items" test so first attempts not yet started are
        dropped at once after --fail-fast, while retries of requests in flight keep theirs.
        """
        with self._cond:
            if ticket is None:
                ticket = object()
                self._queue.append(ticket)
            try:
                while True:
                    if self._cancelled or (give_up is not None and give_up()):
                        return False
                    if self._queue[0] is ticket:
                        delay = self._last + self.interval - time.monotonic()
                        if delay <= 0:
                            break
                        self._cond.wait(delay)
                    else:
                        self._cond.wait()  # the waiters ahead are served first
                self._last = time.monotonic()
                return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def wake(self) -> None:
        """Make waiters re-check their ``give_up`` now (call after changing what it tests)."""
        with self._cond:
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._cancelled


def make_pacer(rate: float | None) -> Pacer | None:
    """The pacer for ``--rate R`` (None for 0/None: unlimited); UsageError for a bad R."""
    check_rate(rate)
    return Pacer(rate) if rate else None


def check_rate(rate: float | None) -> None:
    if rate is not None and not (rate >= 0 and math.isfinite(rate)):
        raise UsageError(f"--rate {rate}: must be 0 (unlimited) or more")


# -- duplicate detection ---------------------------------------------------------------------
class _SeenIds:
    """Ids seen in this run, in a temporary SQLite file so memory does not grow with input.

    A Python set would cost ~100 bytes per item (≈100 MB for a million-item nightly file);
    SQLite keeps a small page cache and spills the rest to a temp file that is deleted on close.
    Ids are stored as 16-byte BLAKE2 digests with the index of their first occurrence.
    """

    def __init__(self) -> None:
        import sqlite3

        self._conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("CREATE TABLE seen (id BLOB PRIMARY KEY, idx INTEGER) WITHOUT ROWID")

    def first_index(self, job_id: str, index: int) -> int | None:
        """None if ``job_id`` is new (and remember it), else the index where it was first seen."""
        digest = hashlib.blake2b(
            job_id.encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        cur = self._conn.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (digest, index))
        if cur.rowcount == 1:
            return None
        row = self._conn.execute("SELECT idx FROM seen WHERE id = ?", (digest,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()


# -- terminal and stdout ---------------------------------------------------------------------
# A label is whatever the input's referenceNo (or AWB...) holds: a hostile or broken input can
# make it megabytes long. The per-item line shows this much of label and where, so one item
# stays one readable line; reports, journal and JSON keep up to RECORD_FIELD_MAX.
LINE_FIELD_MAX = LINE_WIDTH
RECORD_FIELD_MAX = 1000


def _record(index: int, job: Job, status: str, message: str, code: Any, attempts: int,
            elapsed_ms: int | None) -> dict[str, Any]:
    return {
        "index": index,
        "where": shorten(str(job.where), RECORD_FIELD_MAX, middle=True),
        "label": shorten(str(job.label), RECORD_FIELD_MAX),
        "key": None if job.key is None else shorten(str(job.key), RECORD_FIELD_MAX),
        "status": status,
        "code": code,
        "message": message,
        "attempts": attempts,
        "elapsed_ms": elapsed_ms,
    }


def item_line(record: dict[str, Any]) -> str:
    """``succeeded  TEST0001  bulk.jsonl:1 item 1  Modify success!``"""
    label = shorten(str(record["label"] or "-"), LINE_FIELD_MAX)
    where = shorten(str(record["where"]), LINE_FIELD_MAX, middle=True)
    text = f"{record['status']:<9}  {label}  {where}  {record['message']}"
    return text.replace("\r", " ").replace("\n", " ")  # one item, one line


class _Progress:
    """rich progress bar on stderr: count, rate, ETA; transient (gone when the run ends)."""

    def __init__(self, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True, highlight=False),
            transient=True,
            # stdout carries results (the -o json document): never route it to the bar's
            # console. stderr is: warnings from send() then appear above the bar.
            redirect_stdout=False,
        )
        self.task = self.progress.add_task("sending", total=total)
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.progress.stop()


class _JsonStream:
    """``{"results": [ ... ], "summary": {...}}`` written piece by piece to stdout."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.count = 0
        out.stdout.write('{"results": [')

    def add(self, record: dict[str, Any]) -> None:
        text = json.dumps(record, ensure_ascii=False, default=str)
        self.out.stdout.write(("\n  " if self.count == 0 else ",\n  ") + self.out.scrub(text))
        self.count += 1

    def close(self, summary: dict[str, Any]) -> None:
        text = json.dumps(summary, ensure_ascii=False, indent=2)
        self.out.stdout.write(("\n" if self.count else "") + '],\n"summary": ')
        self.out.stdout.write(self.out.scrub(text) + "}\n")
        self.out.stdout.flush()


# -- the engine ------------------------------------------------------------------------------
class _StopPulling(BaseException):
    """Raised by the signal handler only while the main thread waits for the next job."""


_FINISHED = 0
_NOT_STARTED = 1
_NOTHING = object()


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, ShipctlError) else f"{type(exc).__name__}: {exc}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"error: {first[:500]}"


class _Engine:
    def __init__(self, send: Callable[[Job], Outcome], options: BulkOptions, out: Output,
                 total: int | None, hold: str | None) -> None:
        if options.jobs < 1:
            raise UsageError(f"--jobs {options.jobs}: must be at least 1")
        check_rate(options.rate)
        self.send = send
        self.options = options
        self.out = out
        self.hold = hold
        self.summary = Summary()
        self.workers = options.jobs
        # Jobs held at once (in flight + ready + waiting behind a busy ordering key). Reading
        # ahead lets other keys proceed while one key's items wait their turn.
        self.window_limit = max(64, 8 * options.jobs)
        # A main thread asleep on a full window is woken when the window is down to this, so
        # it reads a batch of jobs per wake-up rather than one job per finished job.
        self.window_low = self.window_limit - max(1, self.window_limit // 4)
        self.window = 0

        self.stop_sending = threading.Event()
        self.stop_status = NOT_SENT
        self.stop_message = ""
        self.pacer = options.pacer if options.pacer is not None else make_pacer(options.rate)
        # Guards everything below that workers touch, and every write (journal, report,
        # stdout, stderr). Never taken by the signal handler (it may run while the main thread
        # holds it); idle workers wait on ``work_ready`` for a job.
        self.lock = threading.Lock()
        self.work_ready = threading.Condition(self.lock)
        self.idle = 0  # workers waiting on work_ready and not yet notified
        self.closing = False  # workers exit; nothing more is recorded
        self.error: BaseException | None = None  # raised by a worker while recording
        # The main thread sleeps on this; SimpleQueue.put is reentrant, so the signal handler
        # may use it while get() waits. Workers put only when ``main_asleep`` (under the lock).
        self.wake: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.main_asleep = False
        self.threads: list[threading.Thread] = []

        self.inflight: dict[int, Job] = {}
        self.started: dict[int, float] = {}  # written by workers when send() is called
        # Jobs free to start, lowest input index first: with --jobs 1 items go in input order,
        # and a key's next item does not queue behind everything read meanwhile.
        self.ready: list[tuple[int, Job]] = []  # a heap
        self.waiting: dict[str, deque[tuple[int, Job]]] = {}  # key → later jobs of that key
        self.failed_keys: set[str] = set()

        self.input_done = False
        self.input_error: BaseException | None = None
        self.pulling = False
        self.signals = 0
        self.deadline: float | None = None
        self.abandon = False
        self.old_handlers: dict[int, Any] = {}

        self.total_hint = total
        self.journal: Any = None
        self.report: Any = None
        self.seen: _SeenIds | None = None
        self.progress: _Progress | None = None
        self.json: _JsonStream | None = None
        self.t0 = time.monotonic()

    # -- setup / teardown -------------------------------------------------------------------
    def open(self) -> None:
        from shipctl.journal import Journal
        from shipctl.report import ReportWriter

        o = self.options
        if o.journal and o.report and Path(o.journal).resolve() == Path(o.report).resolve():
            raise UsageError(f"--journal and --report are the same file ({o.report})")
        # Everything that can be refused is checked before anything is written to stdout.
        if o.journal is not None and self.hold is None:
            self.journal = Journal.open(Path(o.journal), command=o.command)
        try:
            if o.report is not None:
                self.report = ReportWriter.open(Path(o.report))
            self.seen = _SeenIds()
        except BaseException:
            self.close_files()
            raise
        self.install_signals()
        if self.out.json_mode:
            self.json = _JsonStream(self.out)
        if self.out.stderr_is_tty:
            self.progress = _Progress(self.total_hint)

    def close_files(self) -> None:
        if self.journal is not None:
            self.journal.finish(self.summary.as_dict())
            self.journal.close()
        if self.report is not None:
            self.report.close()
        if self.seen is not None:
            self.seen.close()

    def teardown(self) -> None:
        with self.lock:
            self.stop_sending.set()
            self.closing = True  # abandoned workers are daemon threads and exit on their own
            self.idle = 0
            self.work_ready.notify_all()
        if self.pacer is not None:
            self.pacer.cancel()  # workers (and abandoned retries) waiting for it give up
        self.restore_signals()
        with self.lock:  # an abandoned worker never writes once closing is set
            if self.progress is not None:
                self.progress.close()
            self.summary.elapsed = time.monotonic() - self.t0
            self.close_files()
            if self.json is not None:
                self.json.close(self.summary.as_dict())
            else:
                self.out.print(self.summary.line())

    # -- signals ----------------------------------------------------------------------------
    def install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.old_handlers[sig] = signal.signal(sig, self.on_signal)
            except (ValueError, OSError):
                pass

    def restore_signals(self) -> None:
        for sig, old in self.old_handlers.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self.old_handlers.clear()

    def on_signal(self, signum: int, frame: Any) -> None:
        # Runs in the main thread between two bytecodes: only note the signal and wake the
        # loop. Nothing is written here, so a report line or a journal commit is never cut.
        self.signals += 1
        if self.summary.signal is None:
            self.summary.signal = signal.Signals(signum).name
        self.wake.put(None)
        if self.pulling and self.signals == 1:
            raise _StopPulling  # waiting on the input (e.g. a quiet stdin): stop reading it

    def check_signals(self) -> None:
        """Act on signals noted by on_signal: 1st → stop and allow a grace; 2nd → abandon."""
        if not self.signals:
            return
        if not self.summary.interrupted:
            self.summary.interrupted = True
            self.deadline = time.monotonic() + self.options.grace_seconds
            self.stop(INTERRUPTED, f"not sent: interrupted ({self.summary.signal})")
            if self.pacer is not None:
                # Retries waiting for a slot give up now (send() returns their last result);
                # jobs waiting for their first slot are reported interrupted, never sent.
                self.pacer.cancel()
            # Only requests whose send() began are "in flight"; the others were waiting for
            # the pacer and come back not started.
            sending = sum(1 for index in self.inflight if index in self.started)
            if sending and self.signals == 1:
                self.note(
                    f"interrupted: letting {sending} request(s) in flight finish "
                    f"(up to {self.options.grace_seconds:g} s); "
                    "press Ctrl-C again to abandon them"
                )
        if self.signals >= 2:
            self.abandon = True

    def note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.note(self.out.scrub(text))
        else:
            self.out.info(text)

    # -- the main loop ----------------------------------------------------------------------
    def run(self, jobs: Iterable[Job]) -> None:
        it = iter(jobs)
        try:
            while True:
                self.fill(it)
                with self.lock:
                    if self.error is not None:
                        raise self.error
                    self.check_signals()
                    if self.abandon:
                        break
                    if self.window == 0 and (self.input_done or self.summary.interrupted):
                        break
                    if self.can_read():
                        continue
                    # Nothing to read now: sleep until a worker makes room, the run may be
                    # over, a worker fails to record, or a signal arrives.
                    self.main_asleep = True
                if not self.sleep():
                    with self.lock:
                        self.main_asleep = False
                        self.abandon = True
                    break
                with self.lock:
                    self.main_asleep = False
            with self.lock:
                self.abandon_inflight()
        finally:
            with self.lock:
                self.closing = True  # late results of abandoned workers are not recorded
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # the input's own clean-up must not hide our outcome
                    pass

    def can_read(self) -> bool:
        return not self.input_done and not self.signals and self.error is None and (
            self.window < self.window_limit or self.stop_sending.is_set()
        )

    def sleep(self) -> bool:
        """Wait for a wake-up; False when the grace period after Ctrl-C is over."""
        if self.deadline is None:
            timeout = None
        else:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                return False
        try:
            self.wake.get(timeout=timeout)
        except queue.Empty:
            return False
        return True

    def wake_main(self) -> None:
        """Under the lock: wake the main thread if it sleeps and has something to do."""
        if self.main_asleep and (
            self.window == 0
            or self.error is not None
            or (not self.input_done and not self.signals and (
                self.window <= self.window_low or self.stop_sending.is_set()))
        ):
            self.main_asleep = False
            self.wake.put(None)

    def fill(self, it: Iterator[Job]) -> None:
        while self.can_read():
            job: Any = _NOTHING
            try:
                try:
                    self.pulling = True
                    job = next(it)
                finally:
                    self.pulling = False
            except StopIteration:
                self.input_done = True
                return
            except _StopPulling:
                # the signal handler interrupted a blocking read: stop reading the input
                self.pulling = False
                self.input_done = True
                if job is _NOTHING:
                    return
            except Exception as exc:  # unreadable input mid-stream: stop, report, re-raise
                with self.lock:
                    self.input_done = True
                    self.input_error = exc
                    self.stop(NOT_SENT, "not sent: the input could not be read to the end")
                return
            with self.lock:
                if self.error is not None:
                    return  # a worker could not record an outcome: the run stops now
                self.summary.total += 1
                self.check_signals()
                # queued jobs start at once: the next read may block (a slow pipe)
                self.admit(self.summary.total, job)

    def admit(self, index: int, job: Job) -> None:
        """Decide a job's fate as it is read: report it now, or queue it for sending."""
        if job.problems:
            self.finish(index, job, INVALID, "; ".join(job.problems))
            return
        assert self.seen is not None
        first = self.seen.first_index(str(job.id), index)
        if first is not None:
            self.finish(index, job, DUPLICATE, f"duplicate of item {first}; not sent again")
        elif self.journal is not None and self.journal.succeeded(str(job.id)):
            self.finish(index, job, SKIPPED, "already succeeded (journal); not sent again")
        elif job.key is not None and job.key in self.failed_keys:
            self.finish(index, job, BLOCKED, self.blocked_message(job.key))
        elif self.hold is not None:
            self.finish(index, job, NOT_SENT, self.hold)
        elif self.stop_sending.is_set():
            self.finish(index, job, self.stop_status, self.stop_message)
        else:
            self.window += 1
            if job.key is not None:
                later = self.waiting.get(job.key)
                if later is not None:
                    later.append((index, job))
                    return
                self.waiting[job.key] = deque()
            self.make_ready(index, job)

    @staticmethod
    def blocked_message(key: str) -> str:
        shown = shorten(key, LINE_FIELD_MAX)
        return f"not sent: an earlier item with the same ordering key ({shown}) failed"

    def make_ready(self, index: int, job: Job) -> None:
        """Under the lock: ``job`` may start; hand it to an idle worker or a new one."""
        heapq.heappush(self.ready, (index, job))
        if self.idle:
            self.idle -= 1
            self.work_ready.notify()
        elif len(self.threads) < self.workers:  # threads as needed, up to --jobs
            thread = threading.Thread(target=self.worker, name="shipctl-send", daemon=True)
            thread.start()
            self.threads.append(thread)

    def take(self) -> tuple[int, Job] | None:
        """Under the lock: the next job to send (lowest index first), or None to exit."""
        while not self.closing:
            if self.ready and not self.stop_sending.is_set() and not self.signals:
                index, job = heapq.heappop(self.ready)
                self.inflight[index] = job
                return index, job
            self.idle += 1
            self.work_ready.wait()
        return None

    def complete(self, index: int, kind: int, outcome: Outcome | None, elapsed: float) -> None:
        """Under the lock, in the worker that sent it: record a job's outcome."""
        if self.closing:
            return
        job = self.inflight.pop(index, None)
        if job is None:
            return  # abandoned earlier; its late result is not ours to report
        self.started.pop(index, None)
        self.window -= 1
        if kind == _NOT_STARTED or outcome is None:
            self.finish(index, job, self.stop_status, self.stop_message)
            self.release(job.key, self.stop_status)
            return
        self.summary.sent += 1
        status = SUCCEEDED if outcome.ok else FAILED
        self.finish(index, job, status, outcome.message, outcome.code, outcome.attempts,
                    int(elapsed * 1000), outcome.detail)
        self.release(job.key, status)
        if status == FAILED and not self.stop_sending.is_set():
            if outcome.fatal:
                self.stop(NOT_SENT, secrets.redact(
                    f"not sent: stopped after item {index} failed: {outcome.message}"))
            elif self.options.fail_fast:
                self.stop(NOT_SENT, "not sent: --fail-fast after an earlier failure")

    def release(self, key: str | None, status: str) -> None:
        """The job holding ``key`` finished: start the next one of that key, or block them."""
        if key is None:
            return
        later = self.waiting.pop(key, None) or deque()
        if status == FAILED:
            self.failed_keys.add(key)  # the one thing remembered for the whole run
            for index, job in later:
                self.window -= 1
                self.finish(index, job, BLOCKED, self.blocked_message(key))
        elif status == SUCCEEDED:
            if later:
                self.make_ready(*later.popleft())
                self.waiting[key] = later
        else:
            for index, job in later:
                self.window -= 1
                self.finish(index, job, self.stop_status, self.stop_message)

    def stop(self, status: str, message: str) -> None:
        """Start nothing new; everything read but not started gets ``status``."""
        if not self.stop_sending.is_set():
            self.stop_status, self.stop_message = status, message
            self.stop_sending.set()
            if self.pacer is not None:
                self.pacer.wake()  # first attempts waiting for a slot are dropped at once
        while self.ready:
            index, job = heapq.heappop(self.ready)
            self.window -= 1
            self.finish(index, job, self.stop_status, self.stop_message)
            later = self.waiting.pop(job.key, None) if job.key is not None else None
            for later_index, later_job in later or ():
                self.window -= 1
                self.finish(later_index, later_job, self.stop_status, self.stop_message)
        for later in self.waiting.values():  # keys whose head is still in flight
            while later:
                index, job = later.popleft()
                self.window -= 1
                self.finish(index, job, self.stop_status, self.stop_message)

    def abandon_inflight(self) -> None:
        for index, job in sorted(self.inflight.items()):
            if index in self.started:
                self.summary.sent += 1
                message = "abandoned in flight: result unknown; a re-run sends it again"
            else:
                message = self.stop_message or "not sent: interrupted"
            self.finish(index, job, INTERRUPTED, message)
        self.inflight.clear()

    # -- workers ----------------------------------------------------------------------------
    def worker(self) -> None:
        lock, send, pacer = self.lock, self.send, self.pacer
        stopping = self.stop_sending.is_set
        monotonic = time.monotonic
        lock.acquire()
        try:
            while True:
                task = self.take()
                if task is None:
                    return
                index, job = task
                # queue for the pacer while the job is still taken in input order
                ticket = pacer.enter() if pacer is not None else None
                lock.release()
                try:
                    if pacer is not None:
                        started = pacer.wait(lambda: stopping() or bool(self.signals), ticket)
                    else:
                        started = not (stopping() or self.signals)
                    if not started:
                        kind, outcome, elapsed = _NOT_STARTED, None, 0.0
                    else:
                        kind = _FINISHED
                        start = monotonic()
                        self.started[index] = start
                        try:
                            outcome = send(job)
                            if not isinstance(outcome, Outcome):
                                outcome = Outcome(
                                    False, f"error: send returned {type(outcome).__name__}")
                        except BaseException as exc:  # a bug or an error in send(): this job
                            # fails, the run goes on
                            outcome = Outcome(False, secrets.redact(_one_line(exc)))
                        elapsed = monotonic() - start
                finally:
                    lock.acquire()
                try:
                    self.complete(index, kind, outcome, elapsed)
                except BaseException as exc:  # e.g. the journal cannot be written: stop the run
                    if self.error is None:
                        self.error = exc
                    self.closing = True  # nothing more is recorded; the main thread raises it
                    self.stop_sending.set()
                    self.idle = 0
                    self.work_ready.notify_all()
                self.wake_main()
        finally:
            lock.release()

    # -- one finished item ------------------------------------------------------------------
    def finish(self, index: int, job: Job, status: str, message: str, code: Any = None,
               attempts: int = 0, elapsed_ms: int | None = None,
               detail: dict | None = None) -> None:
        self.summary.counts[status] += 1
        message = secrets.redact(str(message))
        record = _record(index, job, status, message, code, attempts, elapsed_ms)
        if self.journal is not None:
            # Journal first: if we die between the two, the re-run reports it as skipped.
            self.journal.record(item_id=str(job.id), key=record["key"], label=record["label"],
                                where=record["where"], status=status, code=code,
                                message=message, attempts=attempts)
        if detail:
            record["detail"] = detail
        if self.report is not None:
            self.report.write(record)
        if self.json is not None:
            self.json.add(record)
        if self.progress is not None:
            if status in _NOTEWORTHY:
                self.progress.note(self.out.scrub(item_line(record)))
            self.progress.advance()
        else:
            self.out.info(item_line(record))


def run(
    jobs: Iterable[Job],
    send: Callable[[Job], Outcome],
    options: BulkOptions,
    out: Output,
    *,
    total: int | None = None,
    hold: str | None = None,
) -> Summary:
    """Send every job with ``send`` under the bulk rules; report each; return the summary.

    ``total``: the number of jobs if known (for the progress bar's ETA). ``hold``: send nothing
    and report every valid job ``not_sent`` with this message (``--strict`` with invalid items;
    see ``strict_hold_reason``); the journal is not opened then.

    The caller exits with ``summary.exit_code()`` (130 after Ctrl-C/SIGTERM). Raises
    UsageError before anything is written when the journal or report cannot be used, and
    re-raises an error from reading ``jobs`` after reporting what was done up to it.
    """
    engine = _Engine(send, options, out, total, hold)
    engine.open()
    try:
        engine.run(jobs)
    finally:
        engine.teardown()
    if engine.input_error is not None:
        raise engine.input_error
    return engine.summary
