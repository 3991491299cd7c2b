"""The bulk engine's journal (``--journal FILE``): each item's outcome, durably
(docs/conventions.md, Bulk engine).

One SQLite file. Every finished item is one transaction, committed with ``synchronous=FULL`` in
WAL mode before the item is reported anywhere else, so a ``kill -9`` loses at most the items
that were in flight (an item whose call is not idempotent is written ``unknown`` before it is
sent, so even those are verified, not sent twice). A re-run with the same journal skips the
ids recorded as ``succeeded``; an ``unknown`` one (sent, maybe applied: a Fynd transition) is
verified before it is sent. A job of several parts (the shipments of one Fynd body) has a
row per part too, written in the same transaction as its own, so a re-run sends only the
parts that have not succeeded.

What is stored: the caller's job id (a hash of the request, not the request), ordering key
(several joined with a space), label, source location, status, code, message (secrets
redacted) and attempts. Never the payload: it can hold personal data, and with EWE the digest.

Tables (for people who open the file with ``sqlite3``)::

    items(id PRIMARY KEY, key, label, "where", status, code, message, attempts, updated_at, run)
    runs(id, command, started, finished, counts, version)

The file is marked with an SQLite ``application_id`` so that a file that is not a shipctl
journal (a report passed by mistake, another program's database) is refused without being
touched.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shipctl import secrets
from shipctl.batch.vocabulary import BLOCKED, FAILED, INVALID, SUCCEEDED, UNKNOWN
from shipctl.errors import ShipctlError, UsageError
from shipctl.output import printable

# "shpj" in ASCII: lets us recognise our own files from the 100-byte SQLite header alone.
APPLICATION_ID = 0x7368706A
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Statuses worth remembering. `interrupted`/`not_sent` are not written (a re-run must send
# them); `duplicate` is not written (the id's row belongs to its first occurrence); `skipped`
# leaves the earlier `succeeded` row as it is.
JOURNALED = frozenset({SUCCEEDED, FAILED, BLOCKED, INVALID, UNKNOWN})

_ITEM_COLUMNS = (
    "id", "key", "label", "where", "status", "code", "message", "attempts", "updated_at", "run",
)

_SCHEMA = """
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    key TEXT,
    label TEXT,
    "where" TEXT,
    status TEXT NOT NULL,
    code TEXT,
    message TEXT,
    attempts INTEGER,
    updated_at TEXT,
    run INTEGER
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT,
    started TEXT,
    finished TEXT,
    counts TEXT,
    version TEXT
);
"""

# A succeeded row is never overwritten by a worse status: "already applied" is the one fact a
# re-run must not forget. An unknown row ("sent, maybe applied") is overwritten only by what
# settles it (succeeded or failed: verified, or sent again and answered) or a new unknown,
# never by blocked or invalid: a later run must still verify it before sending.
_UPSERT = f"""
INSERT INTO items (id, key, label, "where", status, code, message, attempts, updated_at, run)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    key = excluded.key, label = excluded.label, "where" = excluded."where",
    status = excluded.status, code = excluded.code, message = excluded.message,
    attempts = excluded.attempts, updated_at = excluded.updated_at, run = excluded.run
WHERE (items.status != '{SUCCEEDED}' OR excluded.status = '{SUCCEEDED}')
  AND (items.status != '{UNKNOWN}' OR excluded.status IN ('{SUCCEEDED}', '{FAILED}', '{UNKNOWN}'))
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _refuse(path: Path, why: str) -> UsageError:
    return UsageError(
        f"--journal {path}: {why}",
        hint="give a new file name, or the journal an earlier shipctl run wrote",
    )


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _unwritable_dir(path: Path) -> UsageError:
    return UsageError(
        f"--journal {path}: cannot write in {_parent(path)} "
        "(SQLite needs its -wal file beside the journal)",
        hint="keep the journal in a directory this user can write to; the file itself is "
             "left unchanged",
    )


# errno values that mean "this directory (or file system) does not let us write"
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _check_place(path: Path) -> None:
    """The checks that need no writing: the directory exists, the journal is not one."""
    parent = _parent(path)
    if not parent.is_dir():
        raise _refuse(path, f"directory {parent} does not exist")
    if path.is_dir():
        raise _refuse(path, "is a directory")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class JournalLock:
    """One run at a time per journal (``--journal``, ``--wait``).

    ``JournalLock.acquire`` takes an exclusive ``flock`` on ``<journal>.lock`` and writes who
    holds it there; ``release`` removes the file and drops the lock. A ``kill -9`` leaves the
    file but not the lock: the next run takes it at once. Removing the file is safe because
    every run checks, once it holds the lock, that the path still names the file it locked.
    """

    POLL_SECONDS = 0.1

    def __init__(self, journal: Path, path: Path, fd: int) -> None:
        self.journal = journal
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, journal: Path, *, wait: float | None = None, command: str = "",
                notify: Callable[[str], None] | None = None) -> JournalLock:
        """Hold ``journal``, or raise a UsageError (exit 2) naming the run that holds it.

        ``wait``: None = do not wait; a number of seconds = wait at most that long;
        ``math.inf`` = wait without limit. ``notify`` is told once when waiting starts.
        """
        journal = Path(journal)
        _check_place(journal)
        path = lock_path(journal)
        deadline = None if wait is None else time.monotonic() + wait
        notified = False
        while True:
            fd, holder = _try_lock(journal, path)
            if fd is not None:
                lock = cls(journal, path, fd)
                lock._write_holder(command)
                return lock
            if holder is None:
                continue  # the previous holder removed the file as we locked it: again
            if deadline is None:
                raise UsageError(
                    f"--journal {journal}: in use by another run ({holder}); nothing was sent",
                    hint="a journal belongs to one run at a time; add --wait (or "
                         "--wait=SECONDS) to wait for that run to finish",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise UsageError(
                    f"--journal {journal}: still in use by another run after --wait={wait:g} "
                    f"({holder}); nothing was sent"
                )
            if not notified and notify is not None:
                limit = "" if wait == float("inf") else f" (at most {wait:g} s)"
                notify(f"--journal {journal}: in use by another run ({holder}); "
                       f"waiting for it to finish{limit}")
                notified = True
            time.sleep(min(cls.POLL_SECONDS, left))

    def _write_holder(self, command: str) -> None:
        import socket

        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
        }
        try:
            assert self._fd is not None
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        except OSError:
            pass  # only the message of a second run would be poorer

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            # Removed while still locked: a run that locks the old file then sees the path
            # name another one (or none) and starts over on the new file.
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # the lock goes with the last descriptor
        self._fd = None

    def __enter__(self) -> JournalLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_lock(journal: Path, path: Path) -> tuple[int | None, str | None]:
    """(fd, None) locked; (None, holder) held by another run; (None, None) try again."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        if exc.errno in _NOT_WRITABLE and not path.exists():
            raise _unwritable_dir(journal) from None
        raise _refuse(journal, f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        busy = exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
        holder = _holder(fd) if busy else ""
        os.close(fd)
        if not busy:
            raise _refuse(journal, f"cannot lock {path.name}: {exc.strerror or exc}") from None
        return None, holder
    if not _same_file(fd, path):
        os.close(fd)
        return None, None
    return fd, None


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _holder(fd: int) -> str:
    """Who holds the lock, from the lock file: "pid 4242 on web1, started …, ewe modify"."""
    info: Any = None
    for _attempt in range(10):  # the holder writes it just after locking: give it a moment
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            if isinstance(info, dict):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    if not isinstance(info, dict):
        return "holder unknown"
    text = f"pid {info.get('pid', '?')} on {info.get('host', '?')}"
    if info.get("started"):
        text += f", started {info['started']}"
    if info.get("command"):
        text += f", shipctl {info['command']}"
    return secrets.redact(text)


def _cannot_use(path: Path, exc: Exception) -> UsageError:
    """An SQLite error that is not damage: say what is really in the way."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        parent = _parent(path)
        if not _can_create_in(parent):
            return _unwritable_dir(path)
        if not os.access(path, os.W_OK):
            return _refuse(path, "cannot write to the file (read-only)")
        return _refuse(path, f"cannot open ({exc}); left unchanged")
    return _refuse(path, f"unusable ({exc})")


def _can_create_in(directory: Path) -> bool:
    """Whether a file can be created in ``directory`` (tried: root ignores permission bits,
    a read-only mount does not)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _check_header(path: Path) -> bool:
    """True when ``path`` is empty (a new journal); raise when it is not a shipctl journal.

    Only reads the file: a file we refuse is left exactly as it was.
    """
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except IsADirectoryError:
        raise _refuse(path, "is a directory") from None
    except OSError as exc:
        raise _refuse(path, f"cannot read: {exc.strerror or exc}") from None
    if not header:
        return True
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _refuse(path, "not a shipctl journal (not an SQLite database); left unchanged")
    # SQLite file format: user_version at offset 60, application_id at 68, both big-endian.
    user_version = int.from_bytes(header[60:64], "big")
    application_id = int.from_bytes(header[68:72], "big")
    if application_id != APPLICATION_ID:
        raise _refuse(path, "an SQLite database but not a shipctl journal; left unchanged")
    if user_version > SCHEMA_VERSION:
        raise _refuse(path, f"written by a newer shipctl (journal version {user_version})")
    return False


class Journal:
    """Open with ``Journal.open``; used by one thread at a time (under the engine's lock)."""

    def __init__(self, path: Path, conn: Any, run_id: int,
                 own_lock: JournalLock | None = None) -> None:
        self.path = path
        self._conn = conn
        self.run_id = run_id
        self._own_lock = own_lock  # taken by open() itself, released by close()

    @classmethod
    def open(cls, path: Path, *, command: str = "", lock: JournalLock | None = None) -> Journal:
        """Open (or create) the journal at ``path``; refuse, with a UsageError, anything else.

        ``lock``: the caller already holds the journal (``JournalLock``, taken before reading
        the input); without one, ``open`` takes it itself (without waiting) until ``close``.
        """
        path = Path(path)
        own = None
        if lock is None:
            own = JournalLock.acquire(path, command=command)
        try:
            return cls._open(path, command, own)
        except BaseException:
            if own is not None:
                own.release()
            raise

    @classmethod
    def _open(cls, path: Path, command: str, own_lock: JournalLock | None) -> Journal:
        import sqlite3

        from shipctl import __version__

        _check_place(path)
        if path.exists():
            new = _check_header(path)
        else:
            new = True
            try:
                # 0600: labels and locations are the user's business data.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                new = _check_header(path)
            except OSError as exc:
                if exc.errno in _NOT_WRITABLE:
                    raise _unwritable_dir(path) from None
                raise _refuse(path, f"cannot create: {exc.strerror or exc}") from None
        try:
            # isolation_level=None: each statement is its own transaction, i.e. one per item.
            # check_same_thread=False: the engine's workers record outcomes, one at a time
            # under the engine's lock.
            conn = sqlite3.connect(str(path), timeout=30, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise _refuse(path, f"cannot open: {exc}") from None
        try:
            if new:
                # application_id is written before switching to WAL so that it lands in the
                # main file at once, where _check_header looks for it.
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.executescript(_SCHEMA)
            else:
                cls._check_schema(conn, path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            cur = conn.execute(
                "INSERT INTO runs (command, started, version) VALUES (?, ?, ?)",
                (command, _now(), __version__),
            )
            run_id = int(cur.lastrowid or 0)
        except ShipctlError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise _cannot_use(path, exc) from None
        return cls(path, conn, run_id, own_lock)

    @staticmethod
    def _check_schema(conn: Any, path: Path) -> None:
        """Read-only checks; anything off → refuse before we write a byte."""
        import sqlite3

        try:
            # quick_check reads every page: it is what tells a damaged file from a good one,
            # and a journal is worth nothing if it lies. A run does it once, on opening.
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise _refuse(path, f"damaged ({'; '.join(problems)}); left unchanged")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
            run_columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        except sqlite3.OperationalError as exc:
            # "unable to open database file", "attempt to write a readonly database": the
            # file may be perfectly good; what is wrong is around it.
            raise _cannot_use(path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise _refuse(path, f"damaged ({exc}); left unchanged") from None
        if not set(_ITEM_COLUMNS) <= columns or not {"command", "started"} <= run_columns:
            raise _refuse(path, "not a shipctl journal (unexpected tables); left unchanged")

    # -- per item ---------------------------------------------------------------------------
    def succeeded(self, item_id: str) -> bool:
        return self.status(item_id) == SUCCEEDED

    def status(self, item_id: str) -> str | None:
        """The item's status from earlier runs (and this one), or None if it has no row."""
        row = self._conn.execute("SELECT status FROM items WHERE id = ?",
                                 (printable(item_id),)).fetchone()
        return None if row is None else row[0]

    def record(
        self,
        *,
        item_id: str,
        key: str | None,
        label: str,
        where: str,
        status: str,
        code: Any,
        message: str,
        attempts: int,
        parts: dict[str, Any] | None = None,
    ) -> None:
        """Commit one finished item (one transaction, fsynced) — before it is reported —
        with a row for each of its ``parts`` (part id → ``batch.Part``) in the same one."""
        if status not in JOURNALED:
            return
        import sqlite3

        now = _now()
        rows = [(printable(item_id), key, secrets.redact(label), secrets.redact(where), status,
                 None if code is None else secrets.redact(str(code)), secrets.redact(message),
                 attempts, now, self.run_id)]
        for part_id, part in (parts or {}).items():
            if part.status in JOURNALED:
                rows.append((printable(part_id), printable(part.key), secrets.redact(label),
                             secrets.redact(where), part.status, None,
                             secrets.redact(printable(part.message)), attempts, now,
                             self.run_id))
        try:
            if len(rows) == 1:
                self._conn.execute(_UPSERT, rows[0])
            else:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany(_UPSERT, rows)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ShipctlError(
                f"--journal {self.path}: cannot record an outcome ({exc}); stopped sending"
            ) from None

    # -- end of run -------------------------------------------------------------------------
    def finish(self, counts: dict[str, int]) -> None:
        import sqlite3

        try:
            self._conn.execute(
                "UPDATE runs SET finished = ?, counts = ? WHERE id = ?",
                (_now(), json.dumps(counts, sort_keys=True), self.run_id),
            )
        except sqlite3.Error:
            pass  # the items are what matter, and they are already committed

    def discard(self) -> None:
        """This run never started (refused after the journal was opened): forget its row."""
        import sqlite3

        try:
            self._conn.execute("DELETE FROM runs WHERE id = ?", (self.run_id,))
        except sqlite3.Error:
            pass

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # closing must not mask the run's own outcome
            pass
        if self._own_lock is not None:
            self._own_lock.release()
            self._own_lock = None
