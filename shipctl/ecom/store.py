"""The capture store of `ecom listen` (SPEC §7): accepted pushes in one SQLite file.

One row per accepted push: the raw body bytes, a one-line copy for export, the headers with
credentials redacted, the received time (UTC), the push's awb, datetime, reason code and
status_update_number, and the validation result (valid, with its warnings). UNIQUE on
``status_update_number``: Ecom numbers every status update, so the same number twice is the
same update delivered again — answered 200 and not stored twice.

**Committed before 200.** ``add`` returns a future that is resolved only after the push's
transaction has committed. Concurrency is one writer thread owning the one write connection:
it takes every push waiting at that moment, inserts them in one transaction and commits once
(group commit), then resolves their futures — so each 200 still follows its own commit, and
a burst of N pushes costs one fsync, not N. The server's event loop never blocks on SQLite:
it awaits the future.

**What "committed" means.** WAL mode with ``synchronous=FULL``: the WAL is fsynced at every
commit, so a push answered 200 survives a power loss or kernel crash, not only a killed
process. (``NORMAL`` in WAL mode survives ``kill -9`` — the committed frames are in the OS's
page cache — but may lose the last commits on power loss; Ecom does not resend a push it got
a 200 for, so that loss would be silent.) Group commit keeps FULL affordable:
benchmarks/ecom_listen.py measures it.

The file is created 0600 (its directory 0700): captured pushes hold customers' data. SQLite
creates the -wal and -shm files with the database file's permissions.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from shipctl.ecom.receiver import Push
from shipctl.errors import UsageError

MEMORY = ":memory:"
SCHEMA_VERSION = 1
_BATCH = 512  # most pushes in one transaction
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY,                      -- arrival order (per-AWB order on export)
    received_at TEXT NOT NULL,                   -- UTC, ISO 8601 with microseconds
    awb TEXT NOT NULL,
    datetime TEXT NOT NULL,                      -- the push's own, naive IST
    status_update_number TEXT NOT NULL UNIQUE,   -- the dedupe key
    reason_code_number TEXT NOT NULL,
    body BLOB NOT NULL,                          -- the raw body bytes as received
    compact TEXT NOT NULL,                       -- the body on one line, for JSON Lines
    headers TEXT NOT NULL,                       -- JSON [[name, value]], credentials redacted
    validation TEXT NOT NULL                     -- JSON {"valid": true, "warnings": [...]}
);
CREATE INDEX IF NOT EXISTS pushes_by_awb ON pushes (awb, id);
CREATE INDEX IF NOT EXISTS pushes_by_datetime ON pushes (datetime);
"""
_INSERT = (
    "INSERT OR IGNORE INTO pushes (received_at, awb, datetime, status_update_number,"
    " reason_code_number, body, compact, headers, validation) VALUES (?,?,?,?,?,?,?,?,?)"
)


class StoreError(Exception):
    """The push could not be committed (disk full, file removed, store closed…)."""


@dataclass(frozen=True)
class Stored:
    """A row of the store, as ``rows`` reads it back."""

    id: int
    received_at: str
    awb: str
    datetime: str
    status_update_number: str
    reason_code_number: str
    body: bytes
    compact: str
    headers: list[list[str]]
    validation: dict


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("shipctl")) / "ecom-pushes.sqlite3"


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection in WAL mode with the schema; UsageError when the file is not usable."""
    name = str(path)
    if name != MEMORY:
        file = Path(name).expanduser()
        name = str(file)
        if create:
            _create_private(file)
        elif not file.is_file():
            raise UsageError(f"no store at {file}", hint="give the file ecom listen wrote"
                             " (--store), or run ecom listen first")
    connection = None
    try:
        # check_same_thread=False: the connection is created here and used by the writer
        # thread; only one thread uses it at a time (the writer, or a reader after it ended).
        connection = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 5000")
        # What the file is, before anything changes it (WAL mode is kept in the file).
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, this shipctl knows"
                                        f" {SCHEMA_VERSION}")
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "pushes" not in tables and (tables or not create):
            # another program's database (a replay journal given by mistake): left alone
            raise sqlite3.DatabaseError("it holds no pushes table")
        if name != MEMORY:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise sqlite3.OperationalError(f"cannot use WAL mode (journal_mode {mode})")
        connection.execute("PRAGMA synchronous = FULL")
        if "pushes" not in tables:
            connection.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
    except sqlite3.Error as error:
        if connection is not None:
            connection.close()
        raise UsageError(f"cannot use {name} as the push store: {error}",
                         hint="is it a file written by ecom listen?") from None
    return connection


def _create_private(file: Path) -> None:
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_CREAT with 0600 before SQLite opens it: never a moment with wider permissions.
        os.close(os.open(file, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as error:
        raise UsageError(f"cannot create the push store {file}: "
                         f"{error.strerror or error}") from None


class Store:
    """The one writer of a store. ``add`` from any thread; ``close`` when done."""

    def __init__(self, path: str | Path = MEMORY) -> None:
        self.path = str(path)
        self._connection = connect(path)
        self._queue: queue.SimpleQueue[tuple[Push, Future] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # the connection, for readers on the same store
        self._closed = False
        # In memory (the sandbox) nothing waits for a disk: each push commits in its caller's
        # thread, and there is no thread to stop (the sandbox never closes its simulators).
        self._writer: threading.Thread | None = None
        if self.path != MEMORY:
            self._writer = threading.Thread(target=self._write, name="ecom-store", daemon=True)
            self._writer.start()

    # -- writing --------------------------------------------------------------------------------
    def add(self, push: Push) -> Future[bool]:
        """Queue ``push``; the future becomes True once it is committed, False when its
        status_update_number was already stored (a duplicate: nothing written), or raises
        StoreError when it could not be committed."""
        future: Future[bool] = Future()
        if self._closed:
            future.set_exception(StoreError("the store is closed"))
        elif self._writer is None:
            self._commit([(push, future)])
        else:
            self._queue.put((push, future))
        return future

    def _write(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[tuple[Push, Future]]) -> None:
        # A waiter that gave up (its request cancelled at shutdown) cancelled its future: that
        # push got no 200 and is not stored. The others can no longer be cancelled, so setting
        # their results below cannot fail.
        batch = [(push, future) for push, future in batch
                 if future.set_running_or_notify_cancel()]
        if not batch:
            return
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        results: list[bool] = []
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                for push, _future in batch:
                    cursor = self._connection.execute(_INSERT, _row(push, now))
                    results.append(cursor.rowcount == 1)
                self._connection.execute("COMMIT")
            except Exception as error:  # noqa: BLE001 - every waiting request gets an answer
                try:
                    self._connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                for _push, future in batch:
                    future.set_exception(StoreError(f"could not store the push: {error}"))
                return
        for (_push, future), stored in zip(batch, results, strict=True):
            future.set_result(stored)

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the connection."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading (the sandbox's stats, tests) ---------------------------------------------------
    def rows(self, *, awb: str | None = None, since: str | None = None) -> list[Stored]:
        with self._lock:
            return list(select(self._connection, awb=awb, since=since))

    def count(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT count(*) FROM pushes").fetchone()[0]

    def clear(self) -> None:
        with self._lock:
            self._connection.execute("DELETE FROM pushes")


def _row(push: Push, now: str) -> tuple:
    validation = {"valid": True, "warnings": push.warnings}
    return (now, push.awb, push.datetime, push.status_update_number, push.reason_code_number,
            push.body, push.compact, json.dumps(push.headers, ensure_ascii=False),
            json.dumps(validation, ensure_ascii=False))


def select(connection: sqlite3.Connection, *, awb: str | None = None,
           since: str | None = None):  # noqa: ANN201 - an iterator of Stored
    """Stored pushes in arrival order (so each AWB's in the order they came), filtered by AWB
    and by the push's ``datetime`` (``since``: that text or later; both are naive IST
    ``YYYY-mm-dd HH:MM:SS``, which sorts as text)."""
    where, parameters = [], []
    if awb is not None:
        where.append("awb = ?")
        parameters.append(awb)
    if since is not None:
        where.append("datetime >= ?")
        parameters.append(since)
    sql = ("SELECT id, received_at, awb, datetime, status_update_number, reason_code_number,"
           " body, compact, headers, validation FROM pushes")
    if where:
        sql += " WHERE " + " AND ".join(where)
    for row in connection.execute(sql + " ORDER BY id", parameters):
        yield Stored(*row[:8], json.loads(row[8]), json.loads(row[9]))
