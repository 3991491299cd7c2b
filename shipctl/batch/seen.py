"""Whether a key came before in this run, and what was noted with it the first time.

One record of "seen before" for every part of a bulk run that needs one: the scheduler's
duplicates (a job id and the index of its first item), the dry run's, and Ecom's duplicate
scans (a status_update_number and where it first came). Keys are kept as 16-byte BLAKE2
digests, in a dict while there are few, then in a temporary SQLite file, so memory does not
grow with the input.
"""

from __future__ import annotations

import hashlib
from typing import Any

# Keys held in a dict before they move to SQLite: a few hundred kB, so the memory a run
# needs stays flat however long its input (tests/batch/test_batch.py measures it).
MEMORY = 2048


class SeenBefore:
    """``first(key, note)``: None the first time ``key`` comes (``note`` is kept), else the
    note kept then. Not thread-safe: the engine uses it under its lock."""

    def __init__(self, memory: int = MEMORY) -> None:
        self.memory = memory
        self._held: dict[bytes, Any] = {}
        self._conn: Any = None

    @property
    def spilled(self) -> bool:
        return self._conn is not None

    def first(self, key: str, note: Any) -> Any:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if self._conn is None:
            if digest in self._held:
                return self._held[digest]
            self._held[digest] = note
            if len(self._held) > self.memory:
                self._spill()
            return None
        note = storable(note)
        if self._conn.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)",
                              (digest, note)).rowcount == 1:
            return None
        return self._conn.execute("SELECT note FROM seen WHERE id = ?", (digest,)).fetchone()[0]

    def close(self) -> None:
        self._held = {}
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _spill(self) -> None:
        import sqlite3

        # "": a private temporary database, deleted on close. check_same_thread=False: the
        # engine's main thread admits jobs, its teardown may run elsewhere.
        self._conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute("CREATE TABLE seen (id BLOB PRIMARY KEY, note) WITHOUT ROWID")
        self._conn.execute("BEGIN")  # never committed: a scratch file, one transaction is cheaper
        self._conn.executemany("INSERT INTO seen VALUES (?, ?)",
                               ((k, storable(v)) for k, v in self._held.items()))
        self._held = {}


def storable(value: Any) -> Any:
    """VALUE as SQLite can store it: text with a lone surrogate (from a "\\ud800" escape, which
    no UTF-8 holds) has U+FFFD in its place."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value
