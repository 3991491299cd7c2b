"""Hypothesis: the push rules and the reader in front of them never raise on any input, and
what they accept and refuse is consistent."""

from __future__ import annotations

import io
import json
import re

from factories import ecom_push
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipctl.ecom.client import answer_outcome
from shipctl.ecom.credentials import basic_credentials
from shipctl.ecom.headers import parse_header
from shipctl.ecom.models import KEYS, check, sort_key
from shipctl.ecom.replay import _sort_key
from shipctl.errors import ShipctlError
from shipctl.inputs import read_items

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=5),
    max_leaves=20,
)
# a push with any of its keys changed, dropped, re-cased, or joined by junk
near_pushes = st.builds(
    lambda changes, dropped, extra: {
        **{k: v for k, v in {**ecom_push(), **changes}.items() if k not in dropped}, **extra},
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4),
    st.sets(st.sampled_from(KEYS), max_size=3),
    st.dictionaries(st.sampled_from([k.upper() for k in KEYS] + ["date_time", "x", ""]),
                    json_values, max_size=3),
)


@FAST
@given(json_values | near_pushes)
def test_check_never_raises_and_is_consistent(data):
    verdict = check(data)
    assert verdict.valid == (not verdict.problems)
    for problem in verdict.problems + verdict.warnings:
        assert isinstance(problem.field, str) and problem.message
        assert "\n" not in problem.message and len(problem.message) < 400
    assert isinstance(sort_key(data), tuple)
    assert len(_sort_key(data, 0)) == 5


digit_text = st.text("0123456789", min_size=1, max_size=12)
valid_pushes = st.builds(
    lambda awb, number, code, day, extra: ecom_push(
        awb=awb, number=number, when=f"2024-02-{day:02d} 23:59:59",
        reason_code=f"{code} - {extra}", reason_code_number=code),
    digit_text, digit_text, st.sampled_from(["777", "001", "0011", "999", "219", "23101"]),
    st.integers(1, 29), st.text(max_size=20),
)


@FAST
@given(valid_pushes)
def test_valid_pushes_stay_valid_through_json(data):
    assert check(data).valid and not check(data).warnings
    again = json.loads(json.dumps(data))
    assert check(again).valid


@FAST
@given(valid_pushes, st.sampled_from(KEYS))
def test_dropping_any_key_is_one_error_naming_it(data, key):
    del data[key]
    verdict = check(data)
    assert [p.field for p in verdict.problems] == [key]


hostile = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.builds(lambda d, cut: json.dumps(d, indent=2)[:cut].encode(), near_pushes,
                st.integers(0, 400))
    | st.builds(lambda d, junk: (junk + repr(d) + junk).encode("utf-8", "surrogatepass"),
                near_pushes, st.text(max_size=20))
)


@FAST
@given(hostile)
def test_the_reader_and_validator_never_raise_anything_but_input_errors(raw):
    try:
        for item in read_items(["-"], stdin=io.BytesIO(raw), warn=lambda message: None):
            check(item.data)
    except ShipctlError:
        pass  # unreadable input: one clear message, exit 2


@settings(FAST, max_examples=40)
@given(hostile)
def test_the_command_never_prints_a_traceback(cli, raw):
    result = cli("ecom", "validate", "-", input=raw)
    assert result.code in (0, 1, 2)
    assert "Traceback" not in result.all
    if result.code == 2:
        assert "error: " in result.err


@FAST
@given(st.integers(100, 599), st.binary(max_size=200) | json_values.map(
    lambda v: json.dumps(v).encode()), json_values)
def test_any_answer_has_an_outcome(status, content, sent):
    outcome = answer_outcome(status, content, sent if isinstance(sent, dict) else {})
    assert outcome.ok is False or 200 <= status < 300
    assert "\n" not in outcome.message


@FAST
@given(st.text(max_size=20), st.text(max_size=20))
def test_basic_credentials_round_trip_or_refuse(username, password):
    import base64
    import unicodedata

    try:
        value = basic_credentials(username, password)
    except ValueError as error:
        assert ":" in username or re.search(r"[\x00-\x1f\x7f-\x9f]", username + password), error
        return
    decoded = base64.b64decode(value.removeprefix("Basic ")).decode("utf-8")
    user, _, secret = decoded.partition(":")
    assert user == unicodedata.normalize("NFC", username)
    assert secret == unicodedata.normalize("NFC", password)


@FAST
@given(st.text(max_size=40))
def test_parse_header_accepts_or_refuses(text):
    try:
        name, value = parse_header(text)
    except ValueError as error:
        assert "--header" in str(error)
        return
    assert name and ":" not in name and "\n" not in value


@settings(FAST, max_examples=60)
@given(st.lists(json_values | near_pushes, max_size=8), st.integers(0, 3000))
def test_replay_turns_any_items_into_jobs_in_time_order(values, memory):
    from shipctl.ecom.replay import Replay
    from shipctl.inputs import Item, Location

    items = [Item(v if isinstance(v, dict) else {"value": v}, Location("x.jsonl", n + 1, n + 1))
             for n, v in enumerate(values)]
    replay = Replay(sort_memory=memory)
    replay.url = "http://127.0.0.1:1/ecom"
    jobs = list(replay.jobs(items, warn=lambda message: None))
    assert len(jobs) == len(items)
    for job in jobs:
        assert (job.payload is None) == bool(job.problems)
        if job.payload is not None:
            json.loads(job.payload)  # what is sent is JSON
    valid = [json.loads(job.payload) for job in jobs if job.payload is not None]
    keys = [sort_key(v) for v in valid]
    assert keys == sorted(keys)
