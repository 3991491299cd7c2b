"""Which job may start when, and the fate of those that may not (docs/conventions.md,
Bulk engine).

Plain code: no threads, no locks, no sleeps, no clock. The engine calls it under its lock and
turns what it returns into records; the tests drive it directly.

- The read-ahead window: at most ``window_limit`` jobs are held at once (ready, taken, or
  queued behind an ordering key), so memory does not grow with the input.
- Ordering keys: one FIFO queue per key, in input order. A job is appended to the queues of
  all its keys at once, when it is read, and starts when it heads every one of them. Because
  every queue is in input order, the earliest job held heads all of its queues, so the jobs
  always drain, however their key sets overlap.
- Failed keys: when a job fails, all its keys fail; later jobs holding any of them are
  ``blocked``, and so are the jobs after *those* on their other keys (each assumed the one
  before it happened). With ``invalid_blocks_keys`` (Fynd, Ecom) an invalid job's keys fail
  too. The failed keys are the one thing remembered for the whole run besides the ids.
- Duplicates: ``seen.SeenBefore`` (a dict, then a temporary SQLite file). Skips: the
  journal's ``succeeded`` test.
- Stop (``--fail-fast``, a fatal outcome, Ctrl-C, unreadable input) and hold (``--strict``):
  nothing new starts; every job held but not taken gets the stop status at once.

Every method returns the jobs it settled as ``(index, job, status, message)`` tuples, in input
order, for the caller to record; jobs that may start go on ``ready`` (a heap: lowest input
index first, so with --jobs 1 items go in input order and a key's next item does not queue
behind everything read meanwhile).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Sequence

from shipctl.batch.seen import SeenBefore
from shipctl.batch.vocabulary import (
    BLOCKED,
    DUPLICATE,
    FAILED,
    INVALID,
    LINE_FIELD_MAX,
    NOT_SENT,
    SKIPPED,
    SUCCEEDED,
    UNKNOWN,
    Job,
    problems_text,
)
from shipctl.output import shorten

# (input index, job, status, message): a job whose fate is decided, to be recorded.
Settled = tuple[int, Job, str, str]
Entry = tuple[int, Job]
_NONE: Sequence[Settled] = ()  # shared: the common "queued, nothing to record" answer

# Why a key failed, as the blocked message ends: "... ordering key (K) failed".
_FAILED, _INVALID, _BLOCKED = "failed", "was invalid", "was blocked"
_UNKNOWN = "has an unknown outcome"  # sent, maybe applied: what follows cannot assume either


def strict_hold_reason(invalid: int, total: int) -> str:
    """The message for valid jobs held back by ``--strict`` (pass as ``run(..., hold=...)``)."""
    return f"not sent: --strict and {invalid} of {total} items are invalid"


def blocked_message(key: str, why: str = _FAILED) -> str:
    shown = shorten(key, LINE_FIELD_MAX)
    return f"not sent: an earlier item with the same ordering key ({shown}) {why}"


def window_for(workers: int) -> int:
    # Reading ahead lets other keys proceed while one key's items wait their turn.
    return max(64, 8 * workers)


class Scheduler:
    def __init__(
        self,
        *,
        window: int = 64,
        fail_fast: bool = False,
        invalid_blocks_keys: bool = False,
        hold: str | None = None,
        seen: SeenBefore | None = None,
        journaled: Callable[[str], str | None] | None = None,
    ) -> None:
        self.window_limit = window
        # A reader asleep on a full window is woken when it is down to this, so it reads a
        # batch of jobs per wake-up rather than one job per finished job.
        self.window_low = window - max(1, window // 4)
        self.window = 0  # jobs held: ready + taken + queued behind a key
        self.fail_fast = fail_fast
        self.invalid_blocks_keys = invalid_blocks_keys
        self.hold = hold
        self.seen = seen if seen is not None else SeenBefore()
        # a job id → its status in the journal from earlier runs (None: not there)
        self.journaled = journaled

        self.ready: list[Entry] = []  # a heap; each job heads every queue of its keys
        self.taken: dict[int, Job] = {}  # handed out by take(), not yet settled
        # key → the jobs holding it, in input order; the head is ready or taken, or waits
        # to head its other keys' queues too. A key with no job held has no queue.
        self.queues: dict[str, deque[Entry]] = {}
        self.failed_keys: dict[str, str] = {}  # key → why (_FAILED, _INVALID, _BLOCKED)
        self.stopped = False
        self.stop_status = NOT_SENT
        self.stop_message = ""

    # -- the window ---------------------------------------------------------------------------
    def has_room(self) -> bool:
        """May another job be read now? (After a stop every job read is settled at once.)"""
        return self.window < self.window_limit or self.stopped

    def wants_more(self) -> bool:
        """Worth waking a sleeping reader: room for a batch of jobs, not just one."""
        return self.window <= self.window_low or self.stopped

    # -- a job is read ------------------------------------------------------------------------
    def admit(self, index: int, job: Job) -> Sequence[Settled]:
        """Decide a job's fate as it is read: settle it now, or hold it until it may start."""
        keys = job.keys
        if job.problems:
            if self.invalid_blocks_keys:
                self._fail(keys, _INVALID)
            return [(index, job, INVALID, problems_text(job.problems))]
        first = self.seen.first(str(job.id), index)
        if first is not None:
            return [(index, job, DUPLICATE, f"duplicate of item {first}; not sent again")]
        if self.journaled is not None:
            previous = self.journaled(str(job.id))
            if previous == SUCCEEDED:
                return [(index, job, SKIPPED, "already succeeded (journal); not sent again")]
            job.previous = previous
            if previous is not None and job.parts:  # a body that did not wholly succeed
                job.previous_parts = {part: self.journaled(part) for part in job.parts}
        if keys and self.failed_keys:
            for key in keys:
                why = self.failed_keys.get(key)
                if why is not None:
                    self._fail(keys, _BLOCKED)  # its other keys: later jobs assumed this one
                    return [(index, job, BLOCKED, blocked_message(key, why))]
        if self.hold is not None:
            return [(index, job, NOT_SENT, self.hold)]
        if self.stopped:
            return [(index, job, self.stop_status, self.stop_message)]
        self.window += 1
        entry = (index, job)
        queues = self.queues
        heads = True
        for key in keys:
            queue = queues.get(key)
            if queue:
                queue.append(entry)
                heads = False
            else:
                queues[key] = deque((entry,))
        if heads:
            heapq.heappush(self.ready, entry)
        return _NONE

    def _fail(self, keys: tuple[str, ...], why: str) -> None:
        """Later jobs holding any of ``keys`` are blocked (a real failure names itself)."""
        failed = self.failed_keys
        for key in keys:
            if why in (_FAILED, _UNKNOWN):
                failed[key] = why
            else:
                failed.setdefault(key, why)

    # -- sending ------------------------------------------------------------------------------
    def take(self) -> Entry | None:
        """The next job to send (lowest input index first), or None."""
        if not self.ready:
            return None
        entry = heapq.heappop(self.ready)
        self.taken[entry[0]] = entry[1]
        return entry

    def settle(self, index: int) -> Job | None:
        """A taken job is done (sent, or given up before it started): it leaves the window.
        None if it was abandoned (``abandon``) meanwhile. Then call ``release``."""
        job = self.taken.pop(index, None)
        if job is not None:
            self.window -= 1
        return job

    def release(self, index: int, job: Job, status: str, *,
                fatal: str | None = None) -> Sequence[Settled]:
        """``job`` ended with ``status``: let go of its keys and settle what that decides.

        SUCCEEDED: each key's next job may start (when it heads all its keys). FAILED: its
        keys fail and the jobs behind it are blocked; then ``fatal`` (the message for what
        is not sent) or ``fail_fast`` stops the run. Anything else (it never started: the
        run is stopping): the jobs behind it get that status too.
        """
        if status == SUCCEEDED:  # the common case, kept short: nothing else to settle
            if job.keys:
                self._advance(job.keys)
            return _NONE
        settled: list[Settled] = []
        failed = status in (FAILED, UNKNOWN)
        if job.keys:
            if failed:
                self._fail(job.keys, _FAILED if status == FAILED else _UNKNOWN)
                self._drop_after((index, job), BLOCKED, None, settled)
            else:
                self._drop_after((index, job), self.stop_status, self.stop_message, settled)
        if failed and not self.stopped:
            if fatal is not None:
                settled += self.stop(NOT_SENT, fatal)
            elif self.fail_fast:
                settled += self.stop(NOT_SENT, "not sent: --fail-fast after an earlier failure")
        return settled

    def _advance(self, keys: tuple[str, ...]) -> None:
        """The head of each of ``keys`` succeeded: the next one of each key may start."""
        queues, ready = self.queues, self.ready
        for key in keys:
            queue = queues[key]
            queue.popleft()  # the job that finished
            if not queue:
                del queues[key]
                continue
            after = queue[0]
            others = after[1].keys
            # It starts when it heads all its queues; checked one key at a time, so when
            # it shares several keys with the job that finished, it is pushed exactly once
            # (on the last of them).
            if len(others) == 1 or all(queues[k][0] is after for k in others):
                heapq.heappush(ready, after)

    def _drop_after(self, first: Entry, status: str, message: str | None,
                    settled: list[Settled]) -> None:
        """Settle every job queued after ``first`` on its keys, and (transitively) the jobs
        after those on their other keys. ``message`` None: ``blocked`` by a failed key."""
        queues = self.queues
        todo, done, found = [first], {first[0]}, []
        while todo:
            index, job = todo.pop()
            if message is None and job is not first[1]:
                self._fail(job.keys, _BLOCKED)  # the jobs after it assumed it happened
            for key in job.keys:
                queue = queues.get(key)
                if queue is None:
                    continue
                # Queues are in input order and none of these has started (a queue's head is
                # the only one that may have): cut the tail from ``index`` on.
                while queue and queue[-1][0] >= index:
                    entry = queue.pop()
                    if entry[0] not in done:
                        done.add(entry[0])
                        found.append((entry, key))
                        todo.append(entry)
                if not queue:
                    del queues[key]
        found.sort(key=lambda item: item[0][0])  # recorded in input order
        self.window -= len(found)
        for (index, job), key in found:
            if message is None:
                settled.append((index, job, BLOCKED,
                                blocked_message(key, self.failed_keys.get(key, _FAILED))))
            else:
                settled.append((index, job, status, message))

    # -- stopping -----------------------------------------------------------------------------
    def stop(self, status: str, message: str) -> Sequence[Settled]:
        """Start nothing new; every job held but not taken is settled with ``status`` (the
        first stop's status and message stand for the rest of the run)."""
        if not self.stopped:
            self.stopped = True
            self.stop_status, self.stop_message = status, message
        taken = self.taken
        pending = {index: job for index, job in self.ready}
        kept: dict[str, deque[Entry]] = {}
        for key, queue in self.queues.items():
            for index, job in queue:
                if index not in taken:
                    pending[index] = job
            if queue[0][0] in taken:  # its head is being sent: it still holds the key
                kept[key] = deque((queue[0],))
        self.ready, self.queues = [], kept
        self.window -= len(pending)
        return [(index, pending[index], self.stop_status, self.stop_message)
                for index in sorted(pending)]

    def abandon(self) -> list[Entry]:
        """The taken jobs, in input order, forgotten: the run ends without their results."""
        taken = sorted(self.taken.items())
        self.taken.clear()
        return taken

    def close(self) -> None:
        self.seen.close()
