"""The capture store of `ecom listen` (docs/ecom.md): accepted pushes in one SQLite file.

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

**One push never fails another.** A batch whose insert fails (a push whose text SQLite cannot
take, such as a lone surrogate) is rolled back and inserted again row by row, each in its own
savepoint, in one transaction: only the guilty push's future fails (``Unstorable``), the
others are still committed together, with one fsync.

**The file under our feet.** Before and after each commit the path is checked to still be the
file that was opened (device and inode): a store deleted or replaced while the listener runs
would otherwise take commits into an unlinked inode, answered 200 and lost at exit. Then every
waiting push fails (``StoreLost``, a 503), and ``on_lost`` tells the listener to stop.

**Schema 2** adds, next to ``pushes``: ``forwards``, the durable relay's state for each push
stored while ``--forward-to`` was on (``shipctl.ecom.receive.relay``), inserted in the same
transaction as its push; and ``conflicts``, a push whose status_update_number was already
stored with another AWB, status or datetime (answered 200 so that Ecom stops resending it,
kept with both bodies). A schema 1 store is migrated in place when opened: the two tables are
added, nothing else changes (a shipctl older than this one then refuses the file, naming its
schema version).
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from shipctl.ecom.receive.logline import Log, log_safe, stamp
from shipctl.ecom.receive.receiver import Push
from shipctl.errors import UsageError

MEMORY = ":memory:"
SCHEMA_VERSION = 2
_BATCH = 512  # most pushes in one transaction
_PUSHES = """
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
# Schema 2. Times the relay computes with are Unix seconds (REAL); times people read are
# ISO 8601 UTC text.
_SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS forwards (
    push_id INTEGER PRIMARY KEY REFERENCES pushes (id),
    awb TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending, forwarded or dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL,                  -- due then; NULL: held behind an earlier push of its AWB
    first_try REAL,                 -- the first attempt: the retry window counts from it
    last_result TEXT,               -- the last attempt's outcome: "HTTP 500", "connection refused"
    done_at TEXT                    -- when it became forwarded or dead
);
CREATE INDEX IF NOT EXISTS forwards_open ON forwards (awb, push_id) WHERE state != 'forwarded';
CREATE INDEX IF NOT EXISTS forwards_due ON forwards (next_try)
    WHERE state = 'pending' AND next_try IS NOT NULL;
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    status_update_number TEXT NOT NULL,
    stored_id INTEGER NOT NULL REFERENCES pushes (id),  -- the push stored with that number
    differs TEXT NOT NULL,                              -- "awb, status, datetime" (those that do)
    stored_body BLOB NOT NULL,
    body BLOB NOT NULL,                                 -- the conflicting push, as received
    headers TEXT NOT NULL,
    UNIQUE (status_update_number, body)                 -- Ecom resending it adds no row
);
"""
_INSERT = (
    "INSERT OR IGNORE INTO pushes (received_at, awb, datetime, status_update_number,"
    " reason_code_number, body, compact, headers, validation) VALUES (?,?,?,?,?,?,?,?,?)"
)
# A new push is due at once, unless an earlier push of its AWB is still pending or dead: then
# it is held (next_try NULL) until that one is forwarded (per-AWB order).
_INSERT_FORWARD = (
    "INSERT INTO forwards (push_id, awb, state, attempts, next_try) VALUES (?, ?, 'pending', 0,"
    " CASE WHEN EXISTS (SELECT 1 FROM forwards WHERE awb = ? AND state != 'forwarded')"
    " THEN NULL ELSE ? END)"
)

# What a push's own values can raise when bound: its fault, and no other push's. A disk that
# is full or failing raises sqlite3.OperationalError instead, which fails the whole batch
# (a 503 that Ecom retries), never one push as if it were that push's fault.
_PUSH_ERRORS = (ValueError, OverflowError, TypeError, sqlite3.InterfaceError, sqlite3.DataError)


class StoreError(Exception):
    """The push could not be committed (disk full, file removed, store closed…)."""


class Unstorable(StoreError):
    """This push, and only it, cannot be stored (its text is not encodable, …)."""


class StoreLost(StoreError):
    """The store file was deleted or replaced while open: nothing more is committed."""


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
        if version not in (0, 1, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, this shipctl knows"
                                        f" {SCHEMA_VERSION}; use the shipctl that wrote it")
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
        if version != SCHEMA_VERSION or "pushes" not in tables:
            # A new store, or schema 1 migrated in place: the new tables are only added, in
            # one transaction with the version, so a crash leaves schema 1 or schema 2.
            connection.executescript(f"BEGIN IMMEDIATE; {_PUSHES} {_SCHEMA_2}"
                                     f" PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    except sqlite3.Error as error:
        if connection is not None:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
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


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


Result = bool | BaseException  # stored, duplicate, or why this push could not be


class Store:
    """The one writer of a store. ``add`` from any thread; ``close`` when done.

    ``forwarding``: each new push also gets a pending row in ``forwards`` (``--forward-to``).
    ``log``: where a conflict's warning goes. ``on_lost``: called once, from the writer
    thread, when the file was found deleted or replaced.
    """

    def __init__(self, path: str | Path = MEMORY, *, forwarding: bool = False,
                 log: Log | None = None, on_lost: Callable[[str], None] | None = None) -> None:
        self.path = str(path)
        self.forwarding = forwarding
        self._log = log
        self._on_lost = on_lost
        self._connection = connect(path)
        if self.path != MEMORY:
            self.path = str(Path(self.path).expanduser())
        # What "the file we opened" is: the path names it now, just after opening.
        self._identity = _identity(self.path) if self.path != MEMORY else None
        self.lost: str | None = None  # why nothing more can be committed, once it is so
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
        StoreError when it could not be committed (Unstorable: because of this push alone)."""
        future: Future[bool] = Future()
        if self._closed:
            future.set_exception(StoreError("the store is closed"))
        elif self.lost:
            future.set_exception(StoreLost(self.lost))
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
        rows: list[tuple[Push, Future, tuple]] = []
        for push, future in batch:
            try:
                rows.append((push, future, _row(push, now)))
            except Exception as error:  # noqa: BLE001 - this push alone cannot be stored
                future.set_exception(Unstorable(f"the push cannot be stored: {error}"))
        if not rows:
            return
        warnings: list[str] = []
        with self._lock:
            try:
                self._check_file()
                try:
                    results = self._insert(rows, now, warnings, one_by_one=False)
                except Exception:  # noqa: BLE001 - retried row by row: find the guilty one
                    self._rollback()
                    warnings.clear()
                    results = self._insert(rows, now, warnings, one_by_one=True)
                # A deletion between the check above and the commit: the commit went into
                # the unlinked file, so no 200 for it.
                self._check_file()
            except Exception as error:  # noqa: BLE001 - every waiting request gets an answer
                self._rollback()
                failure = error if isinstance(error, StoreError) else StoreError(
                    f"could not store the push: {error}")
                for _push, future, _row_values in rows:
                    future.set_exception(failure)
                return
        for line in warnings:
            self._warn(line)
        for (_push, future, _values), result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _insert(self, rows: list[tuple[Push, Future, tuple]], now: str, warnings: list[str],
                *, one_by_one: bool) -> list[Result]:
        """Insert ``rows`` in one transaction and commit; each row in its own savepoint when
        ``one_by_one`` (a failing row is then its own failure, not the batch's)."""
        connection = self._connection
        results: list[Result] = []
        connection.execute("BEGIN IMMEDIATE")
        for push, _future, values in rows:
            if not one_by_one:
                results.append(self._insert_one(push, values, now, warnings))
                continue
            connection.execute("SAVEPOINT one")
            try:
                results.append(self._insert_one(push, values, now, warnings))
            except _PUSH_ERRORS as error:
                connection.execute("ROLLBACK TO one")
                results.append(Unstorable(f"the push cannot be stored: {error}"))
            connection.execute("RELEASE one")
        connection.execute("COMMIT")
        return results

    def _insert_one(self, push: Push, values: tuple, now: str, warnings: list[str]) -> bool:
        cursor = self._connection.execute(_INSERT, values)
        if cursor.rowcount == 1:
            if self.forwarding:
                self._connection.execute(_INSERT_FORWARD, (cursor.lastrowid, push.awb, push.awb,
                                                           time.time()))
            return True
        line = self._conflict(push, values, now)
        if line:
            warnings.append(line)
        return False

    def _conflict(self, push: Push, values: tuple, now: str) -> str | None:
        """A duplicate number whose AWB, status or datetime differ from the stored push's:
        kept in ``conflicts`` (once per body) and said in a warning; None for a true one."""
        stored = self._connection.execute(
            "SELECT id, awb, datetime, body FROM pushes WHERE status_update_number = ?",
            (push.status_update_number,)).fetchone()
        if stored is None:
            return None
        stored_id, awb, when, stored_body = stored
        differs = []
        if awb != push.awb:
            differs.append(f"awb {log_safe(awb)} → {log_safe(push.awb)}")
        old_status, new_status = _status(stored_body), _status(push.body)
        if old_status != new_status:
            differs.append(f"status {log_safe(old_status)} → {log_safe(new_status)}")
        if when != push.datetime:
            differs.append(f"datetime {log_safe(when)} → {log_safe(push.datetime)}")
        if not differs:
            return None
        cursor = self._connection.execute(
            "INSERT OR IGNORE INTO conflicts (received_at, status_update_number, stored_id,"
            " differs, stored_body, body, headers) VALUES (?,?,?,?,?,?,?)",
            (now, push.status_update_number, stored_id,
             ", ".join(d.split(" ", 1)[0] for d in differs), stored_body, push.body,
             values[7]))
        if cursor.rowcount != 1:
            return None  # the same conflicting push again: already kept and said
        return (f"warning: conflict: status_update_number"
                f" {log_safe(push.status_update_number)} was"
                f" stored for another update ({'; '.join(differs)}); answered 200, kept in the"
                " conflicts table (ecom export --conflicts)")

    def _check_file(self) -> None:
        if self._identity is None:
            return
        if self.lost is None:
            now = _identity(self.path)
            if now == self._identity:
                return
            what = "deleted" if now is None else "replaced by another file"
            self.lost = (f"the store {self.path} was {what} while ecom listen ran; nothing"
                         " more can be stored")
            if self._on_lost is not None:
                try:
                    self._on_lost(self.lost)
                except Exception:  # noqa: BLE001 - the pushes must still get their 503
                    pass
        raise StoreLost(self.lost)

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            try:
                self._connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _warn(self, line: str) -> None:
        if self._log is not None:
            self._log(f"{stamp()} {line}")

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
            self._connection.executescript(
                "BEGIN; DELETE FROM forwards; DELETE FROM conflicts; DELETE FROM pushes; COMMIT;")


def _status(body: bytes) -> object:
    """The push's ``status`` field (None when it has none or the body does not parse)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("status") if isinstance(document, dict) else None


def _row(push: Push, now: str) -> tuple:
    validation = {"valid": True, "warnings": push.warnings}
    values = (now, push.awb, push.datetime, push.status_update_number,
              push.reason_code_number, push.body, push.compact,
              json.dumps(push.headers, ensure_ascii=False),
              json.dumps(validation, ensure_ascii=False))
    for value in values:
        if isinstance(value, str):
            value.encode("utf-8")  # a lone surrogate: this push's error, found before SQLite
    return values


def select(connection: sqlite3.Connection, *, awb: str | None = None,
           since: str | None = None, unforwarded: bool = False):  # noqa: ANN201 - of Stored
    """Stored pushes in arrival order (so each AWB's in the order they came), filtered by AWB
    and by the push's ``datetime`` (``since``: that text or later; both are naive IST
    ``YYYY-mm-dd HH:MM:SS``, which sorts as text); ``unforwarded``: only those the relay has
    not delivered (pending or dead)."""
    where, parameters = [], []
    if awb is not None:
        where.append("awb = ?")
        parameters.append(awb)
    if since is not None:
        where.append("datetime >= ?")
        parameters.append(since)
    if unforwarded:
        where.append("id IN (SELECT push_id FROM forwards WHERE state != 'forwarded')")
    sql = ("SELECT id, received_at, awb, datetime, status_update_number, reason_code_number,"
           " body, compact, headers, validation FROM pushes")
    if where:
        sql += " WHERE " + " AND ".join(where)
    for row in connection.execute(sql + " ORDER BY id", parameters):
        yield Stored(*row[:8], json.loads(row[8]), json.loads(row[9]))


@dataclass(frozen=True)
class Conflict:
    id: int
    received_at: str
    status_update_number: str
    differs: str
    stored_body: bytes
    body: bytes


def conflicts(connection: sqlite3.Connection):  # noqa: ANN201 - an iterator of Conflict
    """The conflicts table, oldest first."""
    for row in connection.execute(
            "SELECT id, received_at, status_update_number, differs, stored_body, body"
            " FROM conflicts ORDER BY id"):
        yield Conflict(*row)


def forward_counts(connection: sqlite3.Connection) -> dict[str, int]:
    """{"pending": n, "held": n (pending behind an earlier push of its AWB), "forwarded": n,
    "dead": n}."""
    counts = dict.fromkeys(("pending", "held", "forwarded", "dead"), 0)
    for state, held, n in connection.execute(
            "SELECT state, next_try IS NULL, count(*) FROM forwards GROUP BY 1, 2"):
        counts[state] = counts.get(state, 0) + n
        if state == "pending" and held:
            counts["held"] += n
    return counts


def retry_dead(connection: sqlite3.Connection) -> int:
    """Dead pushes pending again, due now, their attempts and retry window reset. A dead push
    is always the earliest open one of its AWB (the later ones are held behind it), so this
    keeps per-AWB order. Returns how many."""
    cursor = connection.execute(
        "UPDATE forwards SET state = 'pending', attempts = 0, first_try = NULL, next_try = ?,"
        " done_at = NULL WHERE state = 'dead'", (time.time(),))
    return cursor.rowcount
