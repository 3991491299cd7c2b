"""Properties of the Fynd flag parsers and of models.check over arbitrary input."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.fynd import flags
from shipctl.fynd.client import encode
from shipctl.fynd.models import check, field_names
from shipctl.fynd.states import STATES, is_cancellation

from . import same

PARSERS = [flags.parse_line, flags.parse_reason, flags.parse_entity_reason, flags.parse_comment,
           flags.parse_data, flags.parse_exclude_next_state]

# text near the flags' own syntax, so the parsers' branches are reached, not just the first check
FLAGGY = st.lists(st.sampled_from([*"0123456789:@,.=-+ {}[]\"a_éx١", ":=", "order.", "null"]),
                 max_size=12).map("".join)
positive = st.integers(min_value=1, max_value=10**18 - 1)
words = st.text(min_size=1).filter(lambda s: s.strip())


@given(st.sampled_from(PARSERS), st.one_of(st.text(), FLAGGY))
def test_parsers_raise_only_value_error(parse, text):
    try:
        parse(text)
    except ValueError as error:
        assert str(error).startswith(("expected ", "cannot set"))


@given(positive, positive)
def test_parse_line_round_trip(line, quantity):
    assert flags.parse_line(f"{line}:{quantity}") == (line, quantity)
    assert flags.parse_line(f" {line} : {quantity} ") == (line, quantity)


@given(st.integers(max_value=0), positive)
def test_parse_line_refuses_non_positive(number, other):
    for text in (f"{number}:{other}", f"{other}:{number}"):
        try:
            flags.parse_line(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was accepted")


@given(st.integers(min_value=0, max_value=10**18 - 1), words.filter(lambda s: "@" not in s),
       st.lists(st.tuples(positive, positive), max_size=4))
def test_parse_reason_round_trip(reason_id, text, filters):
    typed = f"{reason_id}:{text}"
    if filters:
        typed += "@" + ",".join(f"{line}:{quantity}" for line, quantity in filters)
    reason = flags.parse_reason(typed)
    assert (reason.id, reason.text) == (reason_id, text)
    assert reason.filters == (
        tuple({"line_number": line, "quantity": quantity} for line, quantity in filters) or ({},))
    assert flags.parse_entity_reason(f"{reason_id}:{text}") == flags.Reason(reason_id, text)


@given(words.filter(lambda s: ":" not in s), words)
def test_parse_comment_round_trip(title, message):
    assert flags.parse_comment(f"{title}:{message}") == flags.Comment(title, message)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@given(st.sampled_from(flags.DATA_TARGETS), st.lists(KEY, min_size=1, max_size=4), st.text(),
       JSON)
def test_parse_data_round_trip(target, path, text, value):
    name = ".".join([target, *path])
    assert flags.parse_data(f"{name}={text}") == flags.DataValue(target, tuple(path), text)
    raw = flags.parse_data(f"{name}:={json.dumps(value)}")
    assert raw.target == target and raw.path == tuple(path) and same(raw.value, value)


@given(st.text())
def test_parse_exclude_next_state_keeps_the_text(text):
    assert flags.parse_exclude_next_state(text) == (None if text == "null" else text)


# -- check never raises ------------------------------------------------------------------------
# The models' own key names, and values of every JSON kind (NaN included: a lenient read gives
# it), so arbitrary input often has the right shape and reaches the deeper rules.
NAMES = sorted({*field_names(), "shipments", "status", "exclude_bags_next_state", "identifier",
                "products", "reasons", "data_updates", "filters", "data", "line_number",
                "quantity", "entities", "order", "reason_id", "reason_text", "title", "message",
                "transition_comments", "refund_modes"})
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.sampled_from(sorted(STATES))
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=4) | st.integers(0, 2), inner,
                      max_size=4),
    max_leaves=25,
)


@settings(max_examples=300)
@given(ANY_JSON, st.booleans())
def test_check_never_raises(data, force):
    checked = check(data, force=force)
    assert (checked.request is None) == bool(checked.problems)
    for problem in [*checked.problems, *checked.warnings]:
        assert isinstance(problem.field, str) and problem.message
    assert all(isinstance(identifier, str) for identifier in checked.identifiers)
    if checked.request is not None:
        assert same(json.loads(encode(checked.request)), data)


@given(st.dictionaries(st.sampled_from(NAMES), ANY_JSON, max_size=4), st.booleans())
def test_check_never_raises_inside_a_shipment(shipment, force):
    data = {"statuses": [{"shipments": [shipment], "status": "bag_confirmed"}]}
    checked = check(data, force=force)
    assert (checked.request is None) == bool(checked.problems)


# -- what the flags build is a body check accepts as is -----------------------------------------
FILTERS = st.lists(st.tuples(positive, positive), max_size=3).map(
    lambda pairs: tuple({"line_number": a, "quantity": b} for a, b in pairs) or ({},))


@given(
    st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3, unique=True),
    st.sampled_from(sorted(STATES)),
    st.lists(st.tuples(positive, positive), max_size=3),
    st.lists(st.builds(flags.Reason, st.integers(0, 99), words, FILTERS), max_size=2),
    st.sampled_from([flags.ABSENT, None, "", *sorted(STATES)]),
    st.lists(st.builds(flags.DataValue, st.sampled_from(flags.DATA_TARGETS),
                       st.lists(KEY, min_size=1, max_size=3).map(tuple), JSON), max_size=3),
    st.booleans(),
)
def test_built_bodies_pass_check_unchanged(identifiers, to, lines, reasons, exclude, data, task):
    try:
        body = flags.build(identifiers, to=to, lines=lines, reasons=reasons,
                           exclude_next_state=exclude, data=data, task=task)
    except ValueError as error:  # two --data setting a key inside another's value
        assert str(error).startswith("cannot set ")
        return
    checked = check(body)
    if is_cancellation(to) and not reasons:
        assert len(checked.problems) == len(identifiers)  # one "needs a reason" per shipment
        assert all(" is a cancellation and needs a reason " in p.message
                   for p in checked.problems)
        return
    assert checked.problems == []
    assert json.dumps(checked.request) == json.dumps(body)  # same values, same key order
    assert checked.identifiers == identifiers
