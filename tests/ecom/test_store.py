"""The capture store: WAL + synchronous=FULL, 0600, dedupe on status_update_number, group commit."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time

import pytest

from shipctl.ecom.receive import store as store_module
from shipctl.ecom.receive.receiver import Push
from shipctl.ecom.receive.store import Store, StoreError, connect, default_path
from shipctl.errors import UsageError


def push(number: str, awb: str = "8012345671", when: str = "2024-03-01 10:00:00") -> Push:
    body = json.dumps({"awb": awb, "datetime": when, "status_update_number": number}).encode()
    return Push(body=body, headers=[("authorization", "[redacted]")], awb=awb, datetime=when,
                status_update_number=number, reason_code_number="002", warnings=["w: x"])


def test_a_file_store_is_wal_full_sync_and_private(tmp_path):
    path = tmp_path / "deep" / "pushes.sqlite3"
    with Store(path) as store:
        assert store.add(push("1")).result(timeout=10) is True
        connection = store._connection
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_duplicate_number_is_not_stored_twice(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.add(push("7")).result(timeout=10) is True
        assert store.add(push("7", awb="other")).result(timeout=10) is False
        rows = store.rows()
    assert [(r.awb, r.status_update_number) for r in rows] == [("8012345671", "7")]


def test_what_a_row_holds(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.add(push("9")).result(timeout=10)
        (row,) = store.rows()
    assert row.body == push("9").body and isinstance(row.body, bytes)
    assert row.headers == [["authorization", "[redacted]"]]
    assert row.validation == {"valid": True, "warnings": ["w: x"]}
    assert row.received_at.endswith("+00:00") and row.datetime == "2024-03-01 10:00:00"


def test_concurrent_adds_are_each_committed_once_and_batched(tmp_path, monkeypatch):
    commits = []
    original = Store._commit

    def counting(self, batch):
        commits.append(len(batch))
        original(self, batch)

    monkeypatch.setattr(Store, "_commit", counting)
    path = tmp_path / "s.db"
    results: list[bool] = []
    with Store(path) as store:
        def client(k: int) -> None:
            futures = [store.add(push(str(n % 300))) for n in range(k * 100, k * 100 + 100)]
            results.extend(f.result(timeout=30) for f in futures)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(results) == 300 and len(results) == 800  # 300 distinct numbers
    assert sum(commits) == 800 and len(commits) < 800  # group commit: fewer commits than pushes
    # a second connection (another process would see the same) reads every committed push
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM pushes").fetchone()[0] == 300


def test_the_future_resolves_only_after_commit(tmp_path, monkeypatch):
    """A 200 waits for this future: it must not be resolved before COMMIT returned."""
    path = tmp_path / "s.db"
    seen = {}
    with Store(path) as store:
        original = store._connection

        class Spy:
            def execute(self, sql, *args):
                if sql == "COMMIT":
                    seen["before_commit"] = future.done()
                return original.execute(sql, *args)

            def __getattr__(self, name):
                return getattr(original, name)

        store._connection = Spy()
        future = store.add(push("1"))
        assert future.result(timeout=10) is True
        store._connection = original
    assert seen == {"before_commit": False}


def test_a_failed_commit_fails_every_waiting_push(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store._connection.execute("DROP TABLE pushes")  # what a broken disk would look like
        with pytest.raises(StoreError):
            store.add(push("1")).result(timeout=10)
        store._connection.executescript(store_module._PUSHES)
        assert store.add(push("2")).result(timeout=10) is True  # and it keeps working


def test_a_closed_store_refuses(tmp_path):
    store = Store(tmp_path / "s.db")
    store.close()
    with pytest.raises(StoreError):
        store.add(push("1")).result(timeout=1)


def test_memory_store_commits_in_the_callers_thread():
    store = Store()
    assert store._writer is None
    assert store.add(push("1")).done() and store.count() == 1
    store.clear()
    assert store.count() == 0


def test_filters_keep_arrival_order(tmp_path):
    with Store(tmp_path / "s.db") as store:
        for number, awb, when in [("3", "A", "2024-03-02 00:00:00"),
                                  ("1", "B", "2024-03-01 00:00:00"),
                                  ("2", "A", "2024-03-01 00:00:00")]:
            store.add(push(number, awb, when)).result(timeout=10)
        assert [r.status_update_number for r in store.rows(awb="A")] == ["3", "2"]
        assert [r.status_update_number for r in store.rows(since="2024-03-02 00:00:00")] == ["3"]


def test_a_file_that_is_not_a_store_is_a_usage_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="cannot use .* as the push store"):
        connect(junk)
    with pytest.raises(UsageError, match="no store at"):
        connect(tmp_path / "missing.db", create=False)


def test_the_default_store_lives_in_the_user_data_dir(isolated_env):
    assert str(default_path()).startswith(str(isolated_env / ".local" / "share"))


def test_a_cancelled_waiter_is_skipped_and_the_writer_keeps_going(tmp_path):
    """At shutdown uvicorn may cancel a request awaiting its commit, which cancels the future:
    the writer must not die on it (every later push would wait forever)."""
    with Store(tmp_path / "s.db") as store:
        with store._lock:  # the writer takes "0" and then waits here for the connection
            first = store.add(push("0"))
            deadline = time.monotonic() + 10
            while not first.running():
                assert time.monotonic() < deadline
                time.sleep(0.005)
            cancelled = store.add(push("1"))  # queued behind it, then given up
            assert cancelled.cancel()
            kept = store.add(push("2"))
        assert first.result(timeout=10) is True and kept.result(timeout=10) is True
        assert store.add(push("3")).result(timeout=10) is True
        assert [r.status_update_number for r in store.rows()] == ["0", "2", "3"]
