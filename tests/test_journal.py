"""--journal FILE (docs/conventions.md, Bulk engine): resume, refusal of foreign/damaged
files, no payloads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from shipctl import secrets
from shipctl.batch import BulkOptions, Job, Outcome, run
from shipctl.errors import UsageError
from shipctl.journal import Journal
from shipctl.output import Output

PAYLOAD_SECRET = "Jane Citizen, 0412 345 678"


def make_jobs(n: int, *, keys: dict[int, str] | None = None) -> list[Job]:
    keys = keys or {}
    return [
        Job(id=f"id-{i:03d}", keys=(keys[i],) if i in keys else (), label=f"TEST{i:04d}",
            where=f"bulk.jsonl:{i + 1} item {i + 1}",
            payload={"to": {"name": PAYLOAD_SECRET}})
        for i in range(n)
    ]


def sender(fail=()):
    sent: list[str] = []

    def send(job: Job) -> Outcome:
        sent.append(job.id)
        if job.id in fail:
            return Outcome(False, "Shipment not found", code=3)
        return Outcome(True, "Modify success!", code=0)

    return send, sent


def rows(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT id, status FROM items"))


def test_rerun_skips_succeeded_and_resends_failed_blocked_and_not_sent(capsys, tmp_path):
    journal = tmp_path / "nightly.db"
    jobs = make_jobs(12, keys={2: "A", 6: "A", 9: "A"})

    # run 1: id-002 fails (so id-006 and id-009 are blocked), id-004 fails, and --fail-fast
    # after id-004 leaves the rest not sent
    send, sent1 = sender(fail={"id-002", "id-004"})
    first = run(jobs[:8], send, BulkOptions(jobs=1, journal=journal), Output())
    assert first.counts["failed"] == 2 and first.counts["blocked"] == 1
    assert rows(journal) == {
        **{f"id-{i:03d}": "succeeded" for i in (0, 1, 3, 5, 7)},
        "id-002": "failed", "id-004": "failed", "id-006": "blocked",
    }

    # run 2: id-010 fails and --fail-fast leaves id-011 not sent
    send, sent2 = sender(fail={"id-010"})
    second = run(jobs, send, BulkOptions(jobs=1, journal=journal, fail_fast=True), Output())

    assert sorted(sent2) == ["id-002", "id-004", "id-006", "id-008", "id-009", "id-010"]
    assert second.counts["skipped"] == 5 and second.counts["not_sent"] == 1
    # run 3: everything the journal does not call succeeded is sent, nothing else
    succeeded = {k for k, v in rows(journal).items() if v == "succeeded"}
    send, sent3 = sender()
    third = run(jobs, send, BulkOptions(jobs=2, journal=journal), Output())
    assert set(sent3) == {j.id for j in jobs} - succeeded == {"id-010", "id-011"}
    assert third.counts["skipped"] == len(succeeded)
    assert third.exit_code() == 0
    assert set(rows(journal).values()) == {"succeeded"}
    _, err = capsys.readouterr()
    assert "skipped    TEST0000  bulk.jsonl:1 item 1  already succeeded (journal)" in err


def test_journal_records_runs_and_items(capsys, tmp_path):
    journal = tmp_path / "j.db"
    send, _ = sender(fail={"id-001"})
    run(make_jobs(3), send, BulkOptions(journal=journal, command="ewe modify"), Output())
    with sqlite3.connect(journal) as conn:
        command, finished, counts = conn.execute(
            "SELECT command, finished, counts FROM runs"
        ).fetchone()
        item = conn.execute(
            'SELECT key, label, "where", status, code, message, attempts FROM items '
            "WHERE id = 'id-001'"
        ).fetchone()
    assert command == "ewe modify" and finished
    assert json.loads(counts)["failed"] == 1
    assert item == (None, "TEST0001", "bulk.jsonl:2 item 2", "failed", "3",
                    "Shipment not found", 1)
    assert journal.stat().st_mode & 0o777 == 0o600


def test_journal_never_holds_payloads_or_secrets(capsys, tmp_path):
    secrets.register("ewe-password-123")
    journal = tmp_path / "j.db"

    def send(job: Job) -> Outcome:
        if job.id == "id-001":
            raise RuntimeError("digest for ewe-password-123 rejected")
        return Outcome(False, "rejected for ewe-password-123", detail={"body": PAYLOAD_SECRET})

    run(make_jobs(3), send, BulkOptions(journal=journal), Output())
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("j.db"))
    assert b"ewe-password-123" not in stored
    assert PAYLOAD_SECRET.encode() not in stored
    assert b"rejected for ********" in stored


@pytest.mark.parametrize("content", [
    b"index,where,label\n1,bulk.jsonl:1,TEST0001\n",  # a CSV report given by mistake
    b"SQLite format 3\x00" + b"\x00" * 20,  # too short to be a database
    b"\x00" * 4096,
])
def test_a_file_that_is_not_a_journal_is_refused_and_left_alone(capsys, tmp_path, content):
    journal = tmp_path / "nightly.db"
    journal.write_bytes(content)
    send, sent = sender()
    with pytest.raises(UsageError) as info:
        run(make_jobs(2), send, BulkOptions(journal=journal), Output())
    assert str(journal) in str(info.value) and "not a shipctl journal" in str(info.value)
    assert info.value.exit_code == 2
    assert journal.read_bytes() == content
    assert sent == [] and capsys.readouterr().out == ""


def test_another_programs_sqlite_database_is_refused_and_left_alone(capsys, tmp_path):
    journal = tmp_path / "other.db"
    with sqlite3.connect(journal) as conn:
        conn.execute("CREATE TABLE items (id TEXT PRIMARY KEY, status TEXT)")
        conn.execute("INSERT INTO items VALUES ('id-000', 'succeeded')")
    conn.close()
    before = journal.read_bytes()
    send, sent = sender()
    with pytest.raises(UsageError) as info:
        run(make_jobs(2), send, BulkOptions(journal=journal), Output())
    assert "not a shipctl journal" in str(info.value)
    assert journal.read_bytes() == before and sent == []


def _journal_with(tmp_path: Path, count: int) -> Path:
    journal = tmp_path / "big.db"
    send, _ = sender()
    run(make_jobs(count), send, BulkOptions(jobs=1, journal=journal), Output())
    assert not Path(f"{journal}-wal").exists()  # checkpointed on close
    return journal


@pytest.mark.parametrize("damage", ["truncated", "garbled page"])
def test_a_damaged_journal_is_refused_and_left_alone(capsys, tmp_path, damage):
    journal = _journal_with(tmp_path, 300)
    data = journal.read_bytes()
    assert len(data) >= 4 * 4096
    if damage == "truncated":
        data = data[: len(data) // 2 + 100]
    else:
        data = data[: 2 * 4096] + b"\xa5" * 4096 + data[3 * 4096:]
    journal.write_bytes(data)
    send, sent = sender()
    with pytest.raises(UsageError) as info:
        run(make_jobs(2), send, BulkOptions(journal=journal), Output())
    assert "damaged" in str(info.value) and str(journal) in str(info.value)
    assert journal.read_bytes() == data and sent == []


def test_journal_from_a_newer_shipctl_is_refused(capsys, tmp_path):
    journal = _journal_with(tmp_path, 1)
    with sqlite3.connect(journal) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(UsageError) as info:
        Journal.open(journal)
    assert "newer shipctl" in str(info.value)


def test_journal_in_a_missing_directory_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(UsageError) as info:
        run(make_jobs(1), sender()[0],
            BulkOptions(journal=tmp_path / "missing" / "j.db"), Output())
    assert "missing" in str(info.value) and "does not exist" in str(info.value)


def test_journal_that_is_a_directory_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(UsageError) as info:
        run(make_jobs(1), sender()[0], BulkOptions(journal=tmp_path), Output())
    assert "directory" in str(info.value)


def test_an_empty_file_becomes_a_new_journal(capsys, tmp_path):
    journal = tmp_path / "j.db"
    journal.touch()  # e.g. made by mktemp
    send, sent = sender()
    summary = run(make_jobs(2), send, BulkOptions(journal=journal), Output())
    assert summary.counts["succeeded"] == 2 and set(rows(journal).values()) == {"succeeded"}


def test_journal_and_report_must_be_different_files(capsys, tmp_path):
    path = tmp_path / "same.db"
    with pytest.raises(UsageError):
        run(make_jobs(1), sender()[0], BulkOptions(journal=path, report=path), Output())
    assert not path.exists()


def test_a_succeeded_item_stays_succeeded(tmp_path):
    journal = Journal.open(tmp_path / "j.db")
    fields = dict(key=None, label="L", where="w", code=None, message="m", attempts=1)
    journal.record(item_id="x", status="succeeded", **fields)
    journal.record(item_id="x", status="invalid", **fields)  # e.g. a stricter validator later
    assert journal.succeeded("x")
    journal.record(item_id="y", status="failed", **fields)
    journal.record(item_id="y", status="succeeded", **fields)
    assert journal.succeeded("y")
    journal.close()
