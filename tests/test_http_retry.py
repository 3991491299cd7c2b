"""shipctl.http.retry.RetryPolicy: how long to wait, when to give up (the loop is in
test_http.py, against real and mocked servers)."""

from __future__ import annotations

import pytest

from shipctl.http import HttpOptions, RetryPolicy
from shipctl.http import retry as retry_module


@pytest.fixture
def highest(monkeypatch):
    """Full jitter drawn at its ceiling, so the ceiling itself can be read."""
    monkeypatch.setattr(retry_module.random, "uniform", lambda low, high: high)


def policy(**overrides) -> RetryPolicy:
    return RetryPolicy.from_options(HttpOptions(**overrides))


def test_gives_up_after_the_retries_asked_for():
    three = policy(retries=3)
    assert [three.gives_up(n) for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert policy(retries=0).gives_up(1)
    assert RetryPolicy.from_options(HttpOptions(retries=-2)).retries == 0


def test_back_off_ceiling_doubles_up_to_the_cap(highest):
    capped = policy(backoff_base=0.25, backoff_max=2.0)
    assert [capped.wait(n, None) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_back_off_never_overflows_for_a_huge_retry_count(highest):
    assert policy(backoff_base=0.25, backoff_max=20.0).wait(100_000, None) == 20.0


def test_full_jitter_is_drawn_from_zero(monkeypatch):
    drawn: list[tuple[float, float]] = []
    monkeypatch.setattr(retry_module.random, "uniform",
                        lambda low, high: drawn.append((low, high)) or low)
    assert policy(backoff_base=1.0).wait(3, None) == 0
    assert drawn == [(0, 4.0)]


@pytest.mark.parametrize(("retry_after", "expected"), [(7.0, 7.0), (0.0, 0.25), (500.0, 60.0)])
def test_retry_after_is_a_floor_under_the_back_off_and_is_capped(highest, retry_after,
                                                                 expected):
    assert policy(backoff_base=0.25, retry_after_max=60.0).wait(1, retry_after) == expected
