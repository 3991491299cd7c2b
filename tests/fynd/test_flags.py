"""`fynd transition` flags → the body (docs/fynd.md): the examples of Fynd's "Example Request
Payload of Update Shipment Status API" page reproduced by the flag lines a user types, every
flag's part of the body, and every malformed value's message."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from factories import REPO, fynd_sample

from shipctl.fynd import flags
from shipctl.fynd.flags import (
    ABSENT,
    Comment,
    DataValue,
    Reason,
    build,
    parse_comment,
    parse_data,
    parse_entity_reason,
    parse_exclude_next_state,
    parse_line,
    parse_reason,
)
from shipctl.fynd.models import check

from . import EXAMPLE_4_GAP, EXAMPLE_4_MENDED, pasted_examples, read_leniently, same

# The parser of each repeatable flag and the build() keyword it feeds.
REPEATED = {
    "--line": (parse_line, "lines"),
    "--reason": (parse_reason, "reasons"),
    "--entity-reason": (parse_entity_reason, "entity_reasons"),
    "--data": (parse_data, "data"),
    "--comment": (parse_comment, "comments"),
}
SWITCHES = ("--force-transition", "--lock-after-transition", "--unlock-before-transition",
            "--task")


def from_flags(line: str, data_file: dict | None = None) -> dict:
    """The body for a `fynd transition` flag line, each value through its flag's parser (the
    command's own option handling is tested through the CLI)."""
    words = shlex.split(line)
    identifiers: list[str] = []
    options: dict = {"data_file": data_file}
    while words:
        word = words.pop(0)
        if word in REPEATED:
            parse, keyword = REPEATED[word]
            options.setdefault(keyword, []).append(parse(words.pop(0)))
        elif word in SWITCHES:
            options[word[2:].replace("-", "_")] = True
        elif word == "--to":
            options["to"] = words.pop(0)
        elif word == "--exclude-next-state":
            options["exclude_next_state"] = parse_exclude_next_state(words.pop(0))
        elif word in ("--invoice-id", "--awb"):
            options[word[2:].replace("-", "_")] = words.pop(0)
        elif word in ("--dry-run", "-o", "json"):
            continue
        else:
            identifiers.append(word)
    return build(identifiers, **options)


# Examples 1–5 of Fynd's example page as flag lines (example 4's is docs/fynd.md's own).
FLAG_LINES = {
    1: "12345383008471878029 --to bag_confirmed",
    2: "16563383008471878029 --to bag_invoiced --invoice-id 123 --exclude-next-state null",
    3: '12345643769771400691 --to bag_not_confirmed --reason "1:Product Not Available" '
       '--exclude-next-state ""',
    4: '12345383008471878029 --to bag_confirmed --line 1:5 --line 2:10 '
       '--reason "1:Product Not Available@1:3,2:4" --reason "2:Defective Product@1:2,2:1" '
       "--exclude-next-state bag_not_confirmed --dry-run -o json",
    5: '12345383008471878029 --to bag_not_confirmed --line 1:5 --line 2:10 '
       '--reason "1:Product Not Available@3:3,4:5" --reason "2:Defective Product@3:2,4:5" '
       "--exclude-next-state null",
}


# -- acceptance: the examples of Fynd's example page ---------------------------------------------
@pytest.mark.parametrize("number", sorted(FLAG_LINES))
def test_flag_line_reproduces_the_sample(number):
    body = from_flags(FLAG_LINES[number])
    assert same(body, fynd_sample(number))
    # and in the key order of Fynd's example page, as sent
    assert json.dumps(body) == json.dumps(fynd_sample(number))


@pytest.mark.parametrize("number", sorted(FLAG_LINES))
def test_flag_line_reproduces_the_docs_as_pasted(number, tmp_path):
    text = pasted_examples()[number]
    if number == 4:
        text = text.replace(EXAMPLE_4_GAP, EXAMPLE_4_MENDED)
    assert same(from_flags(FLAG_LINES[number]), read_leniently(text, tmp_path))


def test_null_empty_and_absent_exclude_next_state_are_three_bodies():
    bodies = [from_flags(FLAG_LINES[n])["statuses"][0] for n in (1, 2, 3)]
    assert "exclude_bags_next_state" not in bodies[0]
    assert bodies[1]["exclude_bags_next_state"] is None
    assert bodies[2]["exclude_bags_next_state"] == ""
    # and the comparison the acceptance tests rely on tells them apart
    assert not same({"a": None}, {"a": ""}) and not same({"a": None}, {})
    assert not same({"a": 1}, {"a": True}) and not same({"a": 1}, {"a": 1.0})


def test_example_6_from_a_data_file():
    expected = fynd_sample(6)
    data_updates = expected["statuses"][0]["shipments"][0]["data_updates"]
    body = from_flags('17564650712821463339 --to bag_packed --exclude-next-state ""',
                      data_file=data_updates)
    assert same(body, expected)


def test_example_6_from_data_flags_on_a_skeleton_file(tmp_path):
    expected = read_leniently(pasted_examples()[6], tmp_path)
    updates = expected["statuses"][0]["shipments"][0]["data_updates"]
    # the file gives only the entries with the example's empty filters; every value comes by
    # --data
    skeleton = {target: [{"filters": [], "data": {}}] for target in updates}
    words = ['17564650712821463339 --to bag_packed --exclude-next-state ""']
    for target, entries in updates.items():
        for key, value in entries[0]["data"].items():
            if isinstance(value, str):
                words.append("--data " + shlex.quote(f"{target}.{key}={value}"))
            else:
                words.append("--data " + shlex.quote(f"{target}.{key}:={json.dumps(value)}"))
    body = from_flags(" ".join(words), data_file=skeleton)
    assert same(body, expected)


def test_data_sets_a_nested_key_of_the_first_entry():
    body = build(["S1"], to="dp_assigned", data=[
        parse_data("order.meta.courier.name=Bvc"),
        parse_data("order.meta.courier.own:=false"),
        parse_data("order_item_status.meta:={\"x\": [1, 2.5, null]}"),
        parse_data("products.store_invoice_id="),
    ])
    # products filter ([{}]: every product); order and order_item_status entries hold only
    # `data` (the SDK's OrderDataUpdates, OrderItemDataUpdates), so no filters are added there
    assert json.dumps(body["statuses"][0]["shipments"][0]["data_updates"]) == json.dumps({
        "products": [{"filters": [{}], "data": {"store_invoice_id": ""}}],
        "order_item_status": [{"data": {"meta": {"x": [1, 2.5, None]}}}],
        "order": [{"data": {"meta": {"courier": {"name": "Bvc", "own": False}}}}],
    })


def test_data_keeps_the_filters_a_data_file_gives_order_entries():
    data_file = {"order_item_status": [{"filters": [], "data": {}}]}  # Fynd's example 6
    body = build(["S1"], to="bag_packed", data=["order_item_status.meta.a=1", "order.b=2"],
                 data_file=data_file)
    assert json.dumps(body["statuses"][0]["shipments"][0]["data_updates"]) == json.dumps({
        "order_item_status": [{"filters": [], "data": {"meta": {"a": "1"}}}],
        "order": [{"data": {"b": "2"}}],
    })


def test_data_merges_into_the_data_file_and_invoice_id():
    data_file = {"entities": [{"filters": [], "data": {"meta": {"a": 1}}}]}
    body = build(["S1"], to="bag_invoiced", invoice_id="INV-9", awb="AWB1",
                 data=[parse_data("entities.meta.b:=2")], data_file=data_file)
    updates = body["statuses"][0]["shipments"][0]["data_updates"]
    assert json.dumps(updates) == json.dumps({
        "products": [{"filters": [{}],
                      "data": {"store_invoice_id": "INV-9", "delivery_awb_number": "AWB1"}}],
        "entities": [{"filters": [],
                      "data": {"meta": {"a": 1, "b": 2}, "store_invoice_id": "INV-9",
                               "delivery_awb_number": "AWB1"}}],
    })
    assert data_file == {"entities": [{"filters": [], "data": {"meta": {"a": 1}}}]}  # untouched


def test_awb_alone_fills_products_and_entities():
    updates = build(["S1"], to="dp_assigned", awb="RS1")["statuses"][0]["shipments"][0][
        "data_updates"]
    assert updates == {
        "products": [{"filters": [{}], "data": {"delivery_awb_number": "RS1"}}],
        "entities": [{"filters": [{}], "data": {"delivery_awb_number": "RS1"}}],
    }


@pytest.mark.parametrize(("data_file", "setting", "message"), [
    ({"order": {"data": {}}}, "order.meta=1", "data_updates.order is not a list"),
    ({"order": [{"data": {"meta": "text"}}]}, "order.meta.x=1",
     "data_updates.order.data.meta is not an object"),
    ({"order": [{"data": []}]}, "order.meta=1", "data_updates.order.data is not an object"),
])
def test_data_into_a_file_of_the_wrong_shape(data_file, setting, message):
    with pytest.raises(ValueError, match="cannot set .*" + message.replace(".", r"\.")):
        build(["S1"], to="dp_assigned", data=[setting], data_file=data_file)


def test_a_data_file_that_is_not_an_object():
    with pytest.raises(ValueError, match="expected a data_updates object"):
        build(["S1"], to="dp_assigned", data_file=[1])  # type: ignore[arg-type]


def test_several_shipments_get_the_same_parts():
    body = from_flags('A B --to bag_not_confirmed --line 1:2 --reason "4:Out of stock@1:2" '
                      '--entity-reason "7:Customer asked" --comment "Call:customer phoned"')
    shipments = body["statuses"][0]["shipments"]
    assert [s["identifier"] for s in shipments] == ["A", "B"]
    assert shipments[0] == {**shipments[1], "identifier": "A"}
    assert json.dumps(shipments[1]) == json.dumps({
        "identifier": "B",
        "products": [{"line_number": 1, "quantity": 2}],
        "reasons": {
            "products": [{"filters": [{"line_number": 1, "quantity": 2}],
                          "data": {"reason_id": 4, "reason_text": "Out of stock"}}],
            "entities": [{"filters": [{}],
                          "data": {"reason_id": 7, "reason_text": "Customer asked"}}],
        },
        "transition_comments": [{"title": "Call", "message": "customer phoned"}],
    })
    # each shipment has its own objects: editing one cannot change the other
    assert shipments[0]["products"] is not shipments[1]["products"]
    assert check(body).problems == []


def test_entity_reason_alone_gives_empty_product_reasons():
    body = from_flags('A --to cancelled_customer --entity-reason "7:Customer asked"')
    assert body["statuses"][0]["shipments"][0]["reasons"] == {
        "products": [],
        "entities": [{"filters": [{}], "data": {"reason_id": 7, "reason_text": "Customer asked"}}],
    }


def test_switches_are_present_only_when_given_and_in_order():
    assert list(from_flags("A --to bag_confirmed")) == ["statuses"]
    body = from_flags("A --to bag_confirmed --task --unlock-before-transition "
                      "--lock-after-transition --force-transition")
    assert list(body) == ["statuses", "force_transition", "lock_after_transition",
                          "unlock_before_transition", "task"]
    assert all(body[key] is True for key in list(body)[1:])


def test_build_takes_the_values_as_typed_too():
    typed = build(["A"], to="bag_confirmed", lines=["1:5"], reasons=["1:Gone@1:5"],
                  entity_reasons=["2:Why"], data=["order.x=1"], comments=["T:M"])
    parsed = build(["A"], to="bag_confirmed", lines=[(1, 5)], reasons=[parse_reason("1:Gone@1:5")],
                   entity_reasons=[parse_entity_reason("2:Why")],
                   data=[DataValue("order", ("x",), "1")], comments=[Comment("T", "M")])
    assert json.dumps(typed) == json.dumps(parsed)


# -- the parsers, one value at a time -----------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("1:5", (1, 5)), (" 2 : 10 ", (2, 10)), ("007:1", (7, 1)),
])
def test_parse_line(text, expected):
    assert parse_line(text) == expected


@pytest.mark.parametrize("text", [
    "one:five", "1", "1:", ":5", "0:5", "1:0", "-1:5", "1:-5", "1.5:2", "1:5:3", "", "1;5",
    "١:٥", "1_0:5", "+1:5", "1:5 2", "1" * 19 + ":1",
])
def test_parse_line_refuses(text):
    with pytest.raises(ValueError) as error:
        parse_line(text)
    assert str(error.value) == "expected LINE:QTY with positive integers, e.g. 1:5"


@pytest.mark.parametrize(("text", "expected"), [
    ("1:Product Not Available", Reason(1, "Product Not Available", ({},))),
    ("1:Product Not Available@1:3,2:4",
     Reason(1, "Product Not Available",
            ({"line_number": 1, "quantity": 3}, {"line_number": 2, "quantity": 4}))),
    ("12:Note: see ticket@2:1", Reason(12, "Note: see ticket", ({"line_number": 2,
                                                                  "quantity": 1},))),
    ("0:x", Reason(0, "x", ({},))),
])
def test_parse_reason(text, expected):
    assert parse_reason(text) == expected


@pytest.mark.parametrize("text", [
    "3", "x:Text", ":Text", "1:", "1: ", "1:Text@", "1:Text@1", "1:Text@1:0", "1:Text@1:3,",
    "1:Text@a:b", "-1:Text", "1.0:Text",
])
def test_parse_reason_refuses(text):
    with pytest.raises(ValueError, match=r"^expected ID:TEXT\[@LINE:QTY\[,LINE:QTY…\]\]"):
        parse_reason(text)


def test_parse_entity_reason():
    assert parse_entity_reason("3:Customer: not reachable") == Reason(
        3, "Customer: not reachable", ({},))
    for bad in ("3", "a:b", "3:"):
        with pytest.raises(ValueError, match="^expected ID:TEXT with a whole-number ID"):
            parse_entity_reason(bad)


def test_parse_comment():
    assert parse_comment("Packed:by Ana: 2 boxes") == Comment("Packed", "by Ana: 2 boxes")
    for bad in ("no colon", ":message", "title:", " : "):
        with pytest.raises(ValueError, match="^expected TITLE:MESSAGE"):
            parse_comment(bad)


@pytest.mark.parametrize(("text", "expected"), [
    ("products.store_invoice_id=INV1", DataValue("products", ("store_invoice_id",), "INV1")),
    ('order.meta:={"a":1}', DataValue("order", ("meta",), {"a": 1})),
    ("entities.meta.x:=null", DataValue("entities", ("meta", "x"), None)),
    ("entities.n:=5", DataValue("entities", ("n",), 5)),
    ("entities.n=5", DataValue("entities", ("n",), "5")),
    ("order_item_status.note=a=b", DataValue("order_item_status", ("note",), "a=b")),
    ("products.x=", DataValue("products", ("x",), "")),
])
def test_parse_data(text, expected):
    assert parse_data(text) == expected
    assert same(parse_data(text).value, expected.value)


@pytest.mark.parametrize(("text", "extra"), [
    ("products", ""), ("products=1", ""), ("order.=1", ""), ("order..x=1", ""),
    ("entity_status.x=1", ""), ("product.x=1", ""), ("meta.x=1", ""),
    ("order.x:={bad", "(after := : not JSON"), ("order.x:=NaN", "(after := : not JSON"),
    ("order.x:=1e999", "1e999 is out of range"), ("order.x:=[-1E400]", "-1E400 is out of range"),
    ("order.x:=" + "[" * 40 + "]" * 40, "nested deeper than"),
])
def test_parse_data_refuses(text, extra):
    with pytest.raises(ValueError) as error:
        parse_data(text)
    assert str(error.value).startswith(
        "expected TARGET.PATH=TEXT or TARGET.PATH:=JSON with TARGET one of products, entities, "
        "order_item_status, order")
    assert extra in str(error.value)


def test_parse_exclude_next_state():
    assert parse_exclude_next_state("null") is None
    assert parse_exclude_next_state("") == ""
    assert parse_exclude_next_state("bag_not_confirmed") == "bag_not_confirmed"
    assert repr(ABSENT) == "ABSENT"


# -- the local checks of docs/fynd.md on a body built from flags ---------------------------------
def messages(line: str, **kwargs) -> tuple[list[str], list[str]]:
    checked = check(from_flags(line), **kwargs)
    return [str(p) for p in checked.problems], [str(w) for w in checked.warnings]


def test_unknown_state_needs_force():
    problems, _ = messages("A --to bag_confirmd")
    assert problems == ['statuses.0.status: unknown state "bag_confirmd" (did you mean '
                        'bag_confirmed?); use --force if your company has this state']
    assert messages("A --to bag_confirmd", force=True) == ([], [])


def test_unknown_exclude_next_state_needs_force():
    problems, _ = messages("A --to bag_confirmed --exclude-next-state my_own_state")
    assert problems == ['statuses.0.exclude_bags_next_state: unknown state "my_own_state"; '
                        "use --force if your company has this state"]


def test_cancellation_without_reason():
    problems, _ = messages("A B --to cancelled_customer")
    message = ("cancelled_customer is a cancellation and needs a reason (reasons.products or "
               'reasons.entities; --reason ID:TEXT) — Fynd answers "Reason is missing"')
    assert problems == [f"statuses.0.shipments.0.reasons: {message}",
                        f"statuses.0.shipments.1.reasons: {message}"]
    assert messages('A --to cancelled_customer --reason "1:Asked"') == ([], [])


def test_reason_on_a_line_not_given_warns():
    problems, warnings = messages('A --to bag_not_confirmed --line 1:5 --reason "1:Gone@1:2,3:1"')
    assert problems == []
    assert warnings == ["statuses.0.shipments.0.reasons.products.0.filters.1.line_number: "
                        "line 3 is not among this shipment's products (lines 1): the reason may "
                        "apply to nothing"]
    # without --line the whole shipment moves: any line may carry a reason
    assert messages('A --to bag_not_confirmed --reason "1:Gone@3:1"') == ([], [])


def test_every_public_name_is_exported():
    assert set(flags.__all__) <= set(dir(flags))


def test_flags_import_only_the_standard_library():
    # parsed on every `fynd transition`, before anything is known to be worth sending
    code = ("import sys, shipctl.fynd.flags; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'requests', 'rich', 'yaml', 'typer', 'json5')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"
