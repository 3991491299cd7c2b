"""The bulk engine (docs/conventions.md, Bulk engine): ordering, concurrency, rate, statuses,
output.

Real worker threads and fake send functions with small sleeps; what is asserted is what a user
sees: which requests were made and when, the exit code, the lines and documents printed, the
report written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import sys
import threading
import time
import tracemalloc
from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl import secrets
from shipctl.batch import (
    BulkOptions,
    Job,
    Outcome,
    Pacer,
    in_shard,
    make_pacer,
    parse_shard,
    run,
    shard_of,
    shorten,
    strict_hold_reason,
)
from shipctl.errors import InputError, UsageError
from shipctl.output import Output


def make_jobs(n: int, *, keys: int = 0, prefix: str = "item") -> list[Job]:
    return [
        Job(
            id=f"{prefix}-{i}",
            keys=(f"key-{i % keys}",) if keys else (),
            label=f"TEST{i:04d}",
            where=f"bulk.jsonl:{i + 1} item {i + 1}",
            payload=i,
        )
        for i in range(n)
    ]


class Recorder:
    """A send() that records what was sent, when, and how many ran at once."""

    def __init__(self, *, delay=0.0, jitter=0.0, fail=(), raise_for=()):
        self.delay, self.jitter = delay, jitter
        self.fail, self.raise_for = set(fail), set(raise_for)
        self.lock = threading.Lock()
        self.sent: list[str] = []
        self.starts: list[float] = []
        self.active = 0
        self.max_active = 0
        self.active_per_key: dict = defaultdict(int)
        self.max_active_per_key = 0

    def __call__(self, job: Job) -> Outcome:
        with self.lock:
            self.starts.append(time.monotonic())
            self.sent.append(job.id)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            for key in job.keys:
                self.active_per_key[key] += 1
                self.max_active_per_key = max(self.max_active_per_key, self.active_per_key[key])
        try:
            if self.delay or self.jitter:
                time.sleep(self.delay + random.random() * self.jitter)
            if job.id in self.raise_for:
                raise RuntimeError(f"boom while sending {job.label}\nsecond line")
            if job.id in self.fail:
                return Outcome(False, "Shipment not found", code=3)
            return Outcome(True, "Modify success!", code=0)
        finally:
            with self.lock:
                self.active -= 1
                for key in job.keys:
                    self.active_per_key[key] -= 1


def stderr_records(err: str) -> dict[str, str]:
    """label → status from the one-line-per-item stderr output."""
    result = {}
    for line in err.splitlines():
        parts = line.split()
        if parts and parts[0] in {"succeeded", "failed", "invalid", "skipped", "blocked",
                                  "duplicate", "not_sent", "interrupted"}:
            result[parts[1]] = parts[0]
    return result


# -- ordering and concurrency ----------------------------------------------------------------
def test_same_key_runs_in_input_order_and_different_keys_overlap(capsys):
    jobs = make_jobs(120, keys=12)
    random.shuffle(jobs)  # input order is what must be kept, whatever it is
    send = Recorder(jitter=0.004)

    summary = run(jobs, send, BulkOptions(jobs=8), Output())

    assert summary.exit_code() == 0
    assert summary.counts["succeeded"] == 120 and summary.sent == 120
    assert sorted(send.sent) == sorted(j.id for j in jobs)
    position = {job_id: n for n, job_id in enumerate(send.sent)}
    by_key = defaultdict(list)
    for job in jobs:
        by_key[job.keys].append(position[job.id])
    for key, positions in by_key.items():
        assert positions == sorted(positions), f"{key} sent out of input order"
    assert send.max_active_per_key == 1  # never two requests of one key at once
    assert send.max_active > 1  # but different keys did run concurrently
    assert send.max_active <= 8


def test_jobs_limits_requests_in_flight(capsys):
    send = Recorder(delay=0.01)
    run(make_jobs(30), send, BulkOptions(jobs=3), Output())
    assert send.max_active == 3


def test_failure_blocks_later_items_of_the_same_key_only(capsys):
    jobs = make_jobs(20, keys=4)  # key-1 holds items 1, 5, 9, 13, 17
    send = Recorder(fail={"item-5"})

    summary = run(jobs, send, BulkOptions(jobs=4), Output())

    out, err = capsys.readouterr()
    status = stderr_records(err)
    assert status["TEST0005"] == "failed"
    assert [status[f"TEST{i:04d}"] for i in (9, 13, 17)] == ["blocked"] * 3
    assert {"item-9", "item-13", "item-17"}.isdisjoint(send.sent)
    assert "item-1" in send.sent
    assert all(status[f"TEST{i:04d}"] == "succeeded" for i in range(20) if i % 4 != 1)
    assert summary.counts["blocked"] == 3 and summary.counts["failed"] == 1
    assert summary.exit_code() == 1
    blocked_line = next(line for line in err.splitlines() if "TEST0009" in line)
    assert "key-1" in blocked_line and "failed" in blocked_line


def test_a_job_with_several_keys_waits_for_all_and_its_failure_blocks_each(capsys, tmp_path):
    # Fynd: one body transitions several shipments; Ecom-like single keys around it
    def make(n, *keys):
        return Job(id=f"item-{n}", keys=keys, label=f"TEST{n:04d}", where=f"f:{n} item {n}")

    jobs = [make(0, "A"), make(1, "B"), make(2, "A", "B"), make(3, "A"), make(4, "B"),
            make(5, "C"), make(6, "C", "B")]
    send = Recorder(jitter=0.004, fail={"item-2"})
    report = tmp_path / "r.jsonl"

    summary = run(jobs, send, BulkOptions(jobs=4, report=report), Output())

    rows = {r["label"]: r for r in map(json.loads, report.read_text().splitlines())}
    assert {label: r["status"] for label, r in rows.items()} == {
        "TEST0000": "succeeded", "TEST0001": "succeeded", "TEST0002": "failed",
        "TEST0003": "blocked", "TEST0004": "blocked", "TEST0005": "succeeded",
        "TEST0006": "blocked"}
    assert send.sent.index("item-2") > max(send.sent.index("item-0"), send.sent.index("item-1"))
    assert send.max_active_per_key == 1
    assert rows["TEST0002"]["key"] == "A B" and rows["TEST0000"]["key"] == "A"
    assert "(B) failed" in rows["TEST0004"]["message"]
    assert summary.counts["blocked"] == 3 and summary.exit_code() == 1


@pytest.mark.parametrize("blocks", [False, True])
def test_an_invalid_item_blocks_its_key_only_when_asked(capsys, blocks):
    jobs = make_jobs(6, keys=2)  # key-0: items 0, 2, 4
    jobs[2].problems = ["no such state"]
    send = Recorder()

    summary = run(jobs, send, BulkOptions(jobs=2, invalid_blocks_keys=blocks), Output())

    _, err = capsys.readouterr()
    status = stderr_records(err)
    assert status["TEST0002"] == "invalid" and status["TEST0000"] == "succeeded"
    assert status["TEST0004"] == ("blocked" if blocks else "succeeded")
    assert summary.counts["blocked"] == int(blocks)
    if blocks:
        assert "(key-0) was invalid" in next(line for line in err.splitlines()
                                             if "TEST0004" in line)


def test_items_without_a_key_are_not_blocked_by_a_failure(capsys):
    send = Recorder(fail={"item-0"})
    summary = run(make_jobs(5), send, BulkOptions(jobs=1), Output())
    assert summary.counts == {**summary.counts, "failed": 1, "succeeded": 4, "blocked": 0}


def test_invalid_items_are_reported_with_their_problems_and_never_sent(capsys):
    jobs = make_jobs(4)
    jobs[1].problems = ["bulk.jsonl:2 item 2 to.phone: must be 9-20 characters"]
    jobs[3].problems = ["a", "b"]
    send = Recorder()

    summary = run(jobs, send, BulkOptions(), Output())

    _, err = capsys.readouterr()
    assert sorted(send.sent) == ["item-0", "item-2"]
    assert summary.counts["invalid"] == 2 and summary.exit_code() == 1
    line = next(line for line in err.splitlines() if "TEST0001" in line)
    assert line.startswith("invalid") and "to.phone: must be 9-20 characters" in line
    assert "a; b" in next(line for line in err.splitlines() if "TEST0003" in line)


def test_duplicates_are_sent_once(capsys):
    jobs = make_jobs(3) + [Job(id="item-1", keys=(), label="AGAIN", where="b.jsonl:9 item 9")]
    send = Recorder()

    summary = run(jobs, send, BulkOptions(), Output())

    _, err = capsys.readouterr()
    assert send.sent.count("item-1") == 1
    assert summary.counts["duplicate"] == 1
    assert summary.exit_code() == 0  # a duplicate is not a failure (Ecom dedupe)
    assert re.search(r"^duplicate\s+AGAIN\s+b\.jsonl:9 item 9\s+duplicate of item 2", err, re.M)


def test_fail_fast_stops_sending_after_the_first_failure(capsys):
    send = Recorder(fail={"item-3"})
    summary = run(make_jobs(10), send, BulkOptions(jobs=1, fail_fast=True), Output())

    assert send.sent == ["item-0", "item-1", "item-2", "item-3"]
    assert summary.counts["not_sent"] == 6 and summary.exit_code() == 1
    _, err = capsys.readouterr()
    assert re.search(r"^not_sent\s+TEST0009 .*--fail-fast", err, re.M)


def test_fail_fast_lets_in_flight_requests_finish(capsys):
    send = Recorder(delay=0.02, fail={"item-2"})
    summary = run(make_jobs(40), send, BulkOptions(jobs=4, fail_fast=True), Output())
    # what was in flight at the failure finished normally; nothing new started after it
    assert summary.counts["interrupted"] == 0
    assert summary.sent == len(send.sent) <= 3 + 4
    assert summary.counts["not_sent"] == 40 - summary.sent
    assert summary.counts["succeeded"] == summary.sent - 1


def test_a_fatal_failure_stops_sending_without_fail_fast(capsys):
    sent = []

    def send(job):
        sent.append(job.id)
        if job.id == "item-2":
            return Outcome(False, "Incorrect signature (check ewe.password)", code=104,
                           fatal=True)
        return Outcome(True, "Modify success!")

    summary = run(make_jobs(10), send, BulkOptions(jobs=1), Output())

    assert sent == ["item-0", "item-1", "item-2"]
    assert summary.counts["not_sent"] == 7 and summary.exit_code() == 1
    _, err = capsys.readouterr()
    assert re.search(r"^not_sent\s+TEST0003 .*stopped after item 3 failed: Incorrect signature",
                     err, re.M)


def test_an_exception_in_send_fails_that_item_only(capsys):
    secrets.register("hunter2-password")
    jobs = make_jobs(3)
    jobs[1].label = "hunter2-password"
    send = Recorder(raise_for={"item-1"})

    summary = run(jobs, send, BulkOptions(), Output())

    out, err = capsys.readouterr()
    assert summary.counts["failed"] == 1 and summary.counts["succeeded"] == 2
    line = next(line for line in err.splitlines() if line.startswith("failed"))
    assert "RuntimeError: boom while sending" in line
    assert "second line" not in err
    assert "hunter2-password" not in out + err


def test_send_returning_something_else_is_a_failure_not_a_crash(capsys):
    summary = run(make_jobs(2), lambda job: None, BulkOptions(), Output())
    assert summary.counts["failed"] == 2


def test_an_input_error_mid_stream_is_raised_after_reporting_what_was_done(capsys, tmp_path):
    def jobs():
        yield from make_jobs(3)
        raise InputError("bulk.jsonl:4:1: expected a JSON object")

    send = Recorder()
    report = tmp_path / "r.jsonl"
    with pytest.raises(InputError):
        run(jobs(), send, BulkOptions(report=report), Output(json_mode=True))
    out, _ = capsys.readouterr()
    document = json.loads(out)  # stdout is still one complete JSON document
    assert len(document["results"]) == 3 == len(report.read_text().splitlines())


def test_strict_hold_sends_nothing(capsys, tmp_path):
    jobs = make_jobs(3)
    jobs[0].problems = ["bad"]
    send = Recorder()
    journal = tmp_path / "j.db"

    summary = run(jobs, send, BulkOptions(journal=journal), Output(),
                  hold=strict_hold_reason(1, 3))

    assert send.sent == []
    assert summary.counts["invalid"] == 1 and summary.counts["not_sent"] == 2
    assert summary.exit_code() == 1
    assert not journal.exists()
    _, err = capsys.readouterr()
    assert "not sent: --strict and 1 of 3 items are invalid" in err


def test_bad_options_are_usage_errors(capsys):
    with pytest.raises(UsageError):
        run(make_jobs(1), Recorder(), BulkOptions(jobs=0), Output())
    with pytest.raises(UsageError):
        run(make_jobs(1), Recorder(), BulkOptions(rate=-1), Output())
    assert capsys.readouterr().out == ""


# -- shards ----------------------------------------------------------------------------------
def test_shards_partition_the_keys_evenly():
    keys = [f"AWB{n:08d}" for n in range(3000)]
    counts = [0, 0, 0]
    for key in keys:
        owners = [k for k in range(3) if in_shard(key, (k, 3))]
        assert len(owners) == 1
        counts[owners[0]] += 1
    assert all(850 < c < 1150 for c in counts), counts
    assert all(in_shard(key, None) for key in keys[:10])


def test_shard_is_stable_across_runs_and_machines():
    # sha256-based, so these values are the same on every machine and Python version (a cron
    # entry on host A and one on host B must agree); Python's hash() is salted per process.
    assert [shard_of(f"TEST{n:04d}", 3) for n in range(8)] == [1, 0, 1, 1, 2, 1, 1, 1]
    assert shard_of("TEST0001", 1000) == 961


@pytest.mark.parametrize("text", ["", "3", "3/3", "4/3", "0/0", "-1/3", "a/b", "1/2/3", "1 of 3",
                                  "1/99999999999999999999"])
def test_parse_shard_rejects_bad_values(text):
    with pytest.raises(UsageError) as info:
        parse_shard(text)
    assert "--shard" in str(info.value) and "0/3" in str(info.value)


def test_parse_shard_accepts_k_of_n():
    assert parse_shard("0/3") == (0, 3)
    assert parse_shard(" 2 / 3 ") == (2, 3)
    assert parse_shard("0/1") == (0, 1)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_shard_any_text_is_a_shard_or_a_usage_error(text):
    try:
        k, n = parse_shard(text)
    except UsageError:
        return
    assert 0 <= k < n


@settings(max_examples=100, deadline=None)
@given(st.text(), st.integers(1, 50))
def test_any_key_lands_in_exactly_one_shard(key, n):
    assert sum(in_shard(key, (k, n)) for k in range(n)) == 1


# -- rate ------------------------------------------------------------------------------------
# Timing on a busy 2-core CI: what these tests assert about time cannot flake. Start times are
# the pacer's own (RecordingPacer: taken where it grants a slot, under its lock), so "never
# closer than 1/R" holds exactly; "not slower than --rate" gets only a generous bound here,
# and how closely a run keeps the rate (±5 %) is measured by benchmarks/pacing.py.
class RecordingPacer(Pacer):
    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.grants: list[float] = []

    def _grant(self) -> None:
        super()._grant()
        self.grants.append(self._last)


@pytest.mark.parametrize("workers", [1, 8])
def test_rate_paces_starts_evenly(capsys, workers):
    rate, count = 10.0, 20
    send = Recorder(delay=0.01)
    pacer = RecordingPacer(rate)
    run(make_jobs(count), send, BulkOptions(jobs=workers, rate=rate, pacer=pacer), Output())

    starts = pacer.grants
    assert len(starts) == count == len(send.starts)
    span, ideal = starts[-1] - starts[0], (count - 1) / rate
    assert ideal * 0.999 <= span <= ideal * 3, span  # never faster than --rate
    gaps = [b - a for a, b in pairwise(starts)]
    assert min(gaps) >= 0.95 / rate, min(gaps)  # evenly: no two starts bunched together


def test_rate_allows_no_burst_after_an_idle_spell(capsys):
    rate = 20.0

    def jobs():
        yield from make_jobs(3, prefix="a")
        time.sleep(0.3)  # idle: the pacer must not "save up" starts
        yield from make_jobs(3, prefix="b")

    send = Recorder()
    pacer = RecordingPacer(rate)
    run(jobs(), send, BulkOptions(jobs=4, rate=rate, pacer=pacer), Output())
    starts = pacer.grants
    assert len(starts) == 6
    assert min(b - a for a, b in pairwise(starts)) >= 0.95 / rate


@pytest.mark.parametrize("rate", [0, None])
def test_rate_zero_is_unlimited(capsys, rate):
    send = Recorder()
    started = time.monotonic()
    summary = run(make_jobs(300), send, BulkOptions(jobs=4, rate=rate), Output())
    assert summary.counts["succeeded"] == 300
    assert time.monotonic() - started < 30  # at --rate 1 this would take 5 minutes


class RetryingSend:
    """A send() whose request is answered "busy" once per item and then succeeds: like
    shipctl.ewe.modify's, it takes a pacer slot for the retry (HttpOptions.pace)."""

    def __init__(self, pace):
        self.pace = pace
        self.lock = threading.Lock()
        self.requests: list[tuple[float, str]] = []

    def request(self, job: Job) -> None:
        with self.lock:
            self.requests.append((time.monotonic(), job.id))

    def __call__(self, job: Job) -> Outcome:
        self.request(job)  # first attempt: the engine took its slot
        time.sleep(0.002)  # the back-off
        if not self.pace():
            return Outcome(False, "HTTP 503", attempts=1)
        self.request(job)
        return Outcome(True, "Modify success!", attempts=2)


@pytest.mark.parametrize("workers", [1, 4])
def test_retries_take_slots_from_the_same_pacer(capsys, workers):
    # docs/conventions.md, Bulk engine: --rate paces evenly (no two requests closer than 1/R s
    # apart), retries included.
    rate, count = 20.0, 6
    pacer = RecordingPacer(rate)
    send = RetryingSend(pacer.wait)

    summary = run(make_jobs(count), send, BulkOptions(jobs=workers, rate=rate, pacer=pacer),
                  Output())

    assert summary.counts["succeeded"] == count
    assert len(send.requests) == 2 * count
    starts = pacer.grants  # one slot per request: first attempts and retries
    assert len(starts) == 2 * count
    assert min(b - a for a, b in pairwise(starts)) >= 0.95 / rate
    assert starts[-1] - starts[0] <= (2 * count - 1) / rate * 3  # and not much slower


def test_without_a_shared_pacer_retries_are_not_paced(capsys):
    # The reason BulkOptions.pacer exists: a pacer the engine makes for itself sees only
    # first attempts, and a retry can follow its first attempt at once.
    rate = 2.0  # slots 0.5 s apart: a retry 2 ms after its first attempt is plainly unpaced
    send = RetryingSend(lambda: True)
    run(make_jobs(3), send, BulkOptions(jobs=2, rate=rate), Output())
    starts = sorted(t for t, _ in send.requests)
    assert min(b - a for a, b in pairwise(starts)) < 0.5 / rate


def test_fail_fast_drops_jobs_waiting_for_the_pacer_at_once(capsys):
    # --rate 0.05: the second job would wait 20 s for its slot; --fail-fast after the first
    # job fails must not make the run wait for it.
    send = Recorder(fail={"item-0"})
    began = time.monotonic()
    summary = run(make_jobs(3), send, BulkOptions(jobs=2, rate=0.05, fail_fast=True), Output())
    assert time.monotonic() - began < 10
    assert send.sent == ["item-0"]
    assert summary.counts["failed"] == 1 and summary.counts["not_sent"] == 2


def test_a_fatal_failure_drops_a_job_waiting_for_the_pacer_even_with_nothing_left_to_read(
        capsys):
    # two jobs, two workers: the second is taken at once and waits 20 s for its slot; when the
    # first fails fatally there is nothing else to settle, and the wait must still end now
    def send(job):
        return Outcome(False, "Incorrect signature", code=104, fatal=True)

    began = time.monotonic()
    summary = run(make_jobs(2), send, BulkOptions(jobs=2, rate=0.05), Output())
    assert time.monotonic() - began < 10
    assert summary.sent == 1 and summary.counts["not_sent"] == 1


def test_pacer_cancel_wakes_every_waiter_at_once():
    pacer = Pacer(0.01)  # a 100 s interval
    assert pacer.wait()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(pacer.wait())) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    began = time.monotonic()
    pacer.cancel()
    for thread in threads:
        thread.join(60)
    assert results == [False, False, False] and time.monotonic() - began < 30
    assert pacer.wait() is False  # and for good: a pacer serves one run


def test_pacer_give_up_is_rechecked_on_wake():
    pacer = Pacer(0.01)  # a 100 s interval
    assert pacer.wait()
    stop = threading.Event()
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(pacer.wait(stop.is_set)))
    waiter.start()
    time.sleep(0.05)
    stop.set()
    pacer.wake()
    waiter.join(60)
    assert results == [False]
    assert not pacer.cancelled  # others (retries in flight) still get their slots


@pytest.mark.parametrize("rate", [-1, float("nan"), float("inf")])
def test_make_pacer_rejects_bad_rates(rate):
    with pytest.raises(UsageError):
        make_pacer(rate)


def test_make_pacer_zero_or_none_is_unlimited():
    assert make_pacer(0) is None and make_pacer(None) is None
    assert make_pacer(4).interval == 0.25


# -- long labels -----------------------------------------------------------------------------
def test_shorten():
    assert shorten("TEST0001", 80) == "TEST0001"
    assert shorten("x" * 100, 10) == "x" * 9 + "…"
    assert shorten("/a/very/long/dir/bulk.jsonl:14 item 3", 20, middle=True) == (
        "/a/very/l…:14 item 3"
    )
    assert len(shorten("y" * 1000, 80, middle=True)) == 80


@settings(max_examples=150, deadline=None)
@given(st.text(), st.integers(1, 200), st.booleans())
def test_shorten_never_exceeds_the_width_and_keeps_short_text(text, width, middle):
    shown = shorten(text, width, middle=middle)
    assert len(shown) <= width
    if len(text) <= width:
        assert shown == text
    else:
        assert len(shown) == width
        cut = (width - 1) // 2 if middle else width - 1  # where the "…" goes
        assert shown[cut] == "…"
        assert text.startswith(shown[:cut]) and text.endswith(shown[cut + 1:])


def test_a_huge_label_is_shortened_on_stderr_and_capped_in_report_and_journal(capsys,
                                                                             tmp_path):
    huge = "R" * 1_000_000
    where = "/" + "d" * 5000 + "/bulk.jsonl:7 item 7"
    jobs = [Job(id="big", keys=(huge,), label=huge, where=where), *make_jobs(1)]
    jobs.append(Job(id="big-2", keys=(huge,), label=huge, where=where))
    report, journal = tmp_path / "r.jsonl", tmp_path / "j.db"
    send = Recorder(fail={"big"})

    run(jobs, send, BulkOptions(jobs=1, report=report, journal=journal), Output())

    _, err = capsys.readouterr()
    assert len(err) < 1000
    lines = err.splitlines()
    assert lines[0].startswith("failed     " + "R" * 79 + "…  /ddd")
    assert ":7 item 7  Shipment not found" in lines[0]
    blocked = next(line for line in lines if line.startswith("blocked"))
    assert "(" + "R" * 79 + "…) failed" in blocked and len(blocked) < 400
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert all(len(r["label"]) <= 1000 and len(r["where"]) <= 1000 for r in rows)
    assert all(len(r["key"] or "") <= 1000 and len(r["message"]) < 1000 for r in rows)
    assert rows[0]["label"] == "R" * 999 + "…" and rows[0]["where"].endswith(":7 item 7")
    import sqlite3

    with sqlite3.connect(journal) as db:
        sizes = db.execute('select max(length(label)), max(length("where")), max(length(key))'
                           " from items").fetchone()
    assert max(sizes) <= 1000


# -- output ----------------------------------------------------------------------------------
def test_text_mode_one_line_per_item_on_stderr_and_summary_on_stdout(capsys):
    send = Recorder(fail={"item-1"})
    run(make_jobs(3), send, BulkOptions(jobs=1), Output())
    out, err = capsys.readouterr()

    assert out.count("\n") == 1
    assert re.fullmatch(
        r"sent 3, succeeded 2, failed 1, invalid 0, skipped 0, blocked 0, duplicate 0 "
        r"in \d+\.\d s\n", out
    )
    lines = err.splitlines()
    assert lines == [
        "succeeded  TEST0000  bulk.jsonl:1 item 1  Modify success!",
        "failed     TEST0001  bulk.jsonl:2 item 2  Shipment not found",
        "succeeded  TEST0002  bulk.jsonl:3 item 3  Modify success!",
    ]


def test_json_mode_is_exactly_one_document_with_results_and_summary(capsys):
    secrets.register("digest-secret-value")
    jobs = make_jobs(4)
    jobs[2].problems = ["to.state: must be one of NSW VIC QLD SA WA TAS NT ACT"]

    def send(job):
        return Outcome(True, "Modify success!", code=0,
                       detail={"answer": {"success": True}, "echo": "digest-secret-value"})

    summary = run(jobs, send, BulkOptions(), Output(json_mode=True))
    out, _ = capsys.readouterr()

    document = json.loads(out)
    assert set(document) == {"results", "summary"}
    assert document["summary"] == summary.as_dict()
    assert document["summary"]["succeeded"] == 3 and document["summary"]["invalid"] == 1
    assert document["summary"]["exit_code"] == 1
    results = sorted(document["results"], key=lambda r: r["index"])
    assert [r["index"] for r in results] == [1, 2, 3, 4]
    assert results[0]["label"] == "TEST0000" and results[0]["where"] == "bulk.jsonl:1 item 1"
    assert results[0]["detail"]["answer"] == {"success": True}
    assert results[2]["status"] == "invalid" and "to.state" in results[2]["message"]
    assert "digest-secret-value" not in out


def test_json_mode_with_no_items_is_still_one_document(capsys):
    summary = run([], Recorder(), BulkOptions(), Output(json_mode=True))
    document = json.loads(capsys.readouterr().out)
    assert document["results"] == [] and document["summary"]["total"] == 0
    assert summary.exit_code() == 0


@pytest.mark.parametrize("name", ["report.csv", "report.jsonl", "report.out"])
def test_report_has_one_record_per_item(capsys, tmp_path, name):
    secrets.register("s3cret-in-message")
    jobs = make_jobs(5, keys=2)
    jobs[4].problems = ["bad postcode"]
    send = Recorder(fail={"item-0"})

    def sending(job):
        outcome = send(job)
        outcome.message += " s3cret-in-message"
        return outcome

    report = tmp_path / name
    run(jobs, sending, BulkOptions(jobs=2, report=report), Output())

    text = report.read_text(encoding="utf-8")
    assert "s3cret-in-message" not in text
    if name.endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(text)))
        assert list(rows[0]) == ["index", "where", "label", "key", "status", "code", "message",
                                 "attempts", "elapsed_ms", "finished_at"]
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    by_index = {int(r["index"]): r for r in rows}
    assert sorted(by_index) == [1, 2, 3, 4, 5]
    statuses = {i: r["status"] for i, r in by_index.items()}
    assert statuses == {1: "failed", 2: "succeeded", 3: "blocked", 4: "succeeded", 5: "invalid"}
    assert str(by_index[1]["code"]) == "3" and "Shipment not found" in by_index[1]["message"]
    assert by_index[5]["message"] == "bad postcode"


def test_report_in_a_missing_directory_is_a_usage_error(capsys, tmp_path):
    send = Recorder()
    with pytest.raises(UsageError) as info:
        run(make_jobs(1), send, BulkOptions(report=tmp_path / "nope" / "r.csv"), Output())
    assert "nope" in str(info.value)
    assert send.sent == [] and capsys.readouterr().out == ""


class TtyOutput(Output):
    @property
    def stderr_is_tty(self) -> bool:
        return True


def test_terminal_gets_a_progress_bar_and_failures_but_no_success_lines(capsys):
    send = Recorder(fail={"item-2"})
    summary = run(make_jobs(5), send, BulkOptions(), TtyOutput(), total=5)
    out, err = capsys.readouterr()
    assert summary.counts["succeeded"] == 4
    assert "Shipment not found" in err and "TEST0002" in err
    assert "Modify success!" not in err
    assert out.startswith("sent 5, succeeded 4, failed 1")


# -- memory and speed ------------------------------------------------------------------------
def _peak_bytes(count: int) -> int:
    def jobs():
        for i in range(count):
            yield Job(id=f"id-{i}", keys=(f"k{i % 1000}",), label=f"L{i}", where=f"f:{i} item {i}")

    tracemalloc.start()
    try:
        summary = run(jobs(), lambda job: Outcome(True, "ok"), BulkOptions(jobs=4), Output())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.counts["succeeded"] == count
    return peak


def test_memory_does_not_grow_with_input(monkeypatch):
    with open(os.devnull, "w") as devnull:
        monkeypatch.setattr(sys, "stderr", devnull)
        monkeypatch.setattr(sys, "stdout", devnull)
        _peak_bytes(100)  # imports and first-use caches are not what is measured
        small = _peak_bytes(10_000)
        large = _peak_bytes(100_000)
    assert large < 2 * small, (small, large)


def test_on_a_terminal_the_bar_goes_to_stderr_and_stdout_keeps_the_json(tmp_path):
    import pty
    import subprocess

    helper = os.path.join(os.path.dirname(os.path.dirname(__file__)), "helpers", "bulk_run.py")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, helper, "--count", "60", "--sleep", "0.01", "--json",
         "--log", str(tmp_path / "sent.log")],
        stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "TERM": "xterm"},
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=30)
    reader.join(5)
    os.close(master)

    document = json.loads(out)  # the bar did not swallow stdout into the terminal
    assert document["summary"]["succeeded"] == 60 and len(document["results"]) == 60
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert "/60" in terminal and "ETA" in terminal
    assert "Modify success!" not in terminal  # successes are counted, not listed


def test_a_paced_run_starts_items_in_input_order():
    # first come, first served: workers queue for the pacer as they take jobs in input order
    starts: list[str] = []
    lock = threading.Lock()

    def send(job):
        with lock:
            starts.append(job.label)
        time.sleep(0.02)
        return Outcome(True, "ok")

    jobs = [Job(id=str(i), keys=(), label=f"J{i:02d}", where=f"f:{i}") for i in range(12)]
    summary = run(iter(jobs), send, BulkOptions(jobs=4, rate=40.0), Output(json_mode=True))
    assert summary.counts["succeeded"] == 12
    assert starts == [job.label for job in jobs]
