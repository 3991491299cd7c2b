"""`shipctl ewe validate` through the real CLI: verdict lines with file:line locations, the JSON
document, exit codes 0/1/2, stdin, the postcode list, and every EWE sample payload."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES
from factories import ewe_request

EWE = SAMPLES / "ewe"
POSTCODES = Path(__file__).parent.parent / "data" / "ewe" / "postcodes.csv"
PHONE_RULE = "must be 9–20 characters of digits, spaces, -, ( ) and an optional leading +"
NOTE = ("warning: suburbs were not checked against their postcodes (EWE refuses a mismatch with"
        " code 10); to check them, shipctl config set ewe.postcodes FILE (a CSV of"
        " suburb,postcode,state)\n")


def verdicts(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("VALID", "INVALID"))]


def count_items(path) -> int:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    if path.suffix == ".csv":
        return len(text.splitlines()) - 1
    if path.suffix == ".json":
        return 1
    return len(re.findall(r"^referenceNo:", text, flags=re.M))


# -- the valid samples ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["modify.yaml", "modify.json", "bulk.jsonl", "bulk.csv"])
@pytest.mark.parametrize("with_postcodes", [False, True], ids=["offline", "postcodes"])
def test_valid_samples_validate_clean(cli, monkeypatch, name, with_postcodes):
    if with_postcodes:  # the samples' suburbs and postcodes really match
        monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(POSTCODES))
    path = EWE / name
    result = cli("ewe", "validate", path)
    assert result.code == 0, result.all
    items = count_items(path)
    assert items >= (5 if name.startswith("bulk") else 1)
    lines = verdicts(result.out)
    assert len(lines) == items
    assert all(line.startswith(f"VALID   {path}:") for line in lines)
    assert result.out.splitlines()[-1] == (
        f"{items} item{'s' if items > 1 else ''}: {items} valid, 0 invalid")
    # without ewe.postcodes, one line says the suburbs were not checked
    assert result.err == ("" if with_postcodes else NOTE)


def test_bulk_lines_name_the_source_line_and_reference(cli):
    result = cli("ewe", "validate", EWE / "bulk.jsonl")
    lines = verdicts(result.out)
    references = [json.loads(line)["referenceNo"]
                  for line in (EWE / "bulk.jsonl").read_text().splitlines()]
    assert len(set(references)) == len(references)
    assert lines == [f"VALID   {EWE / 'bulk.jsonl'}:{n} item {n}  {ref}"
                     for n, ref in enumerate(references, 1)]
    csv_lines = verdicts(cli("ewe", "validate", EWE / "bulk.csv").out)
    assert csv_lines[0] == f"VALID   {EWE / 'bulk.csv'}:2 item 1  EWE-CSV-0001"


def test_bulk_samples_cover_several_states(cli):
    states = set()
    for line in (EWE / "bulk.jsonl").read_text().splitlines():
        states.add(json.loads(line)["to"]["state"])
    assert len(states) >= 5
    assert len({row.split(",")[12] for row in (EWE / "bulk.csv").read_text().splitlines()[1:]}) >= 5


def test_the_sample_directory_holds_exactly_the_samples(cli):
    valid = sum(count_items(EWE / name)
                for name in ("modify.yaml", "modify.json", "bulk.jsonl", "bulk.csv"))
    result = cli("ewe", "validate", EWE)
    assert result.code == 1
    assert result.out.splitlines()[-1] == f"{valid + 4} items: {valid} valid, 4 invalid"
    invalid_files = {line.split()[1].split(":")[0] for line in verdicts(result.out)
                     if line.startswith("INVALID")}
    assert invalid_files == {str(EWE / "invalid.yaml")}


# -- the invalid sample ---------------------------------------------------------------------------
def line_of(text: str, *markers: str) -> int:
    """1-based line of the last marker, each searched after the previous one."""
    lines = text.splitlines()
    at = 0
    for marker in markers:
        at = next(n for n in range(at, len(lines)) if marker in lines[n])
    return at + 1


def test_invalid_sample_reports_each_problem_where_it_is(cli):
    path = EWE / "invalid.yaml"
    text = path.read_text(encoding="utf-8")
    result = cli("ewe", "validate", path)
    assert result.code == 1, result.all

    headers = {}
    for line in verdicts(result.out):
        match = re.fullmatch(rf"INVALID {re.escape(str(path))}:(\d+) item (\d)  (EWE-BAD-000\d)",
                             line)
        assert match, line
        headers[int(match[2])] = int(match[1])
        assert match[3] == f"EWE-BAD-000{match[2]}"
    assert sorted(headers) == [1, 2, 3, 4]

    expected = [
        (1, line_of(text, "phone: 0491 570 15x"), "from.phone",
         f'{PHONE_RULE} ("x" is not allowed there)'),
        (1, line_of(text, "name: Commonwealth"), "to.name", "at most 40 characters (it has 60)"),
        # item 2's postcode of another state's range is a warning, not a problem
        (2, line_of(text, 'phone: "---------"'), "to.phone",
         f"{PHONE_RULE}, and a phone number needs digits (it has none)"),
        (2, line_of(text, "emial:"), "to.emial", "unknown field (did you mean email?)"),
        (3, line_of(text, "EWE-BAD-0003", "to:", "lines:"), "to.lines",
         "at most 3 address lines (it has 4)"),
        (3, line_of(text, "quantity: 0"), "merchandise.0.quantity",
         "must be a positive whole number, at least 1 (it is 0)"),
        (4, line_of(text, "state: New South Wales"), "from.state",
         '"New South Wales" is not a state: use one of NSW, VIC, QLD, SA, WA, TAS, NT, ACT'
         " (did you mean NSW?)"),
        (4, line_of(text, "+61 8 5550 1234 ext 5"), "to.phone",
         f"{PHONE_RULE} (it has 21 characters)"),
        (4, line_of(text, "sam.kowalski@example"), "to.email",
         "not a valid email address: The part after the @-sign is not valid."
         " It should have a period."),
        (4, headers[4], "reason", "required, but missing"),  # missing: the item's own line
    ]
    problem_lines = [line for line in result.out.splitlines() if line.startswith("  ")]
    assert problem_lines == [f"  {path}:{line} item {item} {field}: {message}"
                             for item, line, field, message in expected]
    assert result.out.splitlines()[-1] == "4 items: 0 valid, 4 invalid"


def test_json_output_is_one_document(cli):
    path = EWE / "invalid.yaml"
    text_result = cli("ewe", "validate", path)
    result = cli("ewe", "validate", "-o", "json", path)
    assert result.code == 1
    document = json.loads(result.out)
    assert document["summary"] == {"total": 4, "items": 4, "valid": 0, "invalid": 4,
                                   "exit_code": 1}
    assert [r["index"] for r in document["results"]] == [1, 2, 3, 4]
    first = document["results"][0]
    assert set(first) == {"where", "label", "status", "file", "line", "index", "reference_no",
                          "valid", "errors", "warnings"}
    assert first["file"] == str(path) and first["reference_no"] == "EWE-BAD-0001"
    assert first["valid"] is False
    assert set(first["errors"][0]) == {"field", "line", "message"}
    # the same problems and lines as the text output
    as_text = [f"  {path}:{e['line']} item {r['index']} {e['field']}: {e['message']}"
               for r in document["results"] for e in r["errors"]]
    assert as_text == [line for line in text_result.out.splitlines() if line.startswith("  ")]

    valid = json.loads(cli("ewe", "validate", "-o", "json", EWE / "bulk.jsonl").out)
    assert valid["summary"] == {"total": 6, "items": 6, "valid": 6, "invalid": 0,
                                "exit_code": 0}
    assert all(r["valid"] and r["errors"] == [] for r in valid["results"])
    assert [r["line"] for r in valid["results"]] == [1, 2, 3, 4, 5, 6]


# -- stdin, mixtures, unreadable input ------------------------------------------------------------
def test_stdin(cli):
    result = cli("ewe", "validate", "-", input=json.dumps(ewe_request()))
    assert result.code == 0, result.all
    assert verdicts(result.out) == ["VALID   <stdin>:1 item 1  TEST08030001"]

    # `to` without a phone, so the one set here is its last key (no comma after it)
    bad = ewe_request(to={"name": "MELBOURNE DC", "lines": ["6 Chifley Drive"],
                          "suburb": "Moorabbin Airport", "state": "VIC", "postcode": "3194"})
    bad["to"]["phone"] = "12"
    pasted = json.dumps(bad, indent=2)
    result = cli("ewe", "validate", "-", input=pasted)
    assert result.code == 1
    line = pasted.splitlines().index('    "phone": "12"') + 1
    assert f"  <stdin>:{line} item 1 to.phone: {PHONE_RULE} (it has 2 characters)" in result.out


def test_one_invalid_item_among_valid_ones_exits_1(cli, tmp_path):
    bad = ewe_request(referenceNo="R2")
    bad["from"]["lines"] = []
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [ewe_request(referenceNo="R1"), bad,
                                                     ewe_request(referenceNo="R3")]) + "\n")
    result = cli("ewe", "validate", path)
    assert result.code == 1
    assert verdicts(result.out) == [f"VALID   {path}:1 item 1  R1", f"INVALID {path}:2 item 2  R2",
                                    f"VALID   {path}:3 item 3  R3"]
    assert f"  {path}:2 item 2 from.lines: needs at least 1 address line (at most 3)" in result.out
    assert result.out.splitlines()[-1] == "3 items: 2 valid, 1 invalid"


def test_non_object_item_is_unreadable_input(cli, tmp_path):
    # the reader refuses a list entry that is not an object (exit 2) after the items before it
    path = tmp_path / "list.json"
    path.write_text(json.dumps([ewe_request(), "not a request"]))
    result = cli("ewe", "validate", path)
    assert result.code == 2
    assert verdicts(result.out) == [f"VALID   {path}:1 item 1  TEST08030001"]
    assert result.err.removeprefix(NOTE).startswith(f"error: {path}")
    assert "item 2" in result.err


@pytest.mark.parametrize("content", [None, '{"referenceNo": "R1", "reason": }'])
def test_unreadable_input_exits_2(cli, tmp_path, content):
    path = tmp_path / "ticket.json"
    if content is not None:
        path.write_text(content)
    result = cli("ewe", "validate", path)
    assert result.code == 2
    assert result.err.startswith("error: ")
    assert "ticket.json" in result.err
    assert "Traceback" not in result.all


def test_pasted_documented_example_is_read_leniently_and_only_reason_is_missing(cli):
    # EWE's documented request example (docs/ewe.md) as pasted: trailing commas, envelope keys,
    # no reason
    result = cli("ewe", "validate", "-", input=EWE_EXAMPLE)
    assert result.code == 1, result.all
    problems = [line for line in result.out.splitlines() if line.startswith("  ")]
    assert problems == ["  <stdin>:1 item 1 reason: required, but missing"]
    assert "warning:" in result.err
    assert "warning" not in result.out


def test_envelope_digest_is_never_printed(cli, tmp_path):
    digest = "oNCmEhRuYMf62nPzLxGrjA=="
    bad = ewe_request(username="test", digest=digest, msgType="modifyShipment")
    bad["to"]["postcode"] = "999"
    path = tmp_path / "with-digest.json"
    path.write_text(json.dumps(bad))
    for args in ([], ["-o", "json"]):
        result = cli("ewe", "validate", *args, path)
        assert result.code == 1
        assert digest not in result.all


# -- the postcode list ----------------------------------------------------------------------------
def test_suburb_checked_against_the_configured_list(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(POSTCODES))
    bad = ewe_request()
    bad["to"]["suburb"] = "fitzroy"
    path = tmp_path / "moved.json"
    path.write_text(json.dumps(bad, indent=2))
    result = cli("ewe", "validate", path)
    assert result.code == 1
    line = json.dumps(bad, indent=2).splitlines().index('    "suburb": "fitzroy",') + 1
    assert (f'  {path}:{line} item 1 to.suburb: "fitzroy" does not match postcode 3194:'
            " postcodes.csv has Fitzroy at 3065") in result.out
    monkeypatch.delenv("SHIPCTL_EWE_POSTCODES")
    assert cli("ewe", "validate", path).code == 0  # not checked without the list


def test_postcode_list_from_the_config_file(cli, tmp_path):
    shutil.copy(POSTCODES, tmp_path / "places.csv")
    config = tmp_path / "config.toml"
    config.write_text('[profiles.default.ewe]\npostcodes = "places.csv"\n')
    bad = ewe_request()
    bad["from"]["suburb"] = "Greenacres"
    result = cli("--config", config, "ewe", "validate", "-", input=json.dumps(bad))
    assert result.code == 1, result.all
    assert ('from.suburb: "Greenacres" is not a suburb in places.csv (did you mean Greenacre?)'
            in result.out)


def test_broken_postcode_list_exits_2_naming_file_and_line(cli, monkeypatch, tmp_path):
    broken = tmp_path / "postcodes.csv"
    broken.write_text("suburb,postcode,state\nGreenacre,2190,NSW\nFitzroy,30650,VIC\n")
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(broken))
    result = cli("ewe", "validate", EWE / "modify.json")
    assert result.code == 2
    assert f"{broken}:3: postcode '30650' is not 4 digits" in result.err
    assert result.out == ""


def test_says_once_that_suburbs_were_not_checked(cli, monkeypatch):
    # once per run, -v or not; --quiet silences it
    for verbose in ([], ["-v"]):
        result = cli("ewe", "validate", *verbose, EWE / "bulk.jsonl", EWE / "modify.yaml")
        assert result.code == 0
        assert result.err == NOTE
    assert cli("--quiet", "ewe", "validate", EWE / "bulk.jsonl").err == ""
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(POSTCODES))
    assert cli("ewe", "validate", "-v", EWE / "bulk.jsonl").err == ""


EWE_EXAMPLE = """{
"username": "DUMMY",
"digest": "xxxxxxxxxxxxx",
"msgType": "modifyShipment",
"version": "1.6",
"articleId": "ABC20000000220008833",
"referenceNo": "TEST08030001",
"from": {
"name": "Dummy Duck",
"phone": "61407000000",
"suburb": "Greenacre",
"state": "NSW",
"lines": [
" 457 Waterloo Road"
],
"postcode": "2190"
},
"to": {
"name": "MELBOURNE DC",
"phone": "0284886811",
"suburb": "Moorabbin Airport",
"state": "VIC",
"email": "123456@gmail.com",
"lines": [
"6 Chifley Drive"
],
"postcode": "3194",
},
"merchandise": [
{
"sku": "NG0000X1",
"barcode": "9999999999",
"goodsName": "T-shirt",
"goodsNameCn": "T-shirt",
"description": "garment",
"quantity": "1",
"weight": 1,
"value": 10.99,
},
{
"sku": "NG0000X2",
"barcode": "9999999998",
"goodsName": "Hat",
"goodsNameCn": "Hat",
"description": "garment",
"quantity": "1",
"weight": 1,
"value": 20.99,
}
]
}
"""


def test_a_carried_msg_type_is_a_warning_not_an_error(cli, tmp_path):
    path = tmp_path / "typed.json"
    path.write_text(json.dumps(ewe_request(msgType="cancelShipment")))
    result = cli("ewe", "validate", path)
    assert result.code == 0, result.all
    assert "typed.json:1 item 1 msgType: 'cancelShipment' is replaced by 'modifyShipment'" in (
        result.err)


def test_a_huge_reference_is_shortened_on_screen(cli, tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(ewe_request(referenceNo="R" * 100_000, reason="")))
    result = cli("ewe", "validate", path)
    assert result.code == 1
    assert len(result.out) < 2_000
    assert "R" * 79 + "…" in result.out
