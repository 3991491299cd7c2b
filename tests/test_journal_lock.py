"""One run per journal (docs/conventions.md, Bulk engine: --journal, --wait): real `shipctl
ewe modify` processes on one journal, against the sandbox on 127.0.0.1.

The first run holds the journal while it waits for its input on stdin, for as long as the test
likes; the run killed with SIGKILL is slowed down with --rate so that it dies mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import audit
from factories import ewe_request

COUNT = 8
RATE = "4"  # 8 items at 4/s: the first run holds the journal for about 2 s


def write_items(path: Path, count: int = COUNT, prefix: str = "LOCK") -> list[str]:
    refs = [f"{prefix}{n:04d}" for n in range(count)]
    path.write_text("".join(json.dumps(ewe_request(ref)) + "\n" for ref in refs))
    return refs


def applied(server) -> dict[str, int]:
    stats = requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()
    return stats["ewe"]["applied"]


def start(*args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shipctl", "ewe", "modify", *args],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ))


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    audit(out, err)
    return proc.returncode, out.decode(), err.decode()


def holder_pid(journal: Path, timeout: float = 20) -> int:
    """Wait until a run holds ``journal`` (its lock file names it); return that run's pid."""
    lock = journal.with_name(journal.name + ".lock")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(json.loads(lock.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.02)
    raise AssertionError(f"no run took {journal} within {timeout} s")


def succeeded_rows(journal: Path) -> int:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM items WHERE status = 'succeeded'"
                                ).fetchone()[0]
    except sqlite3.Error:
        return 0


def start_holding(journal: Path) -> subprocess.Popen:
    """A first run that holds ``journal`` for as long as the test likes: it reads its items
    from stdin, which the test writes (``feed``) when it wants the run to go on."""
    first = start("-", "--journal", str(journal), "--rate", "0", stdin=subprocess.PIPE)
    assert holder_pid(journal) == first.pid
    return first


def feed(first: subprocess.Popen, items: Path) -> tuple[int, str, str]:
    assert first.poll() is None  # it held the journal all along
    out, err = first.communicate(input=items.read_bytes(), timeout=60)
    audit(out, err)
    return first.returncode, out.decode(), err.decode()


@pytest.mark.timeout(90)
def test_a_second_run_on_a_held_journal_exits_2_at_once_naming_the_holder(
    sandbox, tmp_path
):
    server = sandbox()
    items, journal = tmp_path / "items.jsonl", tmp_path / "nightly.db"
    refs = write_items(items)
    first = start_holding(journal)
    try:
        # The second run reads stdin, which stays open and empty: had it read its input
        # before looking at the journal, it would hang there.
        began = time.monotonic()
        second = start("-", "--journal", str(journal), "--rate", "0", stdin=subprocess.PIPE)
        code, out, err = finish(second, timeout=20)
        took = time.monotonic() - began
    finally:
        first_code, _, first_err = feed(first, items)
    assert code == 2, err
    assert f"in use by another run (pid {first.pid} on " in err
    assert "started " in err and "ewe modify" in err
    assert "--wait" in err  # the hint says how to wait instead
    assert out == ""
    assert took < 10
    assert first_code == 0, first_err
    # the second run sent nothing: every item went out once, from the first run
    assert applied(server) == dict.fromkeys(refs, 1)
    assert not journal.with_name("nightly.db.lock").exists()  # the first run tidied up


@pytest.mark.timeout(120)
@pytest.mark.parametrize("wait", [["--wait"], ["--wait=60"], ["--wait", "60"]])
def test_with_wait_the_second_run_goes_after_the_first_and_sends_nothing_twice(
    sandbox, tmp_path, wait
):
    server = sandbox()
    items, journal = tmp_path / "items.jsonl", tmp_path / "nightly.db"
    refs = write_items(items)
    first = start_holding(journal)
    try:
        # the same input, as an overlapping cron entry would have it
        second = start(*wait, str(items), "--journal", str(journal), "--rate", "0")
        waiting = second.stderr.readline().decode()  # it says so, then waits
        assert f"in use by another run (pid {first.pid} on " in waiting
        assert "waiting" in waiting
        assert second.poll() is None
    finally:
        first_code, _, first_err = feed(first, items)
    code, out, err = finish(second)
    assert first_code == 0, first_err
    assert code == 0, err
    # it ran after the first: everything was in the journal by then, so all skipped
    assert f"skipped {COUNT}" in out and "sent 0," in out, out
    assert applied(server) == dict.fromkeys(refs, 1)


@pytest.mark.timeout(90)
def test_wait_with_a_limit_gives_up_with_exit_2_naming_the_holder(sandbox, tmp_path):
    server = sandbox()
    items, journal = tmp_path / "items.jsonl", tmp_path / "nightly.db"
    refs = write_items(items)
    first = start_holding(journal)
    try:
        began = time.monotonic()
        second = start(str(items), "--journal", str(journal), "--wait=1", "--rate", "0")
        code, out, err = finish(second)
        took = time.monotonic() - began
    finally:
        first_code, _, first_err = feed(first, items)
    assert code == 2, err
    assert "still in use by another run after --wait=1" in err
    assert f"pid {first.pid} on " in err
    assert 0.9 <= took < 10
    assert first_code == 0, first_err
    assert applied(server) == dict.fromkeys(refs, 1)


@pytest.mark.timeout(120)
def test_a_holder_killed_with_sigkill_does_not_lock_the_journal(sandbox, tmp_path):
    server = sandbox()
    items, journal = tmp_path / "items.jsonl", tmp_path / "nightly.db"
    refs = write_items(items, count=20)
    first = start(str(items), "--journal", str(journal), "--rate", RATE)
    holder_pid(journal)
    deadline = time.monotonic() + 30
    while succeeded_rows(journal) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    finish(first)
    assert first.returncode == -signal.SIGKILL
    lock = journal.with_name("nightly.db.lock")
    assert json.loads(lock.read_text())["pid"] == first.pid  # the file stays; the lock does not

    code, out, err = finish(start(str(items), "--journal", str(journal), "--rate", "0"))

    assert code == 0, err
    assert "in use" not in err
    counts = applied(server)
    assert set(counts) == set(refs)
    # the journal still works: what the first run recorded is skipped, not sent again
    # (at most the requests in flight at the kill were applied but not yet journaled)
    assert "skipped 0," not in out
    assert sum(counts.values()) - len(refs) <= 2
    assert not lock.exists()


@pytest.mark.timeout(60)
def test_the_engine_refuses_a_held_journal_on_its_own(tmp_path):
    """batch.run without the runner (no lock passed in) takes the lock itself."""
    from shipctl.batch import BulkOptions, Job, Outcome, run
    from shipctl.errors import UsageError
    from shipctl.journal import JournalLock
    from shipctl.output import Output

    journal = tmp_path / "j.db"
    sent: list[str] = []

    def send(job: Job) -> Outcome:
        sent.append(job.id)
        return Outcome(True, "ok")

    with JournalLock.acquire(journal, command="other"):
        with pytest.raises(UsageError) as info:
            run([Job(id="a", label="A")], send, BulkOptions(journal=journal), Output())
    assert info.value.exit_code == 2
    assert f"pid {os.getpid()} on " in str(info.value) and "shipctl other" in str(info.value)
    assert sent == []
    # and once released, the same run goes ahead
    summary = run([Job(id="a", label="A")], send, BulkOptions(journal=journal), Output())
    assert summary.counts["succeeded"] == 1 and sent == ["a"]


@pytest.mark.timeout(60)
def test_wait_needs_a_number_of_seconds(cli, tmp_path):
    items = tmp_path / "items.jsonl"
    write_items(items, count=1)
    result = cli("ewe", "modify", str(items), "--journal", str(tmp_path / "j.db"),
                 "--wait=soon")
    assert result.code == 2
    assert "--wait=soon: must be a number of seconds" in result.err
    assert not (tmp_path / "j.db").exists()
