"""The bulk engine's threads: reading, sending, signals — wiring the scheduler and the recorder.

The calling (main) thread reads the jobs lazily and has the scheduler decide each one's fate as
it is read; it also handles Ctrl-C/SIGTERM, whose handlers only ever run in it. ``--jobs``
worker threads take the next ready job themselves, wait for the pacer, call ``send`` and record
the outcome themselves, then take the next job: a job costs no round trip through the main
thread. The scheduler, the recorder and every write are guarded by one lock, so records are
never interleaved and the journal is still written before the report. The main thread sleeps
while the window is full or everything read is in flight, and is woken only when there is room
to read a batch of jobs, when the run may be over, or by a signal.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipctl import secrets
from shipctl.batch.pacing import Pacer, check_rate, make_pacer
from shipctl.batch.recorder import Recorder
from shipctl.batch.scheduler import Scheduler, Settled, window_for
from shipctl.batch.vocabulary import (
    INTERRUPTED,
    NOT_SENT,
    SUCCEEDED,
    UNKNOWN,
    Job,
    Outcome,
    Summary,
)
from shipctl.errors import ShipctlError, UsageError
from shipctl.output import Output


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
    # For Fynd and Ecom an invalid item blocks its keys too (a later transition or
    # scan assumes the earlier one happened); EWE modifications supersede each other, so
    # there (False) an invalid item blocks nothing.
    invalid_blocks_keys: bool = False
    # The caller holds the journal already (``shipctl.journal.JournalLock``, taken before it
    # read the input: the runner). None: the engine takes it itself when it opens the journal,
    # and a journal another run holds is refused (exit 2).
    journal_lock: Any = None
    # The provider's call can be sent twice safely (EWE, Ecom). False (Fynd): a request
    # abandoned in flight at Ctrl-C may have been applied, so it is UNKNOWN, not interrupted.
    idempotent: bool = True


class _StopPulling(BaseException):
    """Raised by the signal handler only while the main thread waits for the next job."""


_FINISHED = 0
_NOT_STARTED = 1
_NOTHING = object()


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, ShipctlError) else f"{type(exc).__name__}: {exc}"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"error: {first[:500]}"


class Engine:
    def __init__(self, send: Callable[[Job], Outcome], options: BulkOptions, out: Output,
                 total: int | None, hold: str | None) -> None:
        if options.jobs < 1:
            raise UsageError(f"--jobs {options.jobs}: must be at least 1")
        check_rate(options.rate)
        self.send = send
        self.options = options
        self.hold = hold
        self.summary = Summary()
        self.workers = options.jobs
        self.recorder = Recorder(out, self.summary, total)
        self.sched: Scheduler | None = None  # made in open(), once the files are accepted

        # Set on every stop (the scheduler's, an error, the end): read by workers and the
        # pacer's give-up test without the lock.
        self.stop_sending = threading.Event()
        self.pacer = options.pacer if options.pacer is not None else make_pacer(options.rate)
        # Guards the scheduler, the recorder and everything below that workers touch. Never
        # taken by the signal handler (it may run while the main thread holds it); idle
        # workers wait on ``work_ready`` for a job.
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
        self.started: dict[int, float] = {}  # written by workers when send() is called

        self.input_done = False
        self.input_error: BaseException | None = None
        self.pulling = False
        self.signals = 0
        self.deadline: float | None = None
        self.abandon = False
        self.restore_signals: Callable[[], None] = lambda: None  # set by install_signals
        self.t0 = time.monotonic()

    # -- setup / teardown -------------------------------------------------------------------
    def open(self) -> None:
        o = self.options
        # Our handlers first: from here a signal is only noted (the run loop acts on it), so
        # one arriving while the files open cannot leave them open and unclosed.
        self.install_signals()
        try:
            # Everything that can be refused is checked before anything goes to stdout.
            self.recorder.open_files(o.journal, o.report, o.command,
                                     use_journal=self.hold is None, journal_lock=o.journal_lock)
        except BaseException:
            self.restore_signals()
            raise
        journal = self.recorder.journal
        try:
            self.sched = Scheduler(
                window=window_for(o.jobs), fail_fast=o.fail_fast,
                invalid_blocks_keys=o.invalid_blocks_keys, hold=self.hold,
                journaled=journal.status if journal is not None else None,
            )
        except BaseException:
            self.recorder.refuse()
            self.restore_signals()
            raise
        self.recorder.start()

    def teardown(self) -> None:
        with self.lock:
            self.stop_sending.set()
            self.closing = True  # abandoned workers are daemon threads and exit on their own
            self.idle = 0
            self.work_ready.notify_all()
        if self.pacer is not None:
            self.pacer.cancel()  # workers (and abandoned retries) waiting for it give up
        try:
            with self.lock:  # an abandoned worker never writes once closing is set
                self.summary.elapsed = time.monotonic() - self.t0
                failure = self.input_error or self.error
                if failure is not None:  # re-raised after this: the exit code is the error's
                    self.summary.error_exit = int(getattr(failure, "exit_code", 1))
                if self.sched is not None:
                    self.sched.close()
                self.recorder.close()
        finally:
            # only now: a signal during the summary is noted, not raised into a half-written
            # -o json document or an unclosed report
            self.restore_signals()

    # -- signals ----------------------------------------------------------------------------
    def install_signals(self) -> None:
        """Our handler for SIGINT and SIGTERM; ``restore_signals`` puts back the ones found."""
        from shipctl.stopping import handle

        self.restore_signals = handle(self.on_signal, (signal.SIGINT, signal.SIGTERM))

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
            sending = sum(1 for index in self.sched.taken if index in self.started)
            if sending and self.signals == 1:
                self.recorder.note(
                    f"interrupted: letting {sending} request(s) in flight finish "
                    f"(up to {self.options.grace_seconds:g} s); "
                    "press Ctrl-C again to abandon them"
                )
        if self.signals >= 2:
            self.abandon = True

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
                    if self.sched.window == 0 and (self.input_done or self.summary.interrupted):
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
        return (not self.input_done and not self.signals and self.error is None
                and self.sched.has_room())

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
            self.sched.window == 0
            or self.error is not None
            or (not self.input_done and not self.signals and self.sched.wants_more())
        ):
            self.main_asleep = False
            self.wake.put(None)

    def fill(self, it: Iterator[Job]) -> None:
        sched = self.sched
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
                if self.signals:
                    # our _StopPulling, wrapped by a library it was raised inside (pydantic
                    # turns it into a validation error): the input was interrupted, not bad
                    self.input_done = True
                    return
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
                ready = len(sched.ready)
                settled = sched.admit(self.summary.total, job)
                if settled:
                    self.record(settled)
                elif len(sched.ready) > ready:
                    self.dispatch(len(sched.ready) - ready)

    def record(self, settled: Iterable[Settled]) -> None:
        finish = self.recorder.finish
        for index, job, status, message in settled:
            finish(index, job, status, message)

    def dispatch(self, count: int) -> None:
        """Under the lock: ``count`` more jobs may start; wake idle workers or start new ones."""
        for _ in range(count):
            if self.idle:
                self.idle -= 1
                self.work_ready.notify()
            elif len(self.threads) < self.workers:  # threads as needed, up to --jobs
                thread = threading.Thread(target=self.worker, name="shipctl-send", daemon=True)
                thread.start()
                self.threads.append(thread)
            else:
                return

    def stop(self, status: str, message: str) -> None:
        """Under the lock: start nothing new; everything read but not started gets ``status``."""
        settled = self.sched.stop(status, message)
        self.stopped()
        self.record(settled)

    def stopped(self) -> None:
        """The scheduler has stopped: tell the workers and the pacer's waiters at once."""
        if not self.stop_sending.is_set():
            self.stop_sending.set()
            if self.pacer is not None:
                self.pacer.wake()  # first attempts waiting for a slot are dropped at once

    def abandon_inflight(self) -> None:
        for index, job in self.sched.abandon():
            status = INTERRUPTED
            if index in self.started:
                self.summary.sent += 1
                if self.options.idempotent:
                    message = "abandoned in flight: result unknown; a re-run sends it again"
                else:  # it may have been applied: a re-run must verify, not resend
                    status = UNKNOWN
                    message = ("sent; abandoned in flight when the run was interrupted: it may"
                               " have been applied; a re-run verifies it before sending")
            else:
                message = self.sched.stop_message or "not sent: interrupted"
            self.recorder.finish(index, job, status, message)

    # -- workers ----------------------------------------------------------------------------
    def take(self) -> tuple[int, Job] | None:
        """Under the lock: the next job to send (lowest index first), or None to exit."""
        while not self.closing:
            if not self.stop_sending.is_set() and not self.signals:
                task = self.sched.take()
                if task is not None:
                    return task
            self.idle += 1
            self.work_ready.wait()
        return None

    def complete(self, index: int, kind: int, outcome: Outcome | None, elapsed: float) -> None:
        """Under the lock, in the worker that sent it: record a job's outcome."""
        if self.closing:
            return
        sched = self.sched
        job = sched.settle(index)
        if job is None:
            return  # abandoned earlier; its late result is not ours to report
        self.started.pop(index, None)
        fatal = None
        if kind == _NOT_STARTED or outcome is None:
            status = sched.stop_status
            self.recorder.finish(index, job, status, sched.stop_message)
        else:
            if outcome.attempts:  # 0: settled without a request (verified, or no credentials)
                self.summary.sent += 1
            status = outcome.status
            self.recorder.finish(index, job, status, outcome.message, outcome.code,
                                 outcome.attempts, int(elapsed * 1000), outcome.detail,
                                 outcome.parts)
            if outcome.fatal and status != SUCCEEDED:
                fatal = secrets.redact(
                    f"not sent: stopped after item {index} failed: {outcome.message}")
        ready = len(sched.ready)
        settled = sched.release(index, job, status, fatal=fatal)
        if sched.stopped:  # (even with nothing left to settle: taken jobs wait for the pacer)
            self.stopped()
        if settled:
            self.record(settled)
        if len(sched.ready) > ready:
            self.dispatch(len(sched.ready) - ready)

    def worker(self) -> None:
        with self.lock:
            while (task := self.take()) is not None:
                index, job = task
                # queue for the pacer while the job is still taken in input order
                ticket = self.pacer.enter() if self.pacer is not None else None
                with _Released(self.lock):
                    kind, outcome, elapsed = self._attempt(index, job, ticket)
                self._completed(index, kind, outcome, elapsed)
                self.wake_main()

    def _attempt(self, index: int, job: Job, ticket: Any
                 ) -> tuple[int, Outcome | None, float]:
        """Outside the lock: send ``job`` once its pacer slot comes, unless the run stops
        first; (kind, outcome, seconds)."""
        stopping = self.stop_sending.is_set
        if self.pacer is not None:
            started = self.pacer.wait(lambda: stopping() or bool(self.signals), ticket)
        else:
            started = not (stopping() or self.signals)
        if not started:
            return _NOT_STARTED, None, 0.0
        start = time.monotonic()
        self.started[index] = start
        outcome = self._send(job)
        return _FINISHED, outcome, time.monotonic() - start

    def _send(self, job: Job) -> Outcome:
        """``send(job)``; a bug or an error in it fails this job, and the run goes on."""
        try:
            if not self.options.idempotent and self.recorder.journal is not None:
                self._journal_sending(job)
            outcome = self.send(job)
        except BaseException as exc:
            return Outcome(False, secrets.redact(_one_line(exc)))
        if not isinstance(outcome, Outcome):
            return Outcome(False, f"error: send returned {type(outcome).__name__}")
        return outcome

    def _journal_sending(self, job: Job) -> None:
        """Journaled as sent before it goes: a kill -9 then leaves a row a re-run verifies."""
        with self.lock:
            if not self.closing:
                self.recorder.sending(job)

    def _completed(self, index: int, kind: int, outcome: Outcome | None,
                   elapsed: float) -> None:
        """Under the lock: record the outcome. An error doing so (the journal cannot be
        written) stops the run: nothing more is recorded and the main thread raises it."""
        try:
            self.complete(index, kind, outcome, elapsed)
        except BaseException as exc:
            if self.error is None:
                self.error = exc
            self.closing = True
            self.stop_sending.set()
            self.idle = 0
            self.work_ready.notify_all()


class _Released:
    """``with _Released(lock):`` the block runs without ``lock``, held again after it."""

    __slots__ = ("lock",)

    def __init__(self, lock: Any) -> None:
        self.lock = lock

    def __enter__(self) -> None:
        self.lock.release()

    def __exit__(self, *exc: object) -> None:
        self.lock.acquire()


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
    engine = Engine(send, options, out, total, hold)
    engine.open()
    try:
        engine.run(jobs)
    finally:
        engine.teardown()
    if engine.input_error is not None:
        raise engine.input_error
    return engine.summary
