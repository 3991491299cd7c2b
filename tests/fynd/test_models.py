"""Fynd updateShipmentStatus rules (docs/fynd.md): structure, types, the local checks
of §6, the body sent (values and key order) and the problems' field paths."""

from __future__ import annotations

import copy
import json

import pytest
from factories import fynd_sample

from shipctl.fynd.models import (
    Checked,
    Problem,
    Shipment,
    Transition,
    UpdateShipmentStatus,
    check,
    field_names,
)

from . import same


def body(**shipment_extra) -> dict:
    """A small valid body; SHIPMENT_EXTRA replaces keys of its one shipment."""
    shipment = {"identifier": "S1", "products": [{"line_number": 1, "quantity": 2}],
                **shipment_extra}
    return {"statuses": [{"shipments": [shipment], "status": "bag_confirmed"}]}


def at(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def problems(data, **kwargs) -> list[str]:
    return [str(p) for p in check(data, **kwargs).problems]


SHIPMENT = ("statuses", 0, "shipments", 0)
PRODUCT = (*SHIPMENT, "products", 0)


# -- structure and types ------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "value", "expected"), [
    # types are strict: "5" is not a number, true is not 1, 5.0 is not a whole number
    ((*PRODUCT, "quantity"), "5", "expected a whole number, got text"),
    ((*PRODUCT, "quantity"), True, "expected a whole number, got true"),
    ((*PRODUCT, "quantity"), 5.0, "expected a whole number, got a number"),
    ((*PRODUCT, "quantity"), None, "expected a whole number, got null"),
    ((*PRODUCT, "quantity"), 0, "must be a positive whole number (it is 0)"),
    ((*PRODUCT, "line_number"), -1, "must be a positive whole number (it is -1)"),
    ((*PRODUCT, "identifier"), 7, 'expected text, got a whole number (write it in quotes: "7")'),
    ((*SHIPMENT, "identifier"), 12345383008471878029,
     'expected text, got a whole number (write it in quotes: "12345383008471878029")'),
    ((*SHIPMENT, "identifier"), "", "required, but empty"),
    ((*SHIPMENT, "products"), {}, "expected a list, got an object"),
    ((*SHIPMENT, "reasons"), [], "expected an object, got a list"),
    ((*SHIPMENT, "data_updates"), "x", "expected an object, got text"),
    (("statuses", 0, "status"), None, "expected text, got null"),
    (("statuses", 0, "status"), "", "required, but empty"),
    (("statuses", 0, "exclude_bags_next_state"), 1,
     'expected a state, "" or null, got a whole number'),
    (("statuses", 0, "split_shipment"), "true", "expected true or false, got text"),
    (("statuses", 0, "shipments"), [], "needs at least one entry"),
    (("statuses",), [], "needs at least one entry"),
    (("statuses",), {}, "expected a list, got an object"),
    (("force_transition",), 1, "expected true or false, got a whole number"),
    (("resume_tasks_after_unlock",), None, "expected true or false, got null"),
    ((*SHIPMENT, "transition_comments"), {}, "expected a list, got an object"),
    ((*SHIPMENT, "refund_modes"), "cash", "expected a list, got text"),
])
def test_field_rules(path, value, expected):
    found = check(at(body(), path, value)).problems
    assert [(p.path, p.message) for p in found] == [(path, expected)]


def test_nested_field_paths():
    data = body(transition_comments=[{"title": "T"}],
                refund_modes=[{"payment_identifiers": ["a", 2]}],
                reasons={"products": [{"filters": [{"line_number": "1"}],
                                       "data": {"reason_id": "1"}}]})
    assert {p.field: p.message for p in check(data).problems} == {
        "statuses.0.shipments.0.reasons.products.0.filters.0.line_number":
            "expected a whole number, got text",
        "statuses.0.shipments.0.reasons.products.0.data.reason_id":
            "expected a whole number, got text",
        "statuses.0.shipments.0.transition_comments.0.message": "required, but missing",
        "statuses.0.shipments.0.refund_modes.0.payment_identifiers.1":
            "expected text, got a whole number (write it in quotes: \"2\")",
    }


@pytest.mark.parametrize(("path", "key", "expected"), [
    ((), "statues", "did you mean statuses?"),
    ((), "forceTransition", "did you mean force_transition?"),
    (("statuses", 0), "exclude_bag_next_state", "did you mean exclude_bags_next_state?"),
    (SHIPMENT, "identifer", "did you mean identifier?"),
    (SHIPMENT, "data_update", "did you mean data_updates?"),
    (SHIPMENT, "transitionComments", "did you mean transition_comments?"),
    (PRODUCT, "lineNumber", "did you mean line_number?"),
    (PRODUCT, "qty", "expected one of line_number, quantity, identifier"),
    ((*SHIPMENT, "data_updates"), "order_items_status", "did you mean order_item_status?"),
    ((*SHIPMENT, "reasons"), "entity", "did you mean entities?"),
])
def test_unknown_key_suggests(path, key, expected):
    data = body(data_updates={}, reasons={"products": [], "entities": []})
    data = at(data, (*path, key), 1)
    assert [(p.path, p.message) for p in check(data).problems] == [
        ((*path, key), f"unknown key ({expected})")
    ]


def test_refund_modes_and_entity_status():
    data = body(refund_modes=[{"refund_mode": "bank", "display_name": "Bank",
                               "beneficiary_details": {"beneficiary_id": "B1"},
                               "payment_identifiers": ["p1"]}],
                data_updates={"entity_status": [
                    {"filters": [{"line_number": 1, "quantity": 1}],
                     "data": {"seller_qc_details": [{"line_number": 1, "good_quantity": 1}]}}]})
    assert check(data).problems == []
    bad = at(data, (*SHIPMENT, "refund_modes", 0, "beneficiary_details"), {"id": "B1"})
    bad = at(bad, (*SHIPMENT, "data_updates", "entity_status", 0, "filters", 0, "line_number"),
             0)
    assert problems(bad) == [  # in the order of the input: refund_modes comes first
        "statuses.0.shipments.0.refund_modes.0.beneficiary_details.id: unknown key (expected "
        "one of beneficiary_id)",
        "statuses.0.shipments.0.data_updates.entity_status.0.filters.0.line_number: must be a "
        "positive whole number (it is 0)",
    ]


def test_free_form_data_takes_any_key_and_json_value():
    data = body(data_updates={"order": [{"data": {"anything": {"nested": [1, 2.5, None, True]},
                                                  "": ""}}],
                              "entities": [{"filters": [{"whatever": 1}], "data": {}}]})
    checked = check(data)
    assert checked.problems == []
    assert same(checked.request, data)


@pytest.mark.parametrize(("value", "message"), [
    (float("nan"), "nan is not a number JSON can carry"),
    (float("inf"), "inf is not a number JSON can carry"),
    ({1, 2}, "expected a JSON value, got a set"),
])
def test_free_form_values_json_cannot_carry(value, message):
    data = body(data_updates={"order": [{"data": {"x": value}}]})
    assert [(p.field, p.message) for p in check(data).problems] == [
        ("statuses.0.shipments.0.data_updates.order.0.data.x", message)
    ]


def test_keys_must_be_text():
    data = body(data_updates={"order": [{"data": {3: "x"}}]})
    assert problems(data) == [
        "statuses.0.shipments.0.data_updates.order.0.data.3: keys must be text, "
        "got a whole number"
    ]


@pytest.mark.parametrize(("data", "message"), [
    ([], "expected an object (an updateShipmentStatus body), got a list"),
    ("text", "expected an object (an updateShipmentStatus body), got text"),
    (None, "expected an object (an updateShipmentStatus body), got null"),
    ({}, "statuses: required, but missing"),
])
def test_not_a_body(data, message):
    assert problems(data) == [message]


def test_required_keys():
    data = {"statuses": [{"shipments": [{}]}]}
    assert problems(data) == ["statuses.0.shipments.0.identifier: required, but missing",
                              "statuses.0.status: required, but missing"]


def test_problems_come_in_source_order():
    data = {"statuses": [{"status": "bag_confirmd", "shipments": [
        {"products": [{"quantity": 0, "line_number": "x"}], "identifier": 5}]}],
        "task": "yes"}
    assert [p.field for p in check(data).problems] == [
        "statuses.0.status",
        "statuses.0.shipments.0.products.0.quantity",
        "statuses.0.shipments.0.products.0.line_number",
        "statuses.0.shipments.0.identifier",
        "task",
    ]


# -- the local checks of docs/fynd.md -----------------------------------------------------------
def test_unknown_state_is_a_problem_unless_forced():
    data = at(body(), ("statuses", 0, "status"), "bag_packd")
    assert problems(data) == ['statuses.0.status: unknown state "bag_packd" (did you mean '
                              'bag_packed?); use --force if your company has this state']
    forced = check(data, force=True)
    assert forced.problems == [] and forced.request == data


@pytest.mark.parametrize("text", ["None", "NULL", "none"])
def test_exclude_next_state_spelling_null_otherwise(text):
    data = at(body(), ("statuses", 0, "exclude_bags_next_state"), text)
    assert problems(data) == [
        f'statuses.0.exclude_bags_next_state: unknown state "{text}" (for JSON null write null '
        "without quotes in a file, --exclude-next-state null on the command line); use --force if "
        "your company has this state"]


def test_exclude_next_state_empty_and_null_are_not_states_to_check():
    for value in ("", None):
        assert problems(at(body(), ("statuses", 0, "exclude_bags_next_state"), value)) == []
    assert problems(at(body(), ("statuses", 0, "exclude_bags_next_state"), "Bag_Not_Confirmed"))


def test_same_shipment_in_two_transitions():
    data = {"statuses": [
        {"shipments": [{"identifier": "A"}, {"identifier": "B"}], "status": "bag_confirmed"},
        {"shipments": [{"identifier": "C"}, {"identifier": "A"}], "status": "bag_invoiced"},
    ]}
    checked = check(data)
    assert [(p.field, p.message) for p in checked.problems] == [(
        "statuses.1.shipments.1.identifier",
        'shipment A is also in statuses.0: one transition per shipment in a request — Fynd '
        'answers "Child bag ids are repeated in multiple transitions"',
    )]
    assert checked.request is None
    assert checked.identifiers == ["A", "B", "C", "A"]


def test_same_shipment_twice_in_one_transition():
    data = {"statuses": [{"shipments": [{"identifier": "A", "products": []},
                                        {"identifier": "A", "products": []}],
                          "status": "bag_confirmed"}]}
    assert problems(data) == [
        "statuses.0.shipments.1.identifier: shipment A is also in this transition "
        "(statuses.0.shipments.0): one transition per shipment in a request — Fynd answers "
        '"Child bag ids are repeated in multiple transitions"'
    ]


@pytest.mark.parametrize("state", ["bag_not_confirmed", "cancelled_customer", "cancelled_fynd",
                                   "cancelled_seller"])
def test_cancellation_needs_a_reason(state):
    data = {"statuses": [{"shipments": [
        {"identifier": "A", "reasons": {"products": [], "entities": []}},
        {"identifier": "B", "reasons": {"entities": [{"data": {"reason_id": 1}}]}},
        {"identifier": "C"},
    ], "status": state}]}
    found = check(data, force=True).problems  # cancelled_seller is not a state we know
    message = (f"{state} is a cancellation and needs a reason (reasons.products or "
               'reasons.entities; --reason ID:TEXT) — Fynd answers "Reason is missing"')
    assert [(p.field, p.message) for p in found] == [
        ("statuses.0.shipments.0.reasons", message),
        ("statuses.0.shipments.2.reasons", message),
    ]


def test_reason_filter_on_a_line_not_sent_is_a_warning():
    data = body(products=[{"line_number": 1, "quantity": 5}, {"line_number": 2, "quantity": 1}],
                reasons={"products": [{"filters": [{"line_number": 2, "quantity": 1},
                                                   {"line_number": 9, "quantity": 1}]}]})
    checked = check(data)
    assert checked.problems == []
    assert checked.request == data
    assert [str(w) for w in checked.warnings] == [
        "statuses.0.shipments.0.reasons.products.0.filters.1.line_number: line 9 is not among "
        "this shipment's products (lines 1, 2): the reason may apply to nothing"
    ]
    # products [] is the whole shipment: nothing to compare with
    assert check(at(data, (*SHIPMENT, "products"), [])).warnings == []


def test_warnings_survive_problems():
    data = body(products=[{"line_number": 1, "quantity": 0}],
                reasons={"products": [{"filters": [{"line_number": 4}]}]})
    checked = check(data)
    assert [p.field for p in checked.problems] == ["statuses.0.shipments.0.products.0.quantity"]
    assert [w.field for w in checked.warnings] == [
        "statuses.0.shipments.0.reasons.products.0.filters.0.line_number"]


# -- the body sent ------------------------------------------------------------------------------
def test_request_keys_in_the_documented_order():
    data = {
        "task": True,
        "statuses": [{
            "exclude_bags_next_state": None,
            "status": "bag_not_confirmed",
            "shipments": [{
                "data_updates": {"entities": [{"data": {"z": 1, "a": 2}, "filters": []}],
                                 "products": []},
                "reasons": {"entities": [], "products": [
                    {"data": {"reason_text": "x", "reason_id": 1},
                     "filters": [{"quantity": 1, "line_number": 1}]}]},
                "products": [{"quantity": 1, "line_number": 1}],
                "identifier": "S",
            }],
        }],
        "force_transition": False,
    }
    request = check(data).request
    assert request == data
    assert json.dumps(request) == json.dumps({
        "statuses": [{
            "shipments": [{
                "identifier": "S",
                "products": [{"line_number": 1, "quantity": 1}],
                "reasons": {"products": [
                    {"filters": [{"line_number": 1, "quantity": 1}],
                     "data": {"reason_id": 1, "reason_text": "x"}}], "entities": []},
                "data_updates": {"products": [],
                                 "entities": [{"filters": [], "data": {"z": 1, "a": 2}}]},
            }],
            "status": "bag_not_confirmed",
            "exclude_bags_next_state": None,
        }],
        "force_transition": False,
        "task": True,
    })


def test_request_keeps_null_empty_and_absent_apart():
    def sent(value) -> object:
        data = at(body(), ("statuses", 0, "exclude_bags_next_state"), value)
        return check(data).request["statuses"][0]["exclude_bags_next_state"]

    assert sent(None) is None
    assert sent("") == ""
    assert "exclude_bags_next_state" not in check(body()).request["statuses"][0]
    assert "products" not in check(at(body(), SHIPMENT, {"identifier": "S"})).request[
        "statuses"][0]["shipments"][0]


def test_request_is_none_with_problems_but_identifiers_are_read():
    data = {"statuses": [{"shipments": [{"identifier": "A", "products": "all"},
                                        {"identifier": 17}, {"products": []}, "junk"],
                          "status": "bag_confirmed"}, "junk"]}
    checked = check(data)
    assert checked.request is None and not checked.valid
    assert checked.identifiers == ["A", "17"]


def test_the_body_as_sent_keeps_numbers_text_and_key_order():
    from shipctl.fynd.client import encode

    text = encode(check(fynd_sample(6)).request).decode("utf-8")
    assert json.loads(text) == fynd_sample(6)
    assert '"ewayBillNo":391009665287.0' in text
    assert encode({"t": "Café", "a": 1}) == '{"t":"Café","a":1}'.encode()


def test_the_models_use_the_sdk_names_in_the_documented_order():
    assert field_names() == ("statuses", "force_transition", "lock_after_transition",
                             "unlock_before_transition", "task", "resume_tasks_after_unlock")
    assert field_names(Transition) == ("shipments", "status", "exclude_bags_next_state",
                                       "split_shipment")
    assert field_names(Shipment) == ("identifier", "products", "reasons", "data_updates",
                                     "transition_comments", "refund_modes")
    assert field_names(UpdateShipmentStatus) == field_names()


def test_problem_field_is_the_dotted_path():
    problem = Problem(("statuses", 0, "shipments", 1, "products", 0, "quantity"), "bad")
    assert problem.field == "statuses.0.shipments.1.products.0.quantity"
    assert str(problem) == "statuses.0.shipments.1.products.0.quantity: bad"
    assert str(Problem((), "bad")) == "bad"
    assert Checked(None, [problem]).valid is False


def test_nesting_deeper_than_python_recurses_is_a_problem_not_a_crash():
    deep: list = []
    node = deep
    for _ in range(5000):  # the readers stop at 32 levels; a caller's own data may not
        node.append([])
        node = node[0]
    data = body(data_updates={"order": [{"data": {"x": deep}}]})
    checked = check(data)
    assert [str(p) for p in checked.problems] == ["nested too deeply"]
    assert checked.identifiers == ["S1"]
