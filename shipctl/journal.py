"""The bulk engine's journal (SPEC §2 ``--journal FILE``): each item's outcome, durably.

One SQLite file. Every finished item is one transaction, committed with ``synchronous=FULL`` in
WAL mode before the item is reported anywhere else, so a ``kill -9`` loses at most the items
that were in flight. A re-run with the same journal skips the ids recorded as ``succeeded``.

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

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shipctl import secrets
from shipctl.batch.vocabulary import BLOCKED, FAILED, INVALID, SUCCEEDED
from shipctl.errors import ShipctlError, UsageError

# "shpj" in ASCII: lets us recognise our own files from the 100-byte SQLite header alone.
APPLICATION_ID = 0x7368706A
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Statuses worth remembering. `interrupted`/`not_sent` are not written (a re-run must send
# them); `duplicate` is not written (the id's row belongs to its first occurrence); `skipped`
# leaves the earlier `succeeded` row as it is.
JOURNALED = frozenset({SUCCEEDED, FAILED, BLOCKED, INVALID})

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
# re-run must not forget.
_UPSERT = f"""
INSERT INTO items (id, key, label, "where", status, code, message, attempts, updated_at, run)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    key = excluded.key, label = excluded.label, "where" = excluded."where",
    status = excluded.status, code = excluded.code, message = excluded.message,
    attempts = excluded.attempts, updated_at = excluded.updated_at, run = excluded.run
WHERE items.status != '{SUCCEEDED}' OR excluded.status = '{SUCCEEDED}'
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _refuse(path: Path, why: str) -> UsageError:
    return UsageError(
        f"--journal {path}: {why}",
        hint="give a new file name, or the journal an earlier shipctl run wrote",
    )


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

    def __init__(self, path: Path, conn: Any, run_id: int) -> None:
        self.path = path
        self._conn = conn
        self.run_id = run_id

    @classmethod
    def open(cls, path: Path, *, command: str = "") -> Journal:
        import sqlite3

        from shipctl import __version__

        path = Path(path)
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise _refuse(path, f"directory {parent} does not exist")
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
            raise _refuse(path, f"unusable ({exc})") from None
        return cls(path, conn, run_id)

    @staticmethod
    def _check_schema(conn: Any, path: Path) -> None:
        """Read-only checks; anything off → refuse before we write a byte."""
        import sqlite3

        try:
            # quick_check reads every page: it is what tells a damaged file from a good one
            # (0.03 s for 200k items here), and a journal is worth nothing if it lies.
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise _refuse(path, f"damaged ({'; '.join(problems)}); left unchanged")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
            run_columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        except sqlite3.DatabaseError as exc:
            raise _refuse(path, f"damaged ({exc}); left unchanged") from None
        if not set(_ITEM_COLUMNS) <= columns or not {"command", "started"} <= run_columns:
            raise _refuse(path, "not a shipctl journal (unexpected tables); left unchanged")

    # -- per item ---------------------------------------------------------------------------
    def succeeded(self, item_id: str) -> bool:
        row = self._conn.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()
        return row is not None and row[0] == SUCCEEDED

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
    ) -> None:
        """Commit one finished item (one transaction, fsynced) — before it is reported."""
        if status not in JOURNALED:
            return
        import sqlite3

        try:
            self._conn.execute(
                _UPSERT,
                (
                    item_id,
                    key,
                    secrets.redact(label),
                    secrets.redact(where),
                    status,
                    None if code is None else secrets.redact(str(code)),
                    secrets.redact(message),
                    attempts,
                    _now(),
                    self.run_id,
                ),
            )
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

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # closing must not mask the run's own outcome
            pass
