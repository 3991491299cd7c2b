"""Sorting more items than memory holds: a bulk provider whose input must go in another order
than it came (Ecom's scans, chronologically) streams it through an ``ExternalSorter``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

from shipctl.batch.seen import storable

MEMORY = 16 * 1024 * 1024  # bytes of records sorted in memory before they go to disk


class ExternalSorter:
    """Sort (key, record) pairs without holding them all: up to ``memory`` bytes of records
    are sorted in a list; beyond that every pair goes to a temporary SQLite table, which
    sorts on disk with a bounded cache, and is deleted on ``close``.

    Every key is a tuple of the same length, of text and integers, compared item by item
    (text as SQLite's BINARY collation, UTF-8 bytes, which orders as Python's str does);
    records are text. Pairs with equal keys come out in the order they went in."""

    def __init__(self, memory: int = MEMORY) -> None:
        self.memory = memory
        self.held: list[tuple[tuple, str]] = []
        self.held_bytes = 0
        self.path: str | None = None  # the temporary database, once spilled
        self._db: Any = None
        self._columns = 0
        self._count = 0  # rows inserted
        self._pending: list[tuple] = []  # rows not yet inserted

    @property
    def spilled(self) -> bool:
        return self.path is not None

    def add(self, key: tuple, record: str) -> None:
        if self._db is not None:
            self._pending.append((*map(storable, key), len(self._pending) + self._count,
                                  record))
            if len(self._pending) >= 1000:
                self._flush()
            return
        self.held.append((key, record))
        self.held_bytes += len(record) + 200  # the key and the tuples around it
        if self.held_bytes > self.memory:
            self._spill()

    def sorted(self) -> Iterator[str]:
        if self._db is None:
            self.held.sort(key=lambda pair: pair[0])  # stable: equal keys keep their order
            for _key, record in self.held:
                yield record
            return
        self._flush()
        order = ", ".join(f"k{n}" for n in range(self._columns))
        for (record,) in self._db.execute(f"SELECT record FROM items ORDER BY {order}, seq"):
            yield record

    def close(self) -> None:
        self.held = []
        if self._db is not None:
            self._db.close()
            self._db = None
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def _spill(self) -> None:
        import sqlite3

        handle, self.path = tempfile.mkstemp(prefix="shipctl-sort-", suffix=".db")
        os.close(handle)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # A scratch file: no journal, no fsync; the cache (and so the sorter's memory) is
        # bounded by what memory allows, the rest stays on disk.
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(f"PRAGMA cache_size = -{max(64, self.memory // 1024)}")
        self._db.execute("PRAGMA temp_store = FILE")
        self._columns = len(self.held[0][0])
        columns = ", ".join(f"k{n}" for n in range(self._columns))
        self._db.execute(f"CREATE TABLE items ({columns}, seq INTEGER, record TEXT)")
        self._pending = [(*map(storable, key), seq, record)
                         for seq, (key, record) in enumerate(self.held)]
        self.held = []
        self._flush()

    def _flush(self) -> None:
        if self._pending:
            marks = ", ".join("?" * (self._columns + 2))
            self._db.execute("BEGIN")
            self._db.executemany(f"INSERT INTO items VALUES ({marks})", self._pending)
            self._db.execute("COMMIT")
            self._count += len(self._pending)
            self._pending = []
