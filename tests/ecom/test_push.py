"""Every rule of the Ecom push (docs/ecom.md), table-driven: what check() says, where and how."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLES
from factories import ecom_push

from shipctl.ecom.models import KEYS, check, datetime_problem, looks_like_v2, sort_key


def test_keys_are_the_manuals_in_the_manuals_order():
    sample = (SAMPLES / "ecom" / "push.json").read_text()
    assert tuple(json.loads(sample)) == KEYS
    assert KEYS == ("awb", "datetime", "status", "reason_code", "reason_code_number",
                    "location", "Employee", "status_update_number", "order_number", "city",
                    "ref_awb")


def test_a_valid_push_has_no_problem():
    verdict = check(ecom_push())
    assert verdict.valid and verdict.problems == [] and verdict.warnings == []
    assert verdict.v2 is False


def _without(key: str) -> dict:
    data = ecom_push()
    del data[key]
    return data


def _renamed(old: str, new: str) -> dict:
    return {(new if k == old else k): v for k, v in ecom_push().items()}


# (payload, field, words in the message) for each error
ERRORS = [
    (_without("awb"), "awb", "missing"),
    (_without("Employee"), "Employee", "missing"),
    (_without("ref_awb"), "ref_awb", "it may be empty"),
    (_renamed("Employee", "employee"), "employee",
     'did you mean "Employee"? (keys are case-sensitive)'),
    (_renamed("reason_code", "reason_cod"), "reason_cod", 'did you mean "reason_code"?'),
    (_renamed("awb", "AWB"), "AWB", 'did you mean "awb"?'),
    (ecom_push(awb=""), "awb", "must not be empty"),
    (ecom_push(awb="   "), "awb", "must not be empty"),
    (ecom_push(when="2024-03-05T14:07:09"), "datetime", "not T"),
    (ecom_push(when="2024-03-05 14:07:09+05:30"), "datetime", "no time zone"),
    (ecom_push(when="2024-03-05 9:07:09"), "datetime", "must be YYYY-mm-dd HH:MM:SS"),
    (ecom_push(when="YYYY-mm-dd H:M:S"), "datetime", "must be YYYY-mm-dd HH:MM:SS"),
    (ecom_push(when="2024-02-30 10:00:00"), "datetime", "is not a real date and time"),
    (ecom_push(when="2023-02-29 10:00:00"), "datetime", "is not a real date and time"),
    (ecom_push(when="2024-03-05 24:00:00"), "datetime", "is not a real date and time"),
    # full-width digits
    (ecom_push(when="２０２４-03-05 14:07:09"), "datetime", "must be YYYY-mm-dd"),
    (ecom_push(reason_code="RTS - Return To Shipper"), "reason_code",
     'must start with the reason_code_number and " - "'),
    (ecom_push(reason_code="777-RTS"), "reason_code", '("777 - …")'),
    (ecom_push(reason_code="7777 - x"), "reason_code", 'found "7777 - x"'),
    (ecom_push(reason_code_number=""), "reason_code_number", "must not be empty"),
    (ecom_push(number="4459-1782"), "status_update_number", "must be digits only"),
    (ecom_push(number=""), "status_update_number", "must be digits only"),
    (ecom_push(number="٤٤٥"), "status_update_number", "must be digits only"),  # Arabic-Indic digits
    (ecom_push(number="1.5"), "status_update_number", "must be digits only"),
    (ecom_push(status=None), "status", "must be a string, found null"),
    (ecom_push(city=["Pune"]), "city", "must be a string, found a list"),
    (ecom_push(location={"code": "JRD"}), "location", "must be a string, found an object"),
    (ecom_push(Employee=True), "Employee", "must be a string, found true"),
]


@pytest.mark.parametrize(("data", "field", "words"), ERRORS)
def test_each_error(data, field, words):
    verdict = check(data)
    assert not verdict.valid
    matching = [p for p in verdict.problems if p.field == field]
    assert matching, verdict.problems
    assert words in matching[0].message
    if field in data:  # a key that is there points at its own line
        assert matching[0].path == (field,)


# (payload, field, words) for each warning of a payload that is still valid
WARNINGS = [
    (ecom_push(extra_key="x"), "extra_key", 'unknown key "extra_key": not part of Ecom\'s push'),
    (ecom_push(awb="AWB_NUMBER"), "awb", "digits only"),
    (ecom_push(number=44591782), "status_update_number", 'write it as "44591782"'),
    (ecom_push(awb=8012345671), "awb", 'write it as "8012345671"'),
    (ecom_push(ref_awb=None), "ref_awb", 'write "" for no return AWB'),
    (ecom_push(code="4242"), "reason_code_number", "is not a reason code shipctl knows"),
]


@pytest.mark.parametrize(("data", "field", "words"), WARNINGS)
def test_each_warning_leaves_the_push_valid(data, field, words):
    verdict = check(data)
    assert verdict.valid, verdict.problems
    assert [p.field for p in verdict.warnings] == [field]
    assert words in verdict.warnings[0].message


@pytest.mark.parametrize("code", ["777", "001", "0011", "1230", "219", "233", "77", "999",
                                  "23101", "88802", "33306"])
def test_known_codes_are_not_warned_about(code):
    assert check(ecom_push(code=code)).warnings == []


@pytest.mark.parametrize("code", ["778", "208", "234", "0", "12345", "2310", "55555"])
def test_unknown_codes_are_only_a_warning(code):
    verdict = check(ecom_push(code=code))
    assert verdict.valid
    assert [p.field for p in verdict.warnings] == ["reason_code_number"]
    assert "ecom codes" in verdict.warnings[0].message


def test_ref_awb_may_be_empty_or_set():
    assert check(ecom_push(ref_awb="")).valid
    assert check(ecom_push(ref_awb="9023456781")).valid


def test_two_spellings_of_one_key_hint_once():
    data = _renamed("Employee", "employee")
    data["EMPLOYEE"] = "x"
    verdict = check(data)
    assert [p.field for p in verdict.problems] == ["employee"]
    assert [p.field for p in verdict.warnings] == ["EMPLOYEE"]


def test_an_empty_object_lists_each_missing_key():
    verdict = check({})
    assert [p.field for p in verdict.problems] == list(KEYS)


@pytest.mark.parametrize("data", [[], "push", 7, None, [ecom_push()]])
def test_not_an_object(data):
    verdict = check(data)
    assert not verdict.valid
    assert len(verdict.problems) == 1 and verdict.problems[0].field == ""
    assert "expected a JSON object" in verdict.problems[0].message


def test_v2_push_gets_one_clear_message():
    v2 = {"awb": "8012345671", "date_time": "2024-03-05T14:07:09", "status_code": "777",
          "order_id": "O-1", "shipment_type": "forward", "employee_name": "x"}
    verdict = check(v2)
    assert verdict.v2 and not verdict.valid
    assert len(verdict.problems) == 1
    assert "v2 push" in verdict.problems[0].message
    assert "x-webhook-version: 2.0" in verdict.problems[0].message
    assert looks_like_v2(v2)


def test_a_v1_push_with_a_stray_v2_key_is_still_v1():
    data = ecom_push(order_id="O-1")
    verdict = check(data)
    assert not verdict.v2 and verdict.valid
    assert [p.field for p in verdict.warnings] == ["order_id"]


def test_long_values_are_cut_short_in_messages():
    verdict = check(ecom_push(number="x" * 100_000, awb="\n" * 3 + "y" * 5000))
    for problem in verdict.problems + verdict.warnings:
        assert len(problem.message) < 300
        assert "\n" not in problem.message


@pytest.mark.parametrize(("text", "ok"), [
    ("2024-03-05 14:07:09", True), ("2000-02-29 23:59:59", True), ("2024-3-05 14:07:09", False),
    ("2024-03-05 14:07", False), (" 2024-03-05 14:07:09", False), ("2024-03-05 14:07:60", False),
])
def test_datetime_rule(text, ok):
    assert (datetime_problem(text) is None) is ok


def test_sort_key_is_time_then_number():
    scans = [ecom_push(number="100", when="2024-03-02 00:00:00"),
             ecom_push(number="20", when="2024-03-01 00:00:00"),
             ecom_push(number="9", when="2024-03-01 00:00:00"),
             ecom_push(number="0010", when="2024-03-01 00:00:00")]
    ordered = sorted(scans, key=sort_key)
    assert [s["status_update_number"] for s in ordered] == ["9", "0010", "20", "100"]
    # never raises, whatever it is given
    assert sort_key([1]) and sort_key({"datetime": 5, "status_update_number": True})
    assert sort_key({"status_update_number": "9" * 10_000})


def test_problems_come_in_the_order_of_their_keys():
    data = {"status_update_number": "x", "employee": "E",
            **{k: v for k, v in ecom_push(when="bad").items()
               if k not in ("status_update_number", "Employee", "city")}}
    verdict = check(data)
    assert [p.field for p in verdict.problems] == ["status_update_number", "employee", "datetime",
                                                 "city"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_number_json_cannot_carry_is_an_error(value):
    verdict = check(ecom_push(city=value))
    assert not verdict.valid
    assert [p.field for p in verdict.problems] == ["city"]
    assert "is not a number JSON can carry" in verdict.problems[0].message


def test_a_lone_surrogate_is_an_error_not_a_crash():
    verdict = check(ecom_push(awb="80123\ud800"))
    assert [p.field for p in verdict.problems] == ["awb"]
    assert "lone UTF-16 surrogate" in verdict.problems[0].message
