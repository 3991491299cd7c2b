"""Properties of ``flags.refusals``: it refuses exactly the flag lines whose body would lose or
double what a flag asked, and nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.fynd import flags

positive = st.integers(min_value=1, max_value=10**18 - 1)
KEY = st.sampled_from(["meta", "a", "b", "store_invoice_id", "delivery_awb_number"])
# small values over few keys, so that keys and values collide often
VALUE = st.recursive(st.none() | st.integers(0, 2) | st.sampled_from(["", "x", "INV-1"]),
                     lambda inner: st.dictionaries(KEY, inner, max_size=2), max_leaves=4)
SETTING = st.builds(flags.DataValue, st.sampled_from(flags.DATA_TARGETS),
                    st.lists(KEY, min_size=1, max_size=3).map(tuple), VALUE)
TEXT = st.none() | st.sampled_from(["", " ", "INV-1", "x", "AWB1"])


def same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def holds(found: Any, wanted: Any) -> bool:
    """Whether FOUND gives every value WANTED gives (an object may hold more keys)."""
    if found is GONE:
        return False
    if isinstance(wanted, dict) and isinstance(found, dict):
        return all(k in found and holds(found[k], v) for k, v in wanted.items())
    return same(found, wanted)


GONE = object()  # no value at that path any more


def at(updates: dict[str, Any], target: str, path: tuple[str, ...]) -> Any:
    node: Any = updates[target][0]["data"]
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return GONE
        node = node[key]
    return node


def asked(invoice_id: str | None, awb: str | None, data: list[flags.DataValue]
          ) -> list[flags.DataValue]:
    """Every value the flags ask for, as build applies them."""
    settings = []
    for target in ("products", "entities"):
        if invoice_id is not None:
            settings.append(flags.DataValue(target, ("store_invoice_id",), invoice_id))
        if awb is not None:
            settings.append(flags.DataValue(target, ("delivery_awb_number",), awb))
    return settings + data


@given(st.lists(st.tuples(st.integers(1, 4), positive), max_size=6))
def test_lines_are_refused_exactly_when_one_repeats(lines):
    problems = flags.refusals(lines=lines)
    numbers = [line for line, _ in lines]
    assert len(problems) == len(numbers) - len(set(numbers))
    assert all(p.startswith("--line ") and " given twice " in p for p in problems)


@given(TEXT, TEXT)
def test_empty_invoice_id_and_awb_are_refused(invoice_id, awb):
    problems = [p for p in flags.refusals(invoice_id=invoice_id, awb=awb)
                if "must not be empty" in p]
    expected = [flag for flag, value in (("--invoice-id", invoice_id), ("--awb", awb))
                if value is not None and not value.strip()]
    assert [p.partition(":")[0] for p in problems] == expected


@settings(max_examples=500)
@given(TEXT, TEXT, st.lists(SETTING, max_size=4))
def test_without_a_refusal_every_value_asked_for_is_sent(invoice_id, awb, data):
    problems = [p for p in flags.refusals(invoice_id=invoice_id, awb=awb, data=data)
                if "must not be empty" not in p]
    try:
        body = flags.build(["S"], to="bag_packed", invoice_id=invoice_id, awb=awb, data=data)
    except ValueError as error:  # a key set inside a value that is not an object
        assert str(error).startswith("cannot set ")
        return
    shipment = body["statuses"][0]["shipments"][0]
    updates = shipment.get("data_updates", {})
    kept = [holds(at(updates, s.target, s.path), s.value)
            for s in asked(invoice_id, awb, data)]
    if not problems:
        assert all(kept)
    for problem in problems:
        assert problem.startswith(("--data ", "--invoice-id ", "--awb "))


@settings(max_examples=500)
@given(SETTING, SETTING)
def test_two_settings_are_refused_exactly_when_the_first_is_lost(first, second):
    problems = flags.refusals(data=[first, second])
    try:
        body = flags.build(["S"], to="bag_packed", data=[first, second])
    except ValueError:
        return
    updates = body["statuses"][0]["shipments"][0]["data_updates"]
    lost = not holds(at(updates, first.target, first.path), first.value)
    assert bool(problems) == lost
    assert holds(at(updates, second.target, second.path), second.value)  # the last one wins


@given(st.lists(SETTING, max_size=4))
def test_order_entries_carry_no_filters(data):
    try:
        body = flags.build(["S"], to="bag_packed", data=data)
    except ValueError:
        return
    updates = body["statuses"][0]["shipments"][0].get("data_updates", {})
    for target, entries in updates.items():
        expected = ["data"] if target in ("order", "order_item_status") else ["filters", "data"]
        assert [list(entry) for entry in entries] == [expected]
