"""``--rate R``: one pacer per run for every request, retries included (docs/conventions.md,
Bulk engine)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from shipctl.errors import UsageError


class Pacer:
    """At most ``rate`` request starts per second, evenly spaced (``--rate``).

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
                if not self._turn(ticket, give_up):
                    return False
                self._grant()
                return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def _turn(self, ticket: object, give_up: Callable[[], bool] | None) -> bool:
        """Under the condition: wait until ``ticket`` heads the queue and its slot has come;
        False when cancelled or ``give_up()`` first."""
        while not (self._cancelled or (give_up is not None and give_up())):
            if self._queue[0] is not ticket:
                self._cond.wait()  # the waiters ahead are served first
                continue
            delay = self._last + self.interval - time.monotonic()
            if delay <= 0:
                return True
            self._cond.wait(delay)
        return False

    def _grant(self) -> None:
        """Under the condition: a start happens now. The one place a slot is given, so a test
        can see the real start times (and their spacing) rather than its own late readings."""
        self._last = time.monotonic()

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
