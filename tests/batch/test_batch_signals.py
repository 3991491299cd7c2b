"""Ctrl-C, SIGTERM and kill -9 during a bulk run (docs/conventions.md, Bulk engine; Exit codes 130).

The subprocess tests run tests/helpers/bulk_run.py: its send() appends each job id to a log
file before "sending", so the log says exactly which requests were made, even by a process
that was killed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shipctl.batch import BulkOptions, Job, Outcome, make_pacer, run
from shipctl.output import Output

HELPER = Path(__file__).parent.parent / "helpers" / "bulk_run.py"
COUNT = 200
JOBS = 4


def make_jobs(n: int) -> list[Job]:
    return [Job(id=f"id-{i}", keys=(), label=f"TEST{i:04d}", where=f"b.jsonl:{i + 1} item {i + 1}")
            for i in range(n)]


# -- in-process: the handlers run in this (main) thread --------------------------------------
def hanging_send_interrupted_twice(release: threading.Event, *, workers: int):
    """A send() that hangs until RELEASE; once WORKERS are inside it, this process gets
    SIGTERM and then SIGINT (the second signal abandons what is in flight)."""
    started = threading.Semaphore(0)

    def send(job: Job) -> Outcome:
        started.release()
        release.wait(120)  # a request that hangs
        return Outcome(True, "late")

    def interrupt_twice():
        for _ in range(workers):
            started.acquire(timeout=5)
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_twice, daemon=True).start()
    return send


def test_ctrl_c_finishes_in_flight_reports_the_rest_interrupted_and_restores_handlers(capsys):
    before = signal.getsignal(signal.SIGINT)
    sent = []

    def send(job: Job) -> Outcome:
        sent.append(job.id)
        if job.id == "id-5":
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.02)
        return Outcome(True, "ok")

    summary = run(make_jobs(100), send, BulkOptions(jobs=2), Output())

    assert summary.interrupted and summary.signal == "SIGINT"
    assert summary.exit_code() == 130
    assert summary.counts["succeeded"] == len(sent) == summary.sent  # in-flight ones finished
    assert len(sent) <= 8
    assert summary.counts["succeeded"] + summary.counts["interrupted"] == summary.total
    assert signal.getsignal(signal.SIGINT) is before
    out, err = capsys.readouterr()
    assert "interrupted" in out.splitlines()[-1]
    assert re.search(r"^interrupted\s+TEST\d+ .*not sent: interrupted \(SIGINT\)", err, re.M)


def test_a_second_signal_abandons_in_flight_requests_at_once(capsys):
    release = threading.Event()
    send = hanging_send_interrupted_twice(release, workers=3)
    began = time.monotonic()
    try:
        summary = run(make_jobs(10), send, BulkOptions(jobs=3, grace_seconds=30), Output())
    finally:
        release.set()
    assert time.monotonic() - began < 20  # not the 30 s grace
    assert summary.signal == "SIGTERM" and summary.exit_code() == 130
    assert summary.sent == 3 and summary.counts["interrupted"] == 10
    _, err = capsys.readouterr()
    assert err.count("abandoned in flight") == 3
    assert "press Ctrl-C again" in err


def test_an_abandoned_request_that_is_not_idempotent_is_unknown_in_the_journal(capsys,
                                                                               tmp_path):
    """A Fynd transition in flight at a second Ctrl-C may have been applied: it is journaled
    as unknown (a re-run verifies it), not interrupted (which a re-run sends again)."""
    release = threading.Event()
    send = hanging_send_interrupted_twice(release, workers=1)
    journal = tmp_path / "j.db"
    try:
        summary = run(make_jobs(3), send, BulkOptions(jobs=1, grace_seconds=30, journal=journal,
                                                      idempotent=False), Output())
    finally:
        release.set()
    assert summary.exit_code() == 130
    assert summary.counts["unknown"] == 1 and summary.counts["interrupted"] == 2
    with sqlite3.connect(journal) as conn:
        assert list(conn.execute("SELECT id, status FROM items")) == [("id-0", "unknown")]
    _, err = capsys.readouterr()
    assert "it may have been applied; a re-run verifies it before sending" in err


def test_in_flight_requests_are_abandoned_after_the_grace_period(capsys):
    release = threading.Event()

    def send(job: Job) -> Outcome:
        if job.id == "id-0":
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        release.wait(120)
        return Outcome(True, "late")

    began = time.monotonic()
    try:
        summary = run(make_jobs(5), send, BulkOptions(jobs=2, grace_seconds=0.3), Output())
    finally:
        release.set()
    assert 0.3 <= time.monotonic() - began < 60
    assert summary.counts["interrupted"] == 5 and summary.exit_code() == 130


def test_sigterm_counts_only_requests_really_in_flight(capsys):
    # --rate 0.05 with 3 workers: one request is being sent, two workers wait for the pacer.
    # Those two were never sent: the note must not count them, and they must not hold up
    # the exit while their slots come round.
    def send(job: Job) -> Outcome:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        time.sleep(0.2)
        return Outcome(True, "ok")

    began = time.monotonic()
    summary = run(make_jobs(5), send, BulkOptions(jobs=3, rate=0.05), Output())

    assert time.monotonic() - began < 10  # their slots were 20 and 40 s away
    assert summary.signal == "SIGTERM" and summary.sent == 1
    assert summary.counts["succeeded"] == 1 and summary.counts["interrupted"] == 4
    _, err = capsys.readouterr()
    assert "letting 1 request(s) in flight finish" in err


def test_ctrl_c_stops_a_retry_waiting_for_the_pacer(capsys):
    # The retry of item 0 waits for a slot of a shared pacer at --rate 0.02 (50 s away);
    # Ctrl-C cancels the pacer, send() gives up with its last answer, the run ends at once.
    pacer = make_pacer(0.02)
    paced: list[bool] = []

    def send(job: Job) -> Outcome:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        allowed = pacer.wait()  # what http.send does before a retry (HttpOptions.pace)
        paced.append(allowed)
        if not allowed:
            return Outcome(False, "HTTP 503 (retry abandoned)", attempts=1)
        return Outcome(True, "ok", attempts=2)

    began = time.monotonic()
    summary = run(make_jobs(3), send, BulkOptions(jobs=1, rate=0.02, pacer=pacer), Output())

    assert time.monotonic() - began < 20
    assert paced == [False]
    assert summary.exit_code() == 130 and summary.sent == 1
    assert summary.counts["failed"] == 1 and summary.counts["interrupted"] == 2


def test_ctrl_c_while_waiting_for_input_stops_reading(capsys):
    def jobs():
        yield from make_jobs(3)
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        time.sleep(30)  # e.g. a pipe on stdin with nothing more to say yet
        yield from make_jobs(1)

    began = time.monotonic()
    summary = run(jobs(), lambda job: Outcome(True, "ok"), BulkOptions(), Output())
    assert time.monotonic() - began < 20  # not the 30 s the input sleeps
    assert summary.interrupted and summary.counts["succeeded"] == 3


@pytest.mark.timeout(60)
def test_an_interruption_wrapped_by_the_input_reader_is_still_an_interruption(capsys):
    # pydantic (validating an item while the signal lands) wraps whatever its code raised
    # into its own error: the run must say "interrupted", not "input could not be read".
    def jobs():
        yield from make_jobs(3)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except BaseException as stopped:
            raise ValueError("validation failed") from stopped
        yield from make_jobs(1)

    summary = run(jobs(), lambda job: Outcome(True, "ok"), BulkOptions(), Output())
    assert summary.interrupted and summary.signal == "SIGTERM"
    assert summary.exit_code() == 130
    assert summary.total == 3 and summary.counts["not_sent"] == 0
    assert summary.counts["succeeded"] + summary.counts["interrupted"] == 3
    assert "could not be read" not in capsys.readouterr().err


# -- subprocesses: kill -9, SIGINT, SIGTERM --------------------------------------------------
def start(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HELPER), "--count", str(COUNT), "--jobs", str(JOBS),
         "--sleep", "0.02", "--log", str(tmp_path / "sent.log"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_for_lines(path: Path, count: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError(f"{path} never reached {count} lines")


def journal_statuses(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, status FROM items"))
    finally:
        conn.close()


def sent_ids(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_kill_9_then_rerun_sends_everything_and_nothing_that_succeeded_twice(tmp_path):
    journal, log = tmp_path / "j.db", tmp_path / "sent.log"
    proc = start(tmp_path, "--journal", str(journal))
    wait_for_lines(log, COUNT // 3, proc)
    proc.kill()  # SIGKILL: no handler, no clean-up
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    first = sent_ids(log)
    succeeded_first = {k for k, v in journal_statuses(journal).items() if v == "succeeded"}
    assert 0 < len(first) < COUNT
    assert succeeded_first <= set(first)

    second_proc = start(tmp_path, "--journal", str(journal))
    out, err = second_proc.communicate(timeout=60)
    assert second_proc.returncode == 0, err
    second = sent_ids(log)[len(first):]

    assert len(first) == len(set(first)) and len(second) == len(set(second))
    assert not succeeded_first & set(second)  # nothing journaled as done was sent again
    sent_twice = set(first) & set(second)
    assert len(sent_twice) <= JOBS  # at most what was in flight at the kill
    assert set(first) | set(second) == {f"item-{i:04d}" for i in range(COUNT)}
    assert set(journal_statuses(journal).values()) == {"succeeded"}
    assert len(journal_statuses(journal)) == COUNT
    assert f"skipped {len(succeeded_first)}" in out.decode()


def read_report(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n")  # never half a line
    text = data.decode()
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(("signum", "report_name"), [
    (signal.SIGINT, "report.jsonl"),
    (signal.SIGTERM, "report.csv"),
])
def test_signal_exits_130_with_journal_and_report_agreeing(tmp_path, signum, report_name):
    journal, report, log = tmp_path / "j.db", tmp_path / report_name, tmp_path / "sent.log"
    proc = start(tmp_path, "--journal", str(journal), "--report", str(report))
    wait_for_lines(report, 30, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    records = read_report(report)
    statuses = {r["label"]: r["status"] for r in records}
    assert len(statuses) == len(records) < COUNT
    assert set(statuses.values()) <= {"succeeded", "interrupted"}
    journaled = journal_statuses(journal)
    assert set(journaled.values()) == {"succeeded"}  # interrupted ones are not journaled
    succeeded_report = {label for label, s in statuses.items() if s == "succeeded"}
    assert {f"TEST{k[5:]}" for k in journaled} == succeeded_report
    assert len(sent_ids(log)) == len(succeeded_report)  # in-flight ones finished in grace
    summary = out.decode().strip().splitlines()[-1]
    assert summary.startswith(f"sent {len(succeeded_report)}, succeeded {len(succeeded_report)}")
    assert "interrupted" in summary
    assert b"payload-secret" not in journal.read_bytes() + report.read_bytes()

    # and the re-run finishes the job, sending only what had not succeeded
    rerun = start(tmp_path, "--journal", str(journal), "--report", str(report))
    rerun.communicate(timeout=60)
    assert rerun.returncode == 0
    second = sent_ids(log)[len(succeeded_report):]
    assert len(second) == COUNT - len(succeeded_report)
    rerun_statuses = [r["status"] for r in read_report(report)]
    assert rerun_statuses.count("skipped") == len(succeeded_report)


def test_json_output_is_one_document_even_when_interrupted(tmp_path):
    proc = start(tmp_path, "--json")
    wait_for_lines(tmp_path / "sent.log", 20, proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    document = json.loads(out)
    assert document["summary"]["signal"] == "SIGINT"
    assert document["summary"]["exit_code"] == 130
    assert len(document["results"]) == document["summary"]["total"]
