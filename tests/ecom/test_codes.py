"""`shipctl ecom codes`: the reason-code table of docs/ecom.md, greppable and as JSON."""

from __future__ import annotations

import json

from shipctl.ecom.codes import CODES, TABLE, is_known, meaning


def test_one_code_per_line_greppable(cli):
    result = cli("ecom", "codes")
    assert result.code == 0, result.all
    lines = result.out.splitlines()
    assert lines[0] == "code\tmeaning"
    assert "777\tRTS: return to shipper (return initiated, not yet returned)" in lines
    assert "999\tDelivered" in lines
    assert "0011\tField pickup done / shipment picked up" in lines
    assert "219\tUndelivered: consignee not available" in lines
    assert len(lines) == 1 + len(TABLE)
    assert [line for line in lines if "RTO lock" in line] == ["77\tRTO lock",
                                                              "80\tRTO lock revoked"]


def test_json(cli):
    result = cli("ecom", "codes", "-o", "json")
    assert result.code == 0, result.all
    codes = json.loads(result.out)["codes"]
    assert {"code": "888", "meaning": "Shipment destroyed / abandoned"} in codes
    assert len(codes) == len(TABLE) == len(CODES)  # every code once


def test_the_whole_undelivered_range_and_the_reference_rows():
    for n in range(209, 234):
        assert str(n) in CODES
    for code in ("001", "0011", "002", "003", "004", "005", "006", "014", "100", "124", "127",
                 "1210", "1220", "1230", "200", "201", "204", "303", "331", "332", "333", "77",
                 "80", "82", "83", "777", "888", "999"):
        assert code in CODES, code
    assert "208" not in CODES and "234" not in CODES


def test_leading_zeros_matter_and_subcodes_are_known():
    assert is_known("001") and not is_known("1")
    assert meaning("23101") == "Undelivered (sub-code of 231)"
    assert is_known("88802") and is_known("33306")
    assert not is_known("2310") and not is_known("12345") and not is_known("")
    assert not is_known("７７７")  # full-width digits are not Ecom's
