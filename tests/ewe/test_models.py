"""EWE modifyShipment rules (docs/ewe.md): each rule at its edges, the body we send,
the postcode list, and properties over arbitrary input."""

from __future__ import annotations

import copy
import json
import math
from decimal import Decimal

import pytest
from factories import ewe_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipctl.errors import ConfigError
from shipctl.ewe import client
from shipctl.ewe.models import PostcodeIndex, Problem, check, java_length, load_postcodes
from shipctl.ewe.postcodes import STATE_RANGES, STATES, state_of

PHONE_RULE = "must be 9–20 characters of digits, spaces, -, ( ) and an optional leading +"


def with_field(path: tuple, value, data: dict | None = None) -> dict:
    data = copy.deepcopy(data if data is not None else ewe_request())
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def without(path: tuple) -> dict:
    data = ewe_request()
    node = data
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return data


def problems(data, **kwargs) -> dict[str, str]:
    """{"to.phone": message} for the problems check() finds."""
    found = check(data, **kwargs).problems
    return {p.field: p.message for p in found}


def only_problem(data, **kwargs) -> tuple[str, str]:
    found = check(data, **kwargs).problems
    assert len(found) == 1, found
    return found[0].field, found[0].message


# -- the valid body and what is sent ------------------------------------------------------------
def test_documented_example_is_valid_and_normalised_for_sending():
    data = ewe_request(username="DUMMY", digest="xxxxxxxxxxxxx", msgType="modifyShipment")
    data["to"]["state"] = "vic"
    data["merchandise"][0]["value"] = "10.99"
    checked = check(data)

    assert checked.problems == []
    assert checked.reference_no == "TEST08030001"
    assert checked.envelope == {"username": "DUMMY", "digest": "xxxxxxxxxxxxx",
                                "msgType": "modifyShipment"}
    sent = checked.request
    assert not {"username", "digest", "msgType"} & set(sent)
    assert sent["version"] == "1.6"  # docs/ewe.md: defaulted
    assert sent["to"]["state"] == "VIC"
    assert sent["merchandise"][0]["quantity"] == 1
    assert sent["merchandise"][0]["value"] == Decimal("10.99")  # exact digits
    assert sent["from"]["lines"] == [" 457 Waterloo Road"]  # text is sent as written
    client.encode(sent)  # serialisable as the body


def test_input_is_not_modified():
    data = ewe_request()
    snapshot = copy.deepcopy(data)
    check(data)
    assert data == snapshot


def test_given_version_is_kept_and_reported_in_the_envelope():
    checked = check(ewe_request(version="1.6"))
    assert checked.request["version"] == "1.6"
    assert checked.envelope == {"version": "1.6"}
    # YAML reads `version: 1.6` as a number
    assert check(ewe_request(version=1.6)).request["version"] == "1.6"


def test_numbers_where_text_is_expected_are_sent_as_text():
    # YAML reads `postcode: 2190` and `phone: 61407000000` as numbers
    data = with_field(("from", "postcode"), 2190)
    data = with_field(("from", "phone"), 61407000000, data)
    data["referenceNo"] = 12345
    checked = check(data)
    assert checked.problems == []
    assert checked.request["from"]["postcode"] == "2190"
    assert checked.request["from"]["phone"] == "61407000000"
    assert checked.request["referenceNo"] == "12345"
    assert checked.reference_no == "12345"


def test_optional_fields_left_empty_are_not_sent():
    data = with_field(("to", "email"), "")
    data = with_field(("to", "phone"), None, data)
    data["articleId"] = ""
    data["merchandise"] = [{"sku": "", "quantity": "", "value": None}]
    checked = check(data)
    assert checked.problems == []
    assert "email" not in checked.request["to"]
    assert "phone" not in checked.request["to"]
    assert "articleId" not in checked.request
    assert "merchandise" not in checked.request


def test_merchandise_absent_is_not_sent():
    data = ewe_request()
    del data["merchandise"]
    assert "merchandise" not in check(data).request


# -- required fields ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [("referenceNo",), ("reason",), ("from",), ("to",)]
    + [(side, key) for side in ("from", "to") for key in ("name", "lines", "state", "suburb",
                                                          "postcode")]
    + [("from", "phone")],
)
def test_required_field_missing(path):
    data = without(path)
    if path == ("referenceNo",):  # articleId alone would do
        del data["articleId"]
    field, message = only_problem(data)
    assert (field, message.partition(" (or give articleId")[0]) == (
        ".".join(path), "required, but missing")


@pytest.mark.parametrize("path", [("reason",), ("from", "suburb"), ("to", "name")])
@pytest.mark.parametrize("value", ["", "   ", None])
def test_required_field_empty(path, value):
    field, message = only_problem(with_field(path, value))
    assert field == ".".join(path)
    assert message.startswith("required, but empty")


def test_to_phone_is_optional_from_phone_is_not():
    assert check(without(("to", "phone"))).problems == []
    assert problems(with_field(("from", "phone"), ""))["from.phone"].startswith("required")


# -- name and lines -----------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["from", "to"])
def test_name_at_most_40_characters(side):
    assert check(with_field((side, "name"), "N" * 40)).problems == []
    assert only_problem(with_field((side, "name"), "N" * 41)) == (
        f"{side}.name", "at most 40 characters (it has 41)")


@pytest.mark.parametrize("count, expected", [
    (0, "needs at least 1 address line (at most 3)"),
    (1, None),
    (3, None),
    (4, "at most 3 address lines (it has 4)"),
])
def test_lines_one_to_three(count, expected):
    lines = [f"Line {n}" for n in range(count)]
    found = problems(with_field(("to", "lines"), lines))
    assert found == ({} if expected is None else {"to.lines": expected})


def test_each_line_at_most_40_characters_and_not_blank():
    assert check(with_field(("from", "lines"), ["L" * 40, "x"])).problems == []
    found = problems(with_field(("from", "lines"), ["ok", "L" * 41, " "]))
    assert found["from.lines.1"] == "at most 40 characters (it has 41)"
    assert found["from.lines.2"].startswith("required, but empty")


def test_lines_given_as_text_says_so():
    field, message = only_problem(with_field(("to", "lines"), "6 Chifley Drive"))
    assert field == "to.lines"
    assert message == ("expected a list of 1–3 address lines, got text"
                       " — put each line in its own entry")


# -- state and postcode -------------------------------------------------------------------------
@pytest.mark.parametrize("written", ["vic", "Vic", " VIC "])
def test_state_is_case_insensitive_and_sent_upper_case(written):
    checked = check(with_field(("to", "state"), written))
    assert checked.problems == []
    assert checked.request["to"]["state"] == "VIC"


def test_unknown_state_lists_the_codes_and_guesses_from_a_full_name():
    field, message = only_problem(with_field(("to", "state"), "Victoria"))
    assert field == "to.state"
    assert message == ('"Victoria" is not a state: use one of NSW, VIC, QLD, SA, WA, TAS, NT, ACT'
                       " (did you mean VIC?)")
    assert "did you mean" not in only_problem(with_field(("to", "state"), "XYZ"))[1]


@pytest.mark.parametrize("postcode", ["219", "21900", "2l90", "21 90", "２１９０", "-219"])
def test_postcode_must_be_four_digits(postcode):
    assert only_problem(with_field(("from", "postcode"), postcode)) == (
        "from.postcode", f'must be exactly 4 digits (it is "{postcode}")')


def test_postcode_with_spaces_around_is_trimmed():
    checked = check(with_field(("from", "postcode"), " 2190 "))
    assert checked.problems == []
    assert checked.request["from"]["postcode"] == "2190"


def test_postcode_number_that_lost_its_leading_zero():
    field, message = only_problem(with_field(("to", "postcode"), 800))
    assert field == "to.postcode"
    assert '"0800"' in message and "800" in message


# docs/ewe.md: Australia Post's ranges; every edge inside, and the first outside
STATE_EDGES = [
    ("ACT", ["0200", "0299", "2600", "2618", "2900", "2920"], ["0199", "0300", "2619", "2599",
                                                               "2899", "2921"]),
    ("NSW", ["1000", "2599", "2619", "2899", "2921", "2999"], ["0999", "2600", "2618", "2900",
                                                               "2920", "3000"]),
    ("NT", ["0800", "0999"], ["0799", "1000"]),
    ("VIC", ["3000", "3999", "8000", "8999"], ["2999", "4000", "7999", "9000"]),
    ("QLD", ["4000", "4999", "9000", "9999"], ["3999", "5000", "8999"]),
    ("SA", ["5000", "5999"], ["4999", "6000"]),
    ("WA", ["6000", "6999"], ["5999", "7000"]),
    ("TAS", ["7000", "7999"], ["6999", "8000"]),
]


@pytest.mark.parametrize("state, inside, outside", STATE_EDGES)
def test_postcode_inside_the_states_ranges(state, inside, outside):
    for postcode in inside:
        data = with_field(("to", "postcode"), postcode, with_field(("to", "state"), state))
        assert check(data).problems == [], (state, postcode)
    for postcode in outside:  # outside the usual ranges is a warning, not a refusal
        data = with_field(("to", "postcode"), postcode, with_field(("to", "state"), state))
        checked = check(data)
        assert checked.problems == []
        [warning] = checked.warnings
        assert warning.field == "to.postcode"
        usual = state_of(postcode)
        assert warning.message.startswith(
            f"{postcode} is usually a {usual} postcode, not {state} ({state}: " if usual
            else f"{postcode} is outside every state's usual range ({state}: ")


def test_act_2619_is_nsw_and_the_message_says_so():
    data = with_field(("to", "postcode"), "2619", with_field(("to", "state"), "ACT"))
    checked = check(data)
    assert checked.problems == []  # a warning naming the usual state
    assert [str(w) for w in checked.warnings] == [
        "to.postcode: 2619 is usually a NSW postcode, not ACT (ACT: 0200–0299, 2600–2618, "
        "2900–2920); not refused: some localities lie across a state border (set "
        "ewe.postcodes to check exactly)"]
    data = with_field(("to", "state"), "NSW", data)
    assert check(data).problems == [] and check(data).warnings == []


def test_state_postcode_mismatch_message():
    data = with_field(("from", "state"), "VIC")
    [warning] = check(data).warnings
    assert warning.field == "from.postcode"
    assert warning.message.startswith(
        "2190 is usually a NSW postcode, not VIC (VIC: 3000–3999, 8000–8999)")


def test_postcode_ranges_do_not_overlap_and_leave_only_unallocated_gaps():
    owners = {f"{n:04d}": [s for s in STATES if any(lo <= n <= hi for lo, hi in STATE_RANGES[s])]
              for n in range(10000)}
    assert all(len(states) <= 1 for states in owners.values())
    unallocated = [code for code, states in owners.items() if not states]
    assert unallocated == [f"{n:04d}" for n in (*range(0, 200), *range(300, 800))]
    assert state_of("2619") == "NSW" and state_of("0100") is None


def test_mismatch_is_reported_even_when_another_field_is_bad():
    data = with_field(("from", "state"), "VIC", with_field(("from", "phone"), "12"))
    checked = check(data)
    assert set(problems(data)) == {"from.phone"}
    assert [w.field for w in checked.warnings] == ["from.postcode"]


# -- phone ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "phone",
    ["123456789", "1" * 20, "0491-570-156", "(02) 5550 1234", "+61 (3) 7010 4321",
     "+12345678", "+" + "1" * 19],
)
def test_phone_accepted(phone):
    assert check(with_field(("from", "phone"), phone)).problems == []
    assert check(with_field(("to", "phone"), phone)).problems == []


@pytest.mark.parametrize(
    "phone, detail",
    [("12345678", "(it has 8 characters)"), ("1" * 21, "(it has 21 characters)"),
     ("+" + "1" * 20, "(it has 21 characters)"), ("0491 570 15x", '("x" is not allowed there)'),
     ("0491+570156", '("+" is not allowed there)'), ("0491.570.156", '("." is not allowed there)')],
)
def test_phone_rejected(phone, detail):
    assert only_problem(with_field(("to", "phone"), phone)) == (
        "to.phone", f"{PHONE_RULE} {detail}")


# -- email ----------------------------------------------------------------------------------
@pytest.mark.parametrize("email", ["a@example.com", "dispatch@ewe.com.au", "o'neil@shop.net"])
def test_email_accepted(email):
    assert check(with_field(("from", "email"), email)).problems == []


@pytest.mark.parametrize("email", ["123456@gmail", "no-at-sign.com", "a..b@gmail.com", "@x.com"])
def test_email_rejected(email):
    field, message = only_problem(with_field(("to", "email"), email))
    assert field == "to.email"
    assert message.startswith("not a valid email address")


# -- merchandise ------------------------------------------------------------------------------
@pytest.mark.parametrize("given, sent", [(1, 1), ("1", 1), (" 3 ", 3), (2.0, 2), (12, 12)])
def test_quantity_positive_integer_or_numeric_string(given, sent):
    checked = check(with_field(("merchandise", 0, "quantity"), given))
    assert checked.problems == []
    assert checked.request["merchandise"][0]["quantity"] == sent
    assert type(checked.request["merchandise"][0]["quantity"]) is int


@pytest.mark.parametrize("given", [0, -1, "0", "-2", "1.5", 1.5, True, False, "one", [1],
                                   float("nan")])
def test_quantity_rejected(given):
    field, message = only_problem(with_field(("merchandise", 0, "quantity"), given))
    assert field == "merchandise.0.quantity"
    assert message.startswith("must be a positive whole number")


@pytest.mark.parametrize("key", ["value", "length", "width", "height", "weight"])
@pytest.mark.parametrize("given, sent", [(0, 0), (10.99, Decimal("10.99")),
                                         ("10.99", Decimal("10.99")), ("2", 2),
                                         (" .5 ", Decimal(".5")), ("0", 0),
                                         # text with an exponent, as spreadsheets write it
                                         ("1e3", Decimal("1e3")), ("1.00E-07", Decimal("1E-7"))])
def test_decimals_accept_numbers_and_numeric_strings(key, given, sent):
    checked = check(with_field(("merchandise", 0, key), given))
    assert checked.problems == []
    value = checked.request["merchandise"][0][key]
    assert value == sent and type(value) is type(sent)


@settings(max_examples=200, deadline=None)
@given(number=st.decimals(min_value=0, allow_nan=False, allow_infinity=False, places=None)
       .filter(lambda d: max(d.adjusted() + 1, 1) + max(-d.as_tuple().exponent, 0) <= 400),
       spelling=st.sampled_from(["{:e}", "{:E}", "{}", "{:f}"]))
def test_a_decimal_written_as_text_is_sent_with_its_value_in_plain_notation(number, spelling):
    """Text in any of Python's spellings of a decimal (a CSV cell: 1E-07, 12.50, 1.5e+3)."""
    text = spelling.format(number)
    checked = check(with_field(("merchandise", 0, "weight"), text))
    assert checked.problems == [], text
    sent = checked.request["merchandise"][0]["weight"]
    assert Decimal(sent) == number
    written = json.loads(client.encode(checked.request), parse_float=str)[
        "merchandise"][0]["weight"]
    assert "e" not in str(written).lower()


@pytest.mark.parametrize("key", ["value", "weight"])
@pytest.mark.parametrize("given, start", [
    (-0.01, "must not be negative"), ("-1", "must not be negative"),
    (float("nan"), "expected a non-negative number"), (float("inf"), "expected a non-negative"),
    (True, "expected a non-negative number, got true"), ("ten", "expected a non-negative"),
    ("1e", "expected a non-negative"), ("e3", "expected a non-negative"),
    ("Infinity", "expected a non-negative"), ("-1e3", "must not be negative"),
    ({}, "expected a non-negative number, got an object"),
])
def test_decimals_rejected(key, given, start):
    field, message = only_problem(with_field(("merchandise", 0, key), given))
    assert field == f"merchandise.0.{key}"
    assert message.startswith(start)


def test_merchandise_must_be_a_list_of_objects():
    assert only_problem(ewe_request(merchandise={"sku": "x"})) == (
        "merchandise", "expected a list of merchandise objects, got an object")
    assert only_problem(ewe_request(merchandise=[{"sku": "x"}, "T-shirt"])) == (
        "merchandise.1", "expected an object, got text")


def test_every_merchandise_field_is_accepted():
    entry = {"sku": "S", "goodsName": "G", "goodsNameCn": "帽子", "barcode": "9999999998",
             "description": "garment", "country_of_origin": "AU", "quantity": 2, "value": 1.5,
             "length": 10, "width": 5, "height": 2, "weight": 0.25}
    checked = check(ewe_request(merchandise=[entry]))
    assert checked.problems == []
    assert checked.request["merchandise"] == [entry]


# -- unknown keys, envelope, shapes ------------------------------------------------------------
@pytest.mark.parametrize("path, wrong, suggestion", [
    (("to",), "emial", "email"),
    (("from",), "postCode", "postcode"),
    (("from",), "line", "lines"),
    ((), "referenceno", "referenceNo"),
    ((), "reson", "reason"),
    ((), "articleID", "articleId"),
    (("merchandise", 0), "quantiy", "quantity"),
    (("merchandise", 0), "countryOfOrigin", "country_of_origin"),
    (("merchandise", 0), "goods_name", "goodsName"),
])
def test_unknown_key_suggests_the_nearest_allowed_key(path, wrong, suggestion):
    data = with_field((*path, wrong), "x")
    found = problems(data)
    assert found[".".join(map(str, (*path, wrong)))] == (
        f"unknown field (did you mean {suggestion}?)")


def test_unknown_key_without_a_near_miss():
    assert only_problem(ewe_request(colour="red")) == ("colour", "unknown field")


def test_carried_msg_type_is_replaced_not_rejected():
    # docs/ewe.md: envelope keys in an item are replaced (the commands warn when they differ)
    checked = check(ewe_request(msgType="cancelShipment"))
    assert checked.problems == []
    assert checked.envelope["msgType"] == "cancelShipment"
    assert "msgType" not in checked.request


@pytest.mark.parametrize("item, kind", [([], "a list"), ("text", "text"), (None, "null"),
                                        (42, "a whole number"), (4.2, "a number")])
def test_non_object_item_is_one_problem(item, kind):
    checked = check(item)
    assert checked.problems == [
        Problem((), f"expected an object (a modifyShipment request), got {kind}")]
    assert checked.request is None and checked.reference_no is None


@pytest.mark.parametrize("path, value, expected", [
    (("from",), "Greenacre NSW", "expected an object, got text"),
    (("to", "name"), ["Jane"], "expected text, got a list"),
    (("reason",), {"text": "x"}, "expected text, got an object"),
    (("to", "suburb"), True, "expected text, got true"),
    (("to", "lines"), [["a"]], "expected text, got a list"),
])
def test_wrong_types_are_described_plainly(path, value, expected):
    found = check(with_field(path, value)).problems
    assert found[0].message == expected


def test_messages_never_show_pydantic_internals():
    nasty = [
        with_field(("from",), 3), with_field(("to", "lines"), {"a": 1}),
        with_field(("merchandise", 0), 7), ewe_request(merchandise="x"), ewe_request(**{"1": 2}),
        {1: "numeric key", None: "null key"}, with_field(("to", "phone"), 3.5),
        with_field(("from", "state"), [1]), ewe_request(version=[1]),
        ewe_request(username={"a": 1}),
    ]
    for data in nasty:
        for problem in check(data).problems:
            text = f"{problem.field} {problem.message}"
            for jargon in ("function-", "Input should", "pydantic", "dict_type", "model_type",
                           "[type=", "Sender", "Address"):
                assert jargon not in text, (data, text)


def test_problems_come_in_the_order_of_the_input():
    data = {
        "to": {"phone": "x", "name": "N" * 41, "lines": ["a"], "suburb": "S", "state": "VIC",
               "postcode": "3000"},
        "reason": "",
        "referenceNo": "R1",
        "from": {"name": "A", "lines": ["a"], "suburb": "S", "state": "NSW", "postcode": "2000",
                 "phone": "123456789"},
    }
    assert [p.field for p in check(data).problems] == ["to.phone", "to.name", "reason"]


def test_long_values_are_cut_short_in_messages():
    field, message = only_problem(with_field(("to", "state"), "Q" * 10_000))
    assert len(message) < 200


# -- suburb ↔ postcode against the user's list ---------------------------------------------------
@pytest.fixture
def index() -> PostcodeIndex:
    return PostcodeIndex("postcodes.csv", [
        ("Greenacre", "2190", "NSW"), ("Moorabbin Airport", "3194", "VIC"),
        ("Moorabbin", "3189", "VIC"), ("Cheltenham", "3192", "VIC"),
        ("Cheltenham", "2119", "NSW"),
    ])


def test_suburb_matching_its_postcode_passes_case_insensitively(index):
    data = with_field(("to", "suburb"), "  moorabbin   AIRPORT ")
    assert check(data, postcodes=index).problems == []


def test_suburb_at_another_postcode_names_the_right_one(index):
    data = with_field(("to", "suburb"), "Moorabbin")
    assert only_problem(data, postcodes=index) == (
        "to.suburb",
        '"Moorabbin" does not match postcode 3194: postcodes.csv has Moorabbin at 3189')


def test_suburb_with_several_postcodes_lists_them(index):
    data = with_field(("from", "suburb"), "cheltenham")
    message = only_problem(data, postcodes=index)[1]
    assert message.endswith("postcodes.csv has Cheltenham at 2119 or 3192")


def test_unknown_suburb_suggests_a_spelling(index):
    data = with_field(("from", "suburb"), "Greenacres")
    assert only_problem(data, postcodes=index) == (
        "from.suburb", '"Greenacres" is not a suburb in postcodes.csv (did you mean Greenacre?)')


def test_without_a_list_suburbs_are_not_checked():
    assert check(with_field(("from", "suburb"), "Nowhere")).problems == []


def test_load_postcodes_with_and_without_header(tmp_path):
    with_header = tmp_path / "a.csv"
    with_header.write_text("\ufeffState,Locality,Postcode\r\nNSW,Greenacre,2190\r\nNT,Darwin,800\r\n")
    index = load_postcodes(with_header)
    assert index.postcodes_for("GREENACRE") == ["2190"]
    assert index.postcodes_for("darwin") == ["0800"]  # a spreadsheet dropped the zero
    bare = tmp_path / "b.csv"
    bare.write_text("Greenacre,2190,NSW\n\n# comment\nFitzroy,3065,VIC\n")
    assert len(load_postcodes(bare)) == 2


@pytest.mark.parametrize("text, where, words", [
    ("suburb,postcode,state\nGreenacre,21900,NSW\n", ":2:", "not 4 digits"),
    ("Greenacre,2190,NSW\nFitzroy,3065,Victoria\n", ":2:", "state 'Victoria'"),
    ("Greenacre,2190,NSW\nFitzroy\n", ":2:", "found 1 column"),
    ("postcode,state\n2190,NSW\n", ":1:", "no suburb column"),
    ("", "", "no suburbs found"),
    ('Sydney,2000,NSW\nGreenacre,"2190\n', ":2:", "not valid CSV"),
])
def test_load_postcodes_errors_name_file_and_line(tmp_path, text, where, words):
    path = tmp_path / "postcodes.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_postcodes(path)
    assert f"{path}{where}" in str(error.value)
    assert words in str(error.value)


def test_load_postcodes_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read .*missing.csv"):
        load_postcodes(tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"Greenacre,2190,NSW\n\xff\xfe,1,2\n")
    with pytest.raises(ConfigError, match=r"bin.csv:2: not UTF-8"):
        load_postcodes(binary)


# -- properties -----------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
SMALL_LIST = PostcodeIndex("postcodes.csv", [("Greenacre", "2190", "NSW"), ("", "0800", None)])
address_values = json_values | st.sampled_from(
    ["NSW", "vic", "2190", "0800", "3194", 2190, "Greenacre", "greenacres", "", ["a"] * 4])
ADDRESS_KEYS = ["name", "lines", "state", "suburb", "postcode", "phone", "email", "emial"]
shaped = st.fixed_dictionaries(
    {},
    optional={
        "referenceNo": json_values, "reason": json_values, "msgType": json_values,
        "version": json_values, "username": json_values,
        "from": st.fixed_dictionaries({}, optional={k: address_values for k in ADDRESS_KEYS}),
        "to": st.fixed_dictionaries({}, optional={k: address_values for k in ADDRESS_KEYS})
        | json_values,
        "merchandise": st.lists(
            st.fixed_dictionaries({}, optional={k: json_values for k in
                                                ["quantity", "value", "weight", "sku", "qty"]})
            | json_values, max_size=3) | json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, shaped), st.booleans())
def test_check_never_raises_and_answers_consistently(data, with_list):
    checked = check(data, postcodes=SMALL_LIST if with_list else None)
    assert (checked.request is None) == bool(checked.problems)
    for problem in checked.problems:
        assert isinstance(problem.message, str) and problem.message
        assert all(isinstance(part, (str, int)) for part in problem.path)
    if checked.request is not None:
        json.dumps(checked.request, allow_nan=False)


def _postcode_in(state: str) -> st.SearchStrategy[str]:
    return st.sampled_from(STATE_RANGES[state]).flatmap(
        lambda span: st.integers(span[0], span[1]).map(lambda n: f"{n:04d}"))


# at most 40 characters as Java counts them (an emoji counts 2)
visible = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40) \
    .filter(str.strip).filter(lambda text: java_length(text) <= 40)
phones = st.from_regex(r"\+?[0-9 ()\-]{9,19}", fullmatch=True)
emails = st.builds("{}@{}.com.au".format, st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
                   st.from_regex(r"[a-z]{1,12}", fullmatch=True))


@st.composite
def addresses(draw, phone_required: bool) -> dict:
    state = draw(st.sampled_from(STATES))
    address = {
        "name": draw(visible),
        "lines": draw(st.lists(visible, min_size=1, max_size=3)),
        "suburb": draw(visible),
        "state": draw(st.sampled_from([state, state.lower(), state.title()])),
        "postcode": draw(_postcode_in(state)),
    }
    if phone_required or draw(st.booleans()):
        address["phone"] = draw(phones)
    if draw(st.booleans()):
        address["email"] = draw(emails)
    return address


quantities = st.integers(1, 10**6) | st.integers(1, 10**6).map(str)
decimals = (st.floats(0, 1e6, allow_nan=False) | st.integers(0, 10**6)
            | st.decimals(0, 10**6, places=2).map(str))
merchandise = st.fixed_dictionaries({}, optional={
    "sku": visible, "goodsName": visible, "quantity": quantities, "value": decimals,
    "weight": decimals, "length": decimals, "country_of_origin": visible,
})


@st.composite
def requests_(draw) -> dict:
    data = {
        "referenceNo": draw(visible),
        "reason": draw(visible),
        "from": draw(addresses(True)),
        "to": draw(addresses(False)),
    }
    if draw(st.booleans()):
        data["merchandise"] = draw(st.lists(merchandise, max_size=3))
    if draw(st.booleans()):
        data["msgType"] = "modifyShipment"
        data["username"] = draw(visible)
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_())
def test_valid_requests_have_no_problems_and_are_normalised(data):
    checked = check(data)
    assert checked.problems == []
    sent = checked.request
    assert sent["version"] == "1.6"
    assert not {"username", "digest", "msgType"} & set(sent)
    for side in ("from", "to"):
        assert sent[side]["state"] == data[side]["state"].upper()
        assert sent[side]["lines"] == data[side]["lines"]
    for given_entry, sent_entry in zip(
        [e for e in data.get("merchandise", []) if e], sent.get("merchandise", []), strict=True
    ):
        if "quantity" in given_entry:
            assert sent_entry["quantity"] == int(given_entry["quantity"])
        for key in ("value", "weight", "length"):
            if key in given_entry:
                assert isinstance(sent_entry[key], (int, Decimal))  # exact digits
                assert math.isclose(sent_entry[key], float(given_entry[key]))
    client.encode(sent)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(st.text(max_size=12), max_size=4), max_size=6).map(
        lambda rows: "\n".join(",".join(row) for row in rows).encode()),
))
def test_load_postcodes_reads_or_refuses_cleanly(tmp_path, data):
    from shipctl.errors import ConfigError

    path = tmp_path / "any.csv"
    path.write_bytes(data)
    try:
        index = load_postcodes(path)
    except ConfigError as error:
        assert "any.csv" in str(error)
    else:
        assert isinstance(index, PostcodeIndex)


@pytest.mark.parametrize("address, valid", [("a@example.com", True), ("a@b", False)])
def test_email_checked_with_an_email_validator_before_strict(monkeypatch, address, valid):
    """pyproject allows email-validator 2.1, whose validate_email has no ``strict`` (it came
    in 2.3): every address was refused ("not a valid email address"). Such a version
    applies the length limits always, so it is called without."""
    import email_validator

    real = email_validator.validate_email

    def validate_email(email, *, check_deliverability=None):  # 2.1's keywords, in short
        return real(email, check_deliverability=check_deliverability)

    monkeypatch.setattr(email_validator, "validate_email", validate_email)
    found = check(with_field(("to", "email"), address)).problems
    assert (found == []) is valid, found
