"""The relay's retry schedule and its flags (no HTTP): what `retrying (…, next in N s)` says."""

from __future__ import annotations

import pytest

from shipctl.ecom.receive.relay import Schedule, duration, parse_duration, shown_url
from shipctl.errors import UsageError

pytestmark = pytest.mark.timeout(20)


def test_the_wait_doubles_with_jitter_up_to_the_ceiling():
    schedule = Schedule(first=10, most=3600, give_up=86400)
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (9, 2560), (10, 3600), (500, 3600)]:
        waits = [schedule.wait(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempts, min(waits))
        assert max(waits) - min(waits) > ceiling / 10  # jittered, not all the same


def test_about_31_attempts_fit_in_the_default_24_hours():
    schedule, elapsed, attempts = Schedule(), 0.0, 1
    while elapsed < schedule.give_up:
        elapsed += schedule.wait(attempts)
        attempts += 1
    assert 25 <= attempts <= 50


@pytest.mark.parametrize("text, seconds", [("10s", 10), ("0.1s", 0.1), ("500ms", 0.5),
                                           ("5m", 300), ("24h", 86400), ("1d", 86400),
                                           ("90", 90), (" 2 h ", 7200)])
def test_durations(text, seconds):
    assert parse_duration("--x", text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "0", "-1s", "10 weeks", "2y", "1e9s"])
def test_durations_that_are_not_are_usage_errors(text):
    with pytest.raises(UsageError, match="--x .*: give a duration"):
        parse_duration("--x", text)


@pytest.mark.parametrize("seconds, shown", [(0.35, "0.3 s"), (9.96, "10.0 s"), (40, "40 s"),
                                            (300, "5 min"), (86400, "24 h")])
def test_waits_read_as_people_write_them(seconds, shown):
    assert duration(seconds) == shown


def test_a_password_in_the_url_is_masked():
    assert shown_url("https://relay:s3cret@shop.example/hook?x=1") == \
        "https://relay:***@shop.example/hook?x=1"
    assert shown_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/"
