"""The bulk engine's scheduler alone (shipctl.batch.scheduler): no threads, no sleeps, no clock.

Each test plays the engine's part by hand: admit jobs as they are read, take the ready ones,
settle and release them with an outcome, and looks at what was decided.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.batch import BLOCKED, DUPLICATE, FAILED, INVALID, NOT_SENT, SKIPPED, SUCCEEDED, Job
from shipctl.batch.scheduler import Scheduler, strict_hold_reason


def job(n: int, *keys: str, problems: list[str] | None = None, id: str | None = None) -> Job:
    return Job(id=id or f"id-{n}", keys=keys, label=f"J{n}", where=f"f:{n}", problems=problems)


@pytest.fixture
def make():
    made: list[Scheduler] = []

    def make(**options) -> Scheduler:
        sched = Scheduler(**options)
        made.append(sched)
        return sched

    yield make
    for sched in made:
        sched.close()


def admit_all(sched: Scheduler, jobs: list[Job]) -> dict[str, str]:
    """Admit ``jobs`` (index = position + 1); label → status of those settled at once."""
    settled = {}
    for n, one in enumerate(jobs, 1):
        settled.update({j.label: status for _, j, status, _ in sched.admit(n, one)})
    return settled


def ready_labels(sched: Scheduler) -> list[str]:
    return sorted(j.label for _, j in sched.ready)


def finish(sched: Scheduler, index: int, status: str, **kw) -> list[tuple[str, str, str]]:
    """Settle and release a taken job; (label, status, message) of the jobs that decided."""
    one = sched.settle(index)
    assert one is not None
    return [(j.label, s, m) for _, j, s, m in sched.release(index, one, status, **kw)]


def take_all(sched: Scheduler) -> list[str]:
    taken = []
    while (entry := sched.take()) is not None:
        taken.append(entry[1].label)
    return taken


# -- ordering keys ---------------------------------------------------------------------------
def test_one_key_runs_one_job_at_a_time_in_input_order(make):
    sched = make()
    admit_all(sched, [job(1, "A"), job(2, "B"), job(3, "A"), job(4), job(5, "A")])
    assert take_all(sched) == ["J1", "J2", "J4"]  # lowest index first; J3, J5 wait for J1
    assert finish(sched, 1, SUCCEEDED) == []
    assert take_all(sched) == ["J3"]
    finish(sched, 3, SUCCEEDED)
    assert take_all(sched) == ["J5"]


def test_a_job_with_two_keys_waits_for_the_head_of_both(make):
    sched = make()
    admit_all(sched, [job(1, "A"), job(2, "B"), job(3, "A", "B"), job(4, "B")])
    assert take_all(sched) == ["J1", "J2"]
    finish(sched, 1, SUCCEEDED)
    assert take_all(sched) == []  # J3 heads A now, but B is still J2's
    finish(sched, 2, SUCCEEDED)
    assert take_all(sched) == ["J3"]  # and J4 waits behind J3 on B
    finish(sched, 3, SUCCEEDED)
    assert take_all(sched) == ["J4"]


def test_a_job_sharing_both_keys_with_the_one_before_starts_once(make):
    sched = make()
    admit_all(sched, [job(1, "A", "B"), job(2, "B", "A")])
    assert take_all(sched) == ["J1"]
    finish(sched, 1, SUCCEEDED)
    assert take_all(sched) == ["J2"] and sched.ready == []


def test_a_key_listed_twice_is_one_key():
    assert job(1, "A", "B", "A").keys == ("A", "B")


@pytest.mark.parametrize("failing", ["A", "B"])
def test_a_failure_blocks_later_jobs_on_either_key_of_a_job(make, failing):
    sched = make()
    # J1 holds A, J2 holds B; J3 needs both; J4 needs B only, J5 needs A only; J6 is free
    admit_all(sched, [job(1, "A"), job(2, "B"), job(3, "A", "B"), job(4, "B"), job(5, "A"),
                      job(6, "C")])
    take_all(sched)
    index = 1 if failing == "A" else 2
    decided = finish(sched, index, FAILED)
    # J3 is blocked by the failed key; everything after J3 on A or B assumed J3 happened
    assert [(label, status) for label, status, _ in decided] == [
        ("J3", BLOCKED), ("J4", BLOCKED), ("J5", BLOCKED)]
    assert f"ordering key ({failing}) failed" in decided[0][2]
    other = "B" if failing == "A" else "A"
    assert any(f"ordering key ({other}) was blocked" in message for _, _, message in decided)
    finish(sched, 3 - index, SUCCEEDED)  # the other head still finishes normally
    assert sched.window == 1 and take_all(sched) == []  # J6 was taken long ago
    finish(sched, 6, SUCCEEDED)
    assert sched.window == 0 and sched.queues == {}
    # and later jobs on A or B are blocked as they are read
    assert admit_all(sched, [job(7, "B"), job(8, "A"), job(9, "D")]) == {
        "J7": BLOCKED, "J8": BLOCKED}


def test_a_failed_job_with_two_keys_fails_both(make):
    sched = make()
    admit_all(sched, [job(1, "A", "B"), job(2, "A"), job(3, "B"), job(4, "C")])
    assert take_all(sched) == ["J1", "J4"]
    decided = finish(sched, 1, FAILED)
    assert [(label, status) for label, status, _ in decided] == [
        ("J2", BLOCKED), ("J3", BLOCKED)]
    assert "(A) failed" in decided[0][2] and "(B) failed" in decided[1][2]


def test_jobs_without_keys_are_never_blocked(make):
    sched = make()
    admit_all(sched, [job(1, "A"), job(2), job(3)])
    take_all(sched)
    assert finish(sched, 1, FAILED) == []
    assert admit_all(sched, [job(4)]) == {}


# -- invalid jobs ----------------------------------------------------------------------------
def test_an_invalid_job_blocks_nothing_by_default(make):
    sched = make()
    assert admit_all(sched, [job(1, "A", problems=["bad"]), job(2, "A")]) == {"J1": INVALID}
    assert take_all(sched) == ["J2"]


def test_with_invalid_blocks_keys_an_invalid_job_blocks_its_keys(make):
    sched = make(invalid_blocks_keys=True)
    decided = sched.admit(1, job(1, "A", "B", problems=["no such state", "bad line"]))
    assert [(status, message) for _, _, status, message in decided] == [
        (INVALID, "no such state; bad line")]
    decided = [*sched.admit(2, job(2, "B")), *sched.admit(3, job(3, "C"))]
    assert [(j.label, status) for _, j, status, _ in decided] == [("J2", BLOCKED)]
    assert "(B) was invalid" in decided[0][3]
    assert take_all(sched) == ["J3"]


def test_with_invalid_blocks_keys_earlier_jobs_of_the_key_still_run(make):
    sched = make(invalid_blocks_keys=True)
    admit_all(sched, [job(1, "A"), job(2, "A"), job(3, "A", problems=["bad"]), job(4, "A")])
    assert take_all(sched) == ["J1"]  # J1 and J2 came before the invalid J3
    finish(sched, 1, SUCCEEDED)
    assert take_all(sched) == ["J2"]


# -- duplicates, journal, hold ---------------------------------------------------------------
def test_a_duplicate_id_is_settled_at_once_naming_the_first(make):
    sched = make()
    decided = admit_all(sched, [job(1, "A"), job(2), job(3, "B", id="id-1")])
    assert decided == {"J3": DUPLICATE}
    assert sched.admit(4, job(4, id="id-2"))[0][3] == "duplicate of item 2; not sent again"
    assert sched.window == 2


def test_journal_successes_are_skipped(make):
    sched = make(journaled=lambda job_id: "succeeded" if job_id == "id-2" else None)
    assert admit_all(sched, [job(1), job(2), job(3)]) == {"J2": SKIPPED}


def test_a_job_unknown_in_the_journal_is_admitted_knowing_it(make):
    statuses = {"id-1": "failed", "id-2": "unknown"}
    sched = make(journaled=statuses.get)
    jobs = [job(1), job(2), job(3)]
    assert admit_all(sched, jobs) == {}
    assert [j.previous for j in jobs] == ["failed", "unknown", None]


def test_an_unknown_outcome_blocks_its_keys_as_a_failure_does(make):
    sched = make()
    first, second = job(1, "S1"), job(2, "S1")
    sched.admit(1, first)
    assert sched.admit(2, second) == ()
    sched.take()
    sched.settle(1)
    settled = sched.release(1, first, "unknown")
    assert [(i, status) for i, _job, status, _message in settled] == [(2, "blocked")]
    assert settled[0][3] == ("not sent: an earlier item with the same ordering key (S1)"
                             " has an unknown outcome")


def test_hold_settles_every_valid_job_not_sent(make):
    hold = strict_hold_reason(1, 3)
    sched = make(hold=hold)
    decided = [d for n, one in enumerate([job(1, problems=["x"]), job(2, "A"), job(3)], 1)
               for d in sched.admit(n, one)]
    assert [(j.label, s, m) for _, j, s, m in decided] == [
        ("J1", INVALID, "x"), ("J2", NOT_SENT, hold), ("J3", NOT_SENT, hold)]
    assert sched.window == 0 and sched.ready == []


# -- the window ------------------------------------------------------------------------------
def test_the_window_holds_at_most_its_limit_and_wants_a_batch(make):
    sched = make(window=8)
    n = 0
    while sched.has_room():
        n += 1
        assert sched.admit(n, job(n, "A")) == ()
    assert n == 8 and not sched.wants_more()
    take_all(sched)
    finish(sched, 1, SUCCEEDED)
    assert sched.has_room() and not sched.wants_more()  # room for one job: not worth waking
    take_all(sched)
    finish(sched, 2, SUCCEEDED)
    assert sched.window == 6 and sched.wants_more()  # 8 - 8 // 4 = 6: wake, read a batch


def test_settled_at_once_jobs_take_no_room(make):
    sched = make(window=2)
    admit_all(sched, [job(1, problems=["x"]), job(2), job(3, id="id-2"), job(4)])
    assert sched.window == 2 and not sched.has_room()


# -- stopping --------------------------------------------------------------------------------
def test_stop_settles_everything_not_taken_in_input_order(make):
    sched = make()
    admit_all(sched, [job(1, "A"), job(2, "A"), job(3), job(4, "B"), job(5, "B"), job(6)])
    assert sched.take()[1].label == "J1"
    decided = sched.stop(NOT_SENT, "not sent: --fail-fast after an earlier failure")
    assert [j.label for _, j, _, _ in decided] == ["J2", "J3", "J4", "J5", "J6"]
    assert {s for _, _, s, _ in decided} == {NOT_SENT}
    assert sched.window == 1 and sched.take() is None and sched.has_room()
    # what is read after the stop is settled at once; the first stop's words stand
    later = sched.stop("interrupted", "not sent: interrupted (SIGINT)") + sched.admit(7, job(7))
    assert [(j.label, s, m) for _, j, s, m in later] == [
        ("J7", NOT_SENT, "not sent: --fail-fast after an earlier failure")]
    assert finish(sched, 1, SUCCEEDED) == [] and sched.window == 0 and sched.queues == {}


def test_fail_fast_stops_after_a_failure(make):
    sched = make(fail_fast=True)
    admit_all(sched, [job(1), job(2, "A"), job(3, "A"), job(4)])
    assert [label for label in take_all(sched)] == ["J1", "J2", "J4"]
    decided = finish(sched, 2, FAILED)
    assert decided == [("J3", BLOCKED, "not sent: an earlier item with the same ordering key "
                                       "(A) failed")]
    assert sched.stopped and sched.stop_status == NOT_SENT
    assert finish(sched, 1, FAILED) == []  # already stopped: nothing more to decide


def test_a_fatal_failure_stops_with_its_message_without_fail_fast(make):
    sched = make()
    admit_all(sched, [job(1), job(2), job(3)])
    sched.take()
    decided = finish(sched, 1, FAILED, fatal="not sent: stopped after item 1 failed: 104")
    assert [(label, s) for label, s, _ in decided] == [("J2", NOT_SENT), ("J3", NOT_SENT)]
    assert decided[0][2] == "not sent: stopped after item 1 failed: 104"


def test_a_job_given_up_before_it_started_passes_the_stop_to_its_key(make):
    sched = make()
    admit_all(sched, [job(1, "A"), job(2, "A", "B"), job(3, "B")])
    sched.take()
    sched.stopped, sched.stop_status, sched.stop_message = True, "interrupted", "stopping"
    assert finish(sched, 1, "interrupted") == [
        ("J2", "interrupted", "stopping"), ("J3", "interrupted", "stopping")]
    assert sched.window == 0 and sched.queues == {}


def test_abandon_forgets_the_taken_jobs(make):
    sched = make()
    admit_all(sched, [job(1), job(2)])
    take_all(sched)
    assert [j.label for _, j in sched.abandon()] == ["J1", "J2"]
    assert sched.settle(1) is None  # a late result is not recorded


# -- any key sets drain ----------------------------------------------------------------------
KEYS = st.lists(st.sampled_from("ABCDE"), max_size=3)


@settings(max_examples=300, deadline=None)
@given(jobs=st.lists(st.tuples(KEYS, st.booleans()), max_size=30), window=st.integers(1, 8),
       data=st.data())
def test_any_key_sets_drain_in_order_and_block_exactly_the_jobs_after_a_failure(
        jobs, window, data):
    """Jobs with random, overlapping key sets (in any order), random failures, reading,
    taking and finishing interleaved at random: the scheduler never stalls, never runs two
    jobs sharing a key at once, starts each job only after every earlier job sharing a key
    has finished, and blocks exactly the jobs after a failed or blocked one on a shared key."""
    with contextlib.closing(Scheduler(window=window)) as sched:
        drain(sched, jobs, data)


def drain(sched: Scheduler, jobs: list[tuple[list[str], bool]], data) -> None:
    work = [job(n, *keys) for n, (keys, _) in enumerate(jobs, 1)]
    fails = {n for n, (_, fail) in enumerate(jobs, 1) if fail}
    status: dict[int, str] = {}
    running: dict[int, Job] = {}
    read = 0

    def record(decided):
        for index, _, result, _ in decided:
            assert index not in status
            status[index] = result

    while len(status) < len(work):
        moves = []
        if read < len(work) and sched.has_room():
            moves.append("read")
        if sched.ready:
            moves.append("take")
        if running:
            moves.append("finish")
        assert moves, "stalled: nothing to read, take or finish"
        move = data.draw(st.sampled_from(moves))
        if move == "read":
            read += 1
            record(sched.admit(read, work[read - 1]))
        elif move == "take":
            index, one = sched.take()
            for other in running.values():
                assert not set(other.keys) & set(one.keys), "two jobs of one key at once"
            for earlier in range(1, index):  # everything before it on its keys is done
                if set(work[earlier - 1].keys) & set(one.keys):
                    assert earlier in status, f"J{index} started before J{earlier}"
            running[index] = one
        else:
            index = data.draw(st.sampled_from(sorted(running)))
            one = running.pop(index)
            result = FAILED if index in fails else SUCCEEDED
            assert sched.settle(index) is one
            status[index] = result
            record(sched.release(index, one, result))

    assert sched.window == 0 and sched.queues == {} and not sched.ready and not sched.taken
    # what was decided, worked out independently in input order
    bad: set[str] = set()
    for n, one in enumerate(work, 1):
        if bad & set(one.keys):
            expected = BLOCKED
        else:
            expected = FAILED if n in fails else SUCCEEDED
        if expected != SUCCEEDED:
            bad |= set(one.keys)
        assert status[n] == expected, (n, one.keys)
