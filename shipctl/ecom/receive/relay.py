"""`ecom listen --forward-to URL`: a durable relay that reads from the store, not from memory.

Each push stored while ``--forward-to`` is on gets a row in the store's ``forwards`` table in
the same transaction as the push itself (``shipctl.ecom.receive.store``): ``pending`` with
the time it is due, ``forwarded``, or ``dead``, with its attempts, the time of its first
attempt and the last attempt's outcome. The relay only ever acts on those rows, so:

- **a restart resumes**: whatever was pending when the listener stopped (or was killed) is
  sent by the next ``ecom listen --forward-to`` on the same store. A push whose delivery was
  in flight at a ``kill -9`` is sent again (its 2xx was never recorded): at most the pushes in
  flight are repeated, and an Ecom push is idempotent at the receiver (it dedupes on
  status_update_number);
- **per-AWB order**: a push is due only once every earlier push of its AWB was forwarded.
  Only the earliest open push of an AWB has a ``next_try``; the later ones are held (NULL)
  and the one after is released in the transaction that records a delivery;
- **retries** follow ``Schedule``: exponential back-off with jitter (the first wait, doubling
  up to a ceiling), for ``give_up`` seconds from the first attempt, then ``dead``. A dead push
  keeps the later pushes of its AWB held until ``ecom forward --retry-dead`` puts it back;
- **only a 2xx is "forwarded"**; anything else (another status, no answer) is retried;
- **memory stays flat** however far the downstream falls behind: the relay holds at most
  ``concurrency`` bodies, read from the store when they are due;
- **one relay per store**: an advisory lock on ``<store>.relay-lock``; a second listener on the
  same store with ``--forward-to`` waits for it (so no push is sent by two relays at once).

Threads: one dispatcher, which owns the relay's SQLite connection (reads what is due, records
outcomes, several per transaction), and ``concurrency`` daemon workers that send (the HTTP
layer, ``shipctl.http``, with its own retries off: the schedule here is the retry policy).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import random
import shlex
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shipctl.ecom.receive.logline import Log, log_safe, stamp
from shipctl.ecom.receive.receiver import REDACTED
from shipctl.ecom.receive.store import connect, forward_counts

CONCURRENCY = 8  # deliveries at once (of different AWBs), by default
DRAIN_SECONDS = 10.0  # on shutdown, deliveries in flight get this long to finish
POLL_SECONDS = 1.0  # the store is looked at this often for what else made pushes due
# Not relayed: they describe this hop, not the push (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset({"host", "content-length", "connection", "keep-alive", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-authorization",
                        "proxy-connection", "expect"})
_WAKE = object()


@dataclass(frozen=True)
class Schedule:
    """When to try again: after attempt n, ``first * 2**(n-1)`` seconds capped at ``most``,
    times a random factor between 0.5 and 1 (pushes that failed together do not all come
    back together); never past ``give_up`` seconds after the first attempt, then dead."""

    first: float = 10.0
    most: float = 3600.0
    give_up: float = 86400.0

    def wait(self, attempts: int) -> float:
        ceiling = min(self.most, self.first * 2.0 ** min(attempts - 1, 60))
        return ceiling * random.uniform(0.5, 1.0)


@dataclass
class _Task:
    push_id: int
    awb: str
    number: str
    attempts: int  # before this one
    first_try: float | None
    body: bytes
    headers: list[list[str]]


@dataclass
class _Outcome:
    task: _Task
    when: float
    ok: bool
    result: str  # "HTTP 200", "HTTP 500", "connection refused…"


def duration(seconds: float) -> str:
    """A wait as people read it: 0.4 s, 40 s, 12 min, 24 h."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def shown_url(url: str) -> str:
    """``url`` with a password in it masked, for the log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class Relay:
    """The relay of one store to ``url``. ``put`` after a push is stored (it only wakes the
    dispatcher: the push is already in the store); ``close`` when the listener stops."""

    def __init__(self, url: str, *, store: str, username: str, password: str, log: Log,
                 warn: Log | None = None, concurrency: int = CONCURRENCY,
                 schedule: Schedule | None = None, timeout: float = 30.0,
                 poll: float = POLL_SECONDS) -> None:
        from shipctl import http

        # the relayed pushes carry Ecom's credentials: say so when they would cross in clear
        http.warn_plain_http(url, sends_credentials=True, warn=warn or log)
        self.store = store
        self.log = log
        self.schedule = schedule or Schedule()
        self.concurrency = max(1, concurrency)
        self.poll = poll
        self._shown = shown_url(url)
        self._sender = _Sender(url, username, password, timeout=timeout,
                               connections=self.concurrency)
        self._events: queue.SimpleQueue[Any] = queue.SimpleQueue()  # outcomes and wake-ups
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._in_flight: dict[int, str] = {}  # push id → awb (dispatcher thread only)
        self._stopping = threading.Event()
        self._drain_until = 0.0  # set by close
        self._last_trouble = ""
        self._woken = False
        self._lock_fd: int | None = None
        self._workers = [threading.Thread(target=self._work, name=f"ecom-forward-{n}",
                                          daemon=True) for n in range(self.concurrency)]
        for worker in self._workers:
            worker.start()
        self._thread = threading.Thread(target=self._run, name="ecom-forward", daemon=True)
        self._thread.start()

    # -- the listener's side --------------------------------------------------------------------
    def put(self) -> None:
        """A push was stored: look for due pushes now rather than at the next poll."""
        if not self._woken:  # under load one wake-up per dispatcher round is enough
            self._woken = True
            self._events.put(_WAKE)

    def close(self, wait: float = DRAIN_SECONDS) -> None:
        """Stop dispatching, give the deliveries in flight ``wait`` seconds, record them."""
        self._drain_until = time.monotonic() + wait
        self._stopping.set()
        self._events.put(_WAKE)
        self._thread.join(wait + 5)
        for _worker in self._workers:
            self._tasks.put(None)

    # -- dispatcher -----------------------------------------------------------------------------
    def _run(self) -> None:
        connection = None
        try:
            if not self._take_lock():
                return
            connection = connect(self.store, create=False)
            # An outcome lost to a power cut only means that push is sent again (Ecom's
            # pushes are idempotent at the receiver), and the store writer's next FULL commit
            # syncs the WAL with these frames in it: no fsync of our own per outcome.
            connection.execute("PRAGMA synchronous = NORMAL")
            self._announce(connection)
            timeout = 0.0
            while True:
                self._record(connection, self._next_events(timeout))
                if self._stopping.is_set():
                    if not self._in_flight or time.monotonic() >= self._drain_until:
                        break
                    timeout = 0.1
                    continue
                try:
                    self._dispatch(connection)
                    timeout = self._until_due(connection)
                    self._last_trouble = ""
                except sqlite3.Error as error:
                    # the store busy past its timeout, an I/O error: said, tried again later
                    # (the pushes wait in the store meanwhile)
                    self._say_once(f"{stamp()} relay: cannot read the store ({error}); trying"
                                   " again every few seconds")
                    timeout = 5 * self.poll
            self._farewell(connection)
        except Exception as error:  # noqa: BLE001 - said once; the pushes stay in the store
            self.log(f"{stamp()} relay stopped: {type(error).__name__}: {log_safe(str(error))};"
                     " the pending pushes stay in the store for the next ecom listen"
                     " --forward-to")
        finally:
            if connection is not None:
                connection.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock

    def _say_once(self, line: str) -> None:
        """``line``, unless the last thing said was the same trouble (no flood in the log)."""
        if line.split(" ", 1)[1] != self._last_trouble:
            self._last_trouble = line.split(" ", 1)[1]
            self.log(line)

    def _take_lock(self) -> bool:
        """The relay lock of this store; while another process holds it, wait (and say so)."""
        try:
            import fcntl
        except ImportError:  # no advisory locks here: one relay per store is up to the user
            return True
        path = self.store + ".relay-lock"
        self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        said = False
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if said:
                    self.log(f"{stamp()} relay: the other relay of this store stopped; this one"
                             " takes over")
                return True
            except OSError:
                if not said:
                    self.log(f"{stamp()} relay: another ecom listen relays this store"
                             f" ({path} is locked); this one stands by until it stops")
                    said = True
            if self._stopping.wait(self.poll):
                return False

    def _announce(self, connection: sqlite3.Connection) -> None:
        counts = forward_counts(connection)
        if counts["pending"] or counts["dead"]:
            self.log(f"{stamp()} relay: {counts['pending']} push(es) to forward to"
                     f" {self._shown} from an earlier run, resumed{self._dead_note(counts)}")

    def _farewell(self, connection: sqlite3.Connection) -> None:
        counts = forward_counts(connection)
        if counts["pending"] or counts["dead"]:
            self.log(f"{stamp()} relay: {counts['pending']} push(es) not yet forwarded to"
                     f" {self._shown}; they stay in the store and the next ecom listen"
                     f" --forward-to on it sends them{self._dead_note(counts)}")

    def _dead_note(self, counts: dict[str, int]) -> str:
        if not counts["dead"]:
            return ""
        return (f"; {counts['dead']} dead (shipctl ecom forward --store"
                f" {shlex.quote(self.store)} --retry-dead sends them again)")

    def _next_events(self, timeout: float) -> list[_Outcome]:
        """The outcomes that came (waiting up to ``timeout`` for the first event)."""
        items = []
        try:
            items.append(self._events.get(timeout=timeout) if timeout > 0
                         else self._events.get_nowait())
            while True:
                items.append(self._events.get_nowait())
        except queue.Empty:
            pass
        self._woken = False
        return [item for item in items if item is not _WAKE]

    def _dispatch(self, connection: sqlite3.Connection) -> None:
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return
        # Only the earliest open push of each AWB has a next_try, so at most one of an AWB
        # is due; those in flight still are (their outcome is not recorded yet): skipped.
        rows = connection.execute(
            "SELECT f.push_id, f.awb, p.status_update_number, f.attempts, f.first_try, p.body,"
            " p.headers FROM forwards f JOIN pushes p ON p.id = f.push_id"
            " WHERE f.state = 'pending' AND f.next_try IS NOT NULL AND f.next_try <= ?"
            " ORDER BY f.next_try, f.push_id LIMIT ?",
            (time.time(), free + len(self._in_flight))).fetchall()
        for push_id, awb, number, attempts, first_try, body, headers in rows:
            if push_id in self._in_flight or free <= 0:
                continue
            free -= 1
            self._in_flight[push_id] = awb
            self._tasks.put(_Task(push_id, awb, number, attempts, first_try, body,
                                  json.loads(headers)))

    def _until_due(self, connection: sqlite3.Connection) -> float:
        """How long the dispatcher may wait for an event: until the next push is due, at
        most ``poll`` (another process may have made pushes due: ecom forward --retry-dead)."""
        if len(self._in_flight) >= self.concurrency:
            return self.poll
        rows = connection.execute(
            "SELECT push_id, next_try FROM forwards WHERE state = 'pending'"
            " AND next_try IS NOT NULL ORDER BY next_try LIMIT ?",
            (len(self._in_flight) + 1,)).fetchall()
        due = [when for push_id, when in rows if push_id not in self._in_flight]
        if not due:
            return self.poll
        return min(self.poll, max(0.01, due[0] - time.time()))

    def _record(self, connection: sqlite3.Connection, outcomes: list[_Outcome]) -> None:
        """Each outcome's new state, in one transaction, then its log line: a line says
        only what the store already holds."""
        if not outcomes:
            return
        lines = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            for outcome in outcomes:
                lines.append(self._record_one(connection, outcome))
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            # not recorded: those pushes are still due and are sent again (idempotent)
            self._say_once(f"{stamp()} relay: could not record delivery outcomes: {error};"
                           " those pushes will be sent again")
            lines = []
            self._stopping.wait(self.poll)
        finally:
            for outcome in outcomes:
                self._in_flight.pop(outcome.task.push_id, None)
        for line in lines:
            self.log(line)

    def _record_one(self, connection: sqlite3.Connection, outcome: _Outcome) -> str:
        task, when = outcome.task, outcome.when
        attempts = task.attempts + 1
        first = task.first_try if task.first_try is not None else when
        where = f"awb {log_safe(task.awb)} status_update_number {task.number}"
        if outcome.ok:
            connection.execute(
                "UPDATE forwards SET state = 'forwarded', attempts = ?, first_try = ?,"
                " next_try = NULL, last_result = ?, done_at = ? WHERE push_id = ?",
                (attempts, first, outcome.result, _iso(when), task.push_id))
            # The next push of this AWB is due now. (It is pending: only the earliest open
            # push of an AWB can be dead. "state != 'forwarded'" is the partial index's own
            # condition: with "state = 'pending'" SQLite would scan every later push instead.)
            connection.execute(
                "UPDATE forwards SET next_try = ? WHERE push_id = (SELECT min(push_id) FROM"
                " forwards WHERE awb = ? AND state != 'forwarded' AND push_id > ?)"
                " AND state = 'pending'", (when, task.awb, task.push_id))
            return f"{stamp()} forwarded {where} to {self._shown}: {outcome.result}"
        deadline = first + self.schedule.give_up
        if when >= deadline:
            connection.execute(
                "UPDATE forwards SET state = 'dead', attempts = ?, first_try = ?,"
                " next_try = NULL, last_result = ?, done_at = ? WHERE push_id = ?",
                (attempts, first, outcome.result, _iso(when), task.push_id))
            return (f"{stamp()} dead: {where} not forwarded to {self._shown} after {attempts}"
                    f" attempt(s) over {duration(when - first)} ({outcome.result}); the later"
                    f" pushes of awb {log_safe(task.awb)} wait behind it. shipctl ecom forward"
                    f" --store {shlex.quote(self.store)} --retry-dead sends it again")
        next_try = min(when + self.schedule.wait(attempts), deadline)
        connection.execute(
            "UPDATE forwards SET attempts = ?, first_try = ?, next_try = ?, last_result = ?"
            " WHERE push_id = ?", (attempts, first, next_try, outcome.result, task.push_id))
        return (f"{stamp()} forward of {where} to {self._shown} failed: retrying"
                f" ({outcome.result}, attempt {attempts}, next in"
                f" {duration(next_try - when)})")

    # -- workers --------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            try:
                outcome = self._sender.send(task)
            except Exception as error:  # noqa: BLE001 - a bug must not lose the outcome
                outcome = _Outcome(task, time.time(), False,
                                   f"{type(error).__name__}: {log_safe(str(error))}")
            self._events.put(outcome)


class _Sender:
    """How a push goes downstream: one HTTP session with a connection per worker, the HTTP
    layer's own retries off (the relay's ``Schedule`` is the retry policy), the push's headers
    as received with the credentials Ecom sent put back."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float,
                 connections: int) -> None:
        from shipctl import http

        self.url = url
        self._username = username
        self._password = password
        self._options = http.HttpOptions(timeout=timeout, retries=0)
        self._session = http.make_session(self._options, pool_size=connections)

    def send(self, task: _Task) -> _Outcome:
        from shipctl import http

        call = http.Call("POST", self.url, headers=self._headers(task.headers), body=task.body)
        delivery = http.send(self._session, call, self._options)
        when = time.time()
        if delivery.response is None:
            return _Outcome(task, when, False, log_safe(delivery.error or "no answer", 200))
        status = delivery.response.status_code
        return _Outcome(task, when, 200 <= status < 300, f"HTTP {status}")

    def _headers(self, stored: list[list[str]]) -> dict[str, str]:
        """The push's headers as stored, hop-by-hop ones left out, with the credentials Ecom
        sent put back: the store has them redacted, and they were this listener's own."""
        headers: dict[str, str] = {}
        for name, value in stored:
            if name in HOP_BY_HOP:
                continue
            if value == REDACTED:
                if name == "authorization":
                    token = f"{self._username}:{self._password}".encode()
                    value = "Basic " + base64.b64encode(token).decode("ascii")
                elif name == "password":
                    # the UTF-8 bytes on the wire, as Ecom sends them
                    value = self._password.encode().decode("latin-1")
                else:
                    continue  # another secret (a cookie): not ours to send
            headers[name] = value
        return headers


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="seconds")


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(flag: str, text: str) -> float:
    """``10s``, ``0.5s``, ``5m``, ``24h``, ``1d`` or plain seconds; UsageError otherwise."""
    import re

    from shipctl.errors import UsageError

    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s|m|min|h|d)?\s*", text)
    seconds = float(match[1]) * _UNITS[match[2] or "s"] if match else 0.0
    if not 0 < seconds <= 366 * 86400:
        raise UsageError(f"{flag} {text}: give a duration such as 10s, 5m, 24h or 1d"
                         " (more than 0, at most a year)")
    return seconds
