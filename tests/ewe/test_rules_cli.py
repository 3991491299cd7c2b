"""EWE's rules exactly as its "Modify Shipment" API documentation (docs/ewe.md) states them,
through the CLI.

Each case is one change to a valid request, run through `shipctl ewe validate -o json` and
`shipctl ewe modify --dry-run` (sandbox settings; nothing is sent): either it is refused (exit
1, the problem named), or warned about (exit 0, the warning in the record and on stderr, the
request built), or plainly fine. Refuse only what the document says is wrong; warn where it is
unsure or where our own data (the postcode ranges) may be wrong.
"""

from __future__ import annotations

import json

import pytest
import requests
from factories import ewe_request

NOTE = ("warning: suburbs were not checked against their postcodes (EWE refuses a mismatch with"
        " code 10); to check them, shipctl config set ewe.postcodes FILE (a CSV of"
        " suburb,postcode,state)\n")
PHONE_RULE = "must be 9–20 characters of digits, spaces, -, ( ) and an optional leading +"
BOTH_ROWS = ('EWE: referenceNo "Required | The order reference number"; articleId '
             '"Optional | articleId (articleId or referenceNo not null"')


def changed(changes: dict) -> dict:
    """ewe_request() with dotted paths set (None: removed): {"to.postcode": "2620"}."""
    data = ewe_request()
    for dotted, value in changes.items():
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        node = data
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


def address(suburb: str, state: str, postcode: str) -> dict:
    return {"to.suburb": suburb, "to.state": state, "to.postcode": postcode}


# (id, changes, verdict, field, words in the message)
# The cross-border localities: Hume and Oaks Estate are ACT suburbs with postcode 2620
# (Wikipedia, "Hume, Australian Capital Territory" and "Oaks Estate, Australian Capital
# Territory": "Postcode(s) 2620"), inside NSW's usual range. The others are the issue's;
# the rule (a warning, never a refusal) holds whichever state they really are in.
CASES = [
    # 1. state ↔ postcode ranges: a warning naming the usual state
    ("hume-act-2620", address("Hume", "ACT", "2620"), "warned", "to.postcode",
     "2620 is usually a NSW postcode, not ACT (ACT: 0200–0299, 2600–2618, 2900–2920); "
     "not refused: some localities lie across a state border (set ewe.postcodes to check "
     "exactly)"),
    ("oaks-estate-act-2620", address("Oaks Estate", "ACT", "2620"), "warned", "to.postcode",
     "2620 is usually a NSW postcode, not ACT"),
    ("barooga-nsw-3644", address("Barooga", "NSW", "3644"), "warned", "to.postcode",
     "3644 is usually a VIC postcode, not NSW"),
    ("jennings-nsw-4383", address("Jennings", "NSW", "4383"), "warned", "to.postcode",
     "4383 is usually a QLD postcode, not NSW"),
    ("sa-0872", address("Pipalyatjara", "SA", "0872"), "warned", "to.postcode",
     "0872 is usually a NT postcode, not SA"),
    ("wa-0872", address("Wingellina", "WA", "0872"), "warned", "to.postcode",
     "0872 is usually a NT postcode, not WA"),
    ("jervis-bay-2540", address("Jervis Bay", "ACT", "2540"), "warned", "to.postcode",
     "2540 is usually a NSW postcode, not ACT"),
    ("unallocated-0100", address("Nowhere", "NT", "0100"), "warned", "to.postcode",
     "0100 is outside every state's usual range (NT: 0800–0999)"),
    ("in-range", address("Moorabbin Airport", "VIC", "3194"), "ok", None, None),
    # 3. articleId or referenceNo
    ("article-id-only", {"referenceNo": None}, "warned", "referenceNo",
     f"not given: sent with articleId only ({BOTH_ROWS})"),
    ("empty-reference-with-article-id", {"referenceNo": ""}, "warned", "referenceNo",
     "not given: sent with articleId only"),
    ("neither", {"referenceNo": None, "articleId": None}, "refused", "referenceNo",
     'required, but missing (or give articleId: EWE says "articleId or referenceNo not '
     'null")'),
    ("neither-both-empty", {"referenceNo": "", "articleId": " "}, "refused", "referenceNo",
     "required, but empty (or give articleId"),
    # 4. what Java can read: quantity an int
    ("quantity-max", {"merchandise.0.quantity": 2147483647}, "ok", None, None),
    ("quantity-max-text", {"merchandise.0.quantity": "2147483647"}, "ok", None, None),
    ("quantity-over", {"merchandise.0.quantity": 2147483648}, "refused",
     "merchandise.0.quantity",
     "at most 2147483647 (it is 2147483648): EWE reads quantity as a Java int"),
    ("quantity-over-text", {"merchandise.0.quantity": "2147483648"}, "refused",
     "merchandise.0.quantity", "at most 2147483647 (it is 2147483648)"),
    # lengths in UTF-16 code units, as Java's String.length() counts
    ("name-40-ascii", {"to.name": "N" * 40}, "ok", None, None),
    ("name-20-emoji", {"to.name": "📦" * 20}, "ok", None, None),
    ("name-40-emoji", {"to.name": "📦" * 40}, "refused", "to.name",
     "at most 40 characters (it has 80 as Java counts: each character beyond U+FFFF, such as "
     "an emoji, is 2)"),
    ("line-21-emoji", {"to.lines": ["📦" * 21]}, "refused", "to.lines.0",
     "at most 40 characters (it has 42 as Java counts"),
    ("line-40-cjk", {"to.lines": ["路" * 40]}, "ok", None, None),
    ("phone-11-emoji", {"to.phone": "📦" * 10 + "1"}, "refused", "to.phone",
     f"{PHONE_RULE} (it has 21 characters as Java counts"),
    # a phone needs digits
    ("phone-dashes", {"to.phone": "---------"}, "refused", "to.phone",
     f"{PHONE_RULE}, and a phone number needs digits (it has none)"),
    ("phone-brackets", {"from.phone": "( )( )( )"}, "refused", "from.phone",
     f"{PHONE_RULE}, and a phone number needs digits"),
    ("phone-documented-example", {"to.phone": "+61 (3) 7010 4321"}, "ok", None, None),
    # 5. "Could be 1.6": warn
    ("version-2.0", {"version": "2.0"}, "warned", "version",
     '"2.0" is not refused, but EWE says version "Could be 1.6"'),
    ("version-abc", {"version": "abc"}, "warned", "version", '"abc" is not refused'),
    ("version-1.6", {"version": "1.6"}, "ok", None, None),
    # e-mail: strict (at most 64 characters before the @); non-ASCII is a warning
    ("email-local-64", {"to.email": "a" * 64 + "@example.com"}, "ok", None, None),
    ("email-local-65", {"to.email": "a" * 65 + "@example.com"}, "refused", "to.email",
     "not a valid email address: The email address is too long before the @-sign "
     "(1 character too many)."),
    ("email-non-ascii-local", {"to.email": "jörg@example.com"}, "warned", "to.email",
     '"jörg@example.com" has characters beyond ASCII: not refused, but EWE\'s side may not '
     "accept an internationalised address"),
    ("email-non-ascii-domain", {"from.email": "info@bücher.example"}, "warned", "from.email",
     '"info@bücher.example" has characters beyond ASCII'),
]


@pytest.fixture
def item(tmp_path):
    def write(data: dict) -> str:
        path = tmp_path / "item.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return str(path)

    return write


@pytest.mark.parametrize("name, changes, verdict, field, words", CASES,
                         ids=[case[0] for case in CASES])
def test_validate_json(cli, item, name, changes, verdict, field, words):
    result = cli("ewe", "validate", "-o", "json", item(changed(changes)))
    [record] = json.loads(result.out)["results"]
    errors = [f"{e['field']}: {e['message']}" for e in record["errors"]]
    if verdict == "refused":
        assert result.code == 1, result.all
        assert record["status"] == "invalid"
        assert [e for e in errors if e.startswith(f"{field}: {words}")], errors
    else:
        assert result.code == 0, result.all
        assert record["status"] == "valid" and errors == []
    if verdict == "warned":
        assert [w for w in record["warnings"] if w.startswith(f"{field}: {words}")], record
        assert f" {field}: {words}" in result.err  # said on stderr too, where it is
    elif verdict == "ok":
        assert record["warnings"] == []


@pytest.mark.parametrize("name, changes, verdict, field, words", CASES,
                         ids=[case[0] for case in CASES])
def test_modify_dry_run(cli, sandbox, item, name, changes, verdict, field, words):
    server = sandbox()
    data = changed(changes)
    result = cli("ewe", "modify", item(data), "--dry-run")
    if verdict == "refused":
        assert result.code == 1, result.all
        assert f" {field}: {words}" in result.err
        assert "POST " not in result.out
        return
    assert result.code == 0, result.all
    body = json.loads(result.out.split("\n\n")[1])
    label = data.get("referenceNo") or data["articleId"]
    assert result.out.splitlines()[0].endswith(f"  {label}")  # the heading names the order
    assert (body.get("referenceNo"), body["articleId"]) == (
        data.get("referenceNo") or None, data["articleId"])
    assert body["to"]["name"] == data["to"]["name"]  # text sent as it is, emoji and all
    if verdict == "warned":
        assert f" {field}: {words}" in result.err
    else:
        assert "item.json:" not in result.err  # no warning about the item
    assert requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()["ewe"][
        "applied"] == {}


# -- the user's list decides exactly --------------------------------------------------------
# Hume and Oaks Estate: see CASES. Borderton is synthetic: one suburb name at one postcode in
# two states, as a list may have it. Twotown: synthetic, a postcode shared by two suburbs.
POSTCODES_CSV = """\
suburb,postcode,state
Hume,2620,ACT
Oaks Estate,2620,ACT
Borderton,2620,NSW
Borderton,2620,ACT
Twotown,3644,NSW
Othertown,3644,VIC
Greenacre,2190,NSW
Moorabbin Airport,3194,VIC
"""
LIST_CASES = [
    ("hume-act", address("Hume", "ACT", "2620"), None),
    ("oaks-estate-act", address("Oaks Estate", "ACT", "2620"), None),
    ("hume-nsw", address("Hume", "NSW", "2620"),
     "to.state: NSW does not match Hume 2620: postcodes.csv has it in ACT"),
    ("borderton-nsw", address("Borderton", "NSW", "2620"), None),
    ("borderton-act", address("borderton", "act", "2620"), None),
    ("borderton-vic", address("Borderton", "VIC", "2620"),
     "to.state: VIC does not match Borderton 2620: postcodes.csv has it in ACT and NSW"),
    ("twotown-nsw-3644", address("Twotown", "NSW", "3644"), None),
    ("othertown-vic-3644", address("Othertown", "VIC", "3644"), None),
    ("twotown-vic", address("Twotown", "VIC", "3644"),
     "to.state: VIC does not match Twotown 3644: postcodes.csv has it in NSW"),
    ("hume-wrong-postcode", address("Hume", "ACT", "2600"),
     'to.suburb: "Hume" does not match postcode 2600: postcodes.csv has Hume at 2620'),
    ("unknown-suburb", address("Humee", "ACT", "2620"),
     'to.suburb: "Humee" is not a suburb in postcodes.csv (did you mean Hume?)'),
]


@pytest.mark.parametrize("name, changes, error", LIST_CASES, ids=[c[0] for c in LIST_CASES])
def test_the_postcode_list_decides_exactly(cli, monkeypatch, tmp_path, item, name, changes,
                                           error):
    (tmp_path / "postcodes.csv").write_text(POSTCODES_CSV)
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(tmp_path / "postcodes.csv"))
    result = cli("ewe", "validate", "-o", "json", item(changed(changes)))
    [record] = json.loads(result.out)["results"]
    assert record["warnings"] == []  # the list decides: no range warning either way
    assert result.err == ""  # and no "not checked" note
    if error is None:
        assert result.code == 0 and record["errors"] == [], record
    else:
        assert result.code == 1
        assert [f"{e['field']}: {e['message']}" for e in record["errors"]] == [error]


def test_a_list_without_states_leaves_the_ranges_to_warn(cli, monkeypatch, tmp_path, item):
    (tmp_path / "postcodes.csv").write_text("suburb,postcode\nHume,2620\nGreenacre,2190\n")
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(tmp_path / "postcodes.csv"))
    result = cli("ewe", "validate", "-o", "json", item(changed(address("Hume", "ACT", "2620"))))
    assert result.code == 0
    [record] = json.loads(result.out)["results"]
    assert [w.partition(" (")[0] for w in record["warnings"]] == [
        "to.postcode: 2620 is usually a NSW postcode, not ACT"]


@pytest.mark.parametrize("territory", ["OT", "JBT", "AAT", "ot"])
def test_a_published_list_with_other_territories_is_read(cli, monkeypatch, tmp_path, item,
                                                         territory):
    """Published locality lists give some places a territory that is not one of EWE's eight
    states (OT: Norfolk, Christmas and Cocos Islands; JBT: Jervis Bay; AAT: the Antarctic):
    the whole list was refused (exit 2) for one such row. Such a row still says where the
    suburb is; its state is left to the ranges, which only warn."""
    (tmp_path / "postcodes.csv").write_text(
        f"suburb,postcode,state\nGreenacre,2190,NSW\nMoorabbin Airport,3194,VIC\n"
        f"Jervis Bay,2540,{territory}\n")
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(tmp_path / "postcodes.csv"))
    result = cli("ewe", "validate", "-o", "json",
                 item(changed(address("Jervis Bay", "ACT", "2540"))))
    assert result.code == 0, result.all
    [record] = json.loads(result.out)["results"]
    assert [w.partition(" (")[0] for w in record["warnings"]] == [
        "to.postcode: 2540 is usually a NSW postcode, not ACT"]
    wrong = cli("ewe", "validate", "-o", "json",
                item(changed(address("Jervis Bay", "ACT", "2541"))))
    assert wrong.code == 1  # the suburb is still checked against its postcode
    assert json.loads(wrong.out)["results"][0]["errors"][0]["field"] == "to.suburb"


# -- 2. said once per run: the suburbs were not checked ------------------------------------------
@pytest.mark.parametrize("command", [["validate"], ["modify", "--dry-run"], ["modify"]])
def test_suburbs_not_checked_is_said_once_per_run(cli, sandbox, monkeypatch, tmp_path,
                                                  command):
    sandbox()
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(ewe_request(f"R{n}")) + "\n" for n in range(3)))
    result = cli("ewe", *command, path, *(["--rate", "0"] if command == ["modify"] else []))
    assert result.code == 0, result.all
    assert result.err.count(NOTE) == 1
    if command[0] == "validate":
        assert result.err == NOTE
    # --quiet silences it, as it is about the run, not an item
    quiet = cli("--quiet", "ewe", *command, path,
                *(["--rate", "0"] if command == ["modify"] else []))
    assert quiet.code == 0 and "suburbs were not checked" not in quiet.err
    # with a list, the suburbs are checked: nothing to say
    listed = tmp_path / "postcodes.csv"
    listed.write_text("Greenacre,2190,NSW\nMoorabbin Airport,3194,VIC\n")
    monkeypatch.setenv("SHIPCTL_EWE_POSTCODES", str(listed))
    checked = cli("ewe", *command, path, *(["--rate", "0"] if command == ["modify"] else []))
    assert checked.code == 0, checked.all
    assert "suburbs were not checked" not in checked.err


def test_nothing_to_check_says_nothing_about_suburbs(cli, tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("[]")
    assert "suburbs were not checked" not in cli("ewe", "validate", path).err


# -- 3. an item with only articleId, sent end to end -------------------------------------------
def test_article_id_only_is_sent_and_counted_by_article_id(cli, sandbox, tmp_path):
    server = sandbox()
    only_article = ewe_request()
    del only_article["referenceNo"]
    path = tmp_path / "article.jsonl"
    path.write_text(json.dumps(only_article) + "\n" + json.dumps(ewe_request("R-2")) + "\n")
    report = tmp_path / "report.jsonl"
    result = cli("ewe", "modify", path, "--rate", "0", "--report", report, "-o", "json")
    assert result.code == 0, result.all
    assert f"{path}:1 item 1 referenceNo: not given: sent with articleId only" in result.err
    applied = requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()["ewe"][
        "applied"]
    assert applied == {"ABC20000000220008833": 1, "R-2": 1}
    records = sorted((json.loads(line) for line in report.read_text().splitlines()),
                     key=lambda record: record["where"])
    assert [(r["label"], r["key"], r["status"]) for r in records] == [
        ("ABC20000000220008833", "ABC20000000220008833", "succeeded"),
        ("R-2", "R-2", "succeeded")]
    assert records[0]["warnings"][0].startswith("referenceNo: not given")
    # the journal knows it by its request: a re-run skips it
    journal = tmp_path / "j.db"
    assert cli("ewe", "modify", path, "--rate", "0", "--journal", journal).code == 0
    again = cli("ewe", "modify", path, "--rate", "0", "--journal", journal, "-o", "json")
    assert again.code == 0
    assert json.loads(again.out)["summary"]["skipped"] == 2


def test_the_shard_of_an_article_id_only_item_is_its_article_id(cli, sandbox, tmp_path):
    from shipctl import batch

    sandbox()
    bodies = []
    for n in range(8):
        body = ewe_request()
        del body["referenceNo"]
        body["articleId"] = f"ART-{n}"
        bodies.append(body)
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    result = cli("ewe", "modify", path, "--dry-run", "--shard", "1/3", "-o", "json")
    assert result.code == 0, result.all
    labels = [r["label"] for r in json.loads(result.out)["results"]]
    assert labels == [f"ART-{n}" for n in range(8) if batch.shard_of(f"ART-{n}", 3) == 1]
    assert labels  # the shard is not empty, so the test can fail


# -- text Java cannot hold ---------------------------------------------------------------------
def test_a_lone_surrogate_is_refused_and_printed_as_its_escape(cli, sandbox, tmp_path):
    sandbox()
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(ewe_request("R\ud800")))  # json.dumps writes the escape
    text = cli("ewe", "validate", path)
    assert text.code == 1, text.all
    assert f"INVALID {path}:1 item 1  R\\ud800" in text.out
    assert "referenceNo: contains a lone UTF-16 surrogate" in text.out
    [record] = json.loads(cli("ewe", "validate", "-o", "json", path).out)["results"]
    assert record["label"] == "R\\ud800" and record["status"] == "invalid"
    report = tmp_path / "report.jsonl"
    run = cli("ewe", "modify", path, "--report", report)
    assert run.code == 1, run.all
    assert json.loads(report.read_text())["label"] == "R\\ud800"


# -- a quantity as written ---------------------------------------------------------------------
@pytest.mark.parametrize("written, verdict", [
    ("1.0", "ok"), ("2e0", "ok"), ("2147483647.0", "ok"),
    # a float rounds these to a whole number; the digits written are not one
    ("1.0000000000000001", "refused"), ("2147483647.0000001", "refused"),
])
def test_a_quantity_is_whole_as_written(cli, sandbox, tmp_path, written, verdict):
    sandbox()
    path = tmp_path / "item.json"
    path.write_text(json.dumps(ewe_request()).replace('"quantity": "1"',
                                                      f'"quantity": {written}'))
    assert f'"quantity": {written}' in path.read_text()
    result = cli("ewe", "validate", "-o", "json", path)
    [record] = json.loads(result.out)["results"]
    if verdict == "ok":
        assert result.code == 0 and record["errors"] == [], record
    else:
        assert result.code == 1
        assert [(e["field"], e["message"]) for e in record["errors"]] == [
            ("merchandise.0.quantity", f"must be a positive whole number (it is {written})")]
        assert cli("ewe", "modify", "--dry-run", path).code == 1


@pytest.mark.parametrize("written, message", [
    # the float is inf; the number written is 1 and 400 zeros: too many digits, as in a CSV
    ("1e400", "at most 400 digits when written out (it has 401)"),
    ("NaN", "expected a non-negative number (it is nan)"),
    # a whole number is held to the same limit (it was sent at any length)
    ("1" * 401, "at most 400 digits when written out (it has 401)"),
])
def test_a_decimal_is_judged_as_written(cli, sandbox, tmp_path, written, message):
    sandbox()
    path = tmp_path / "item.json"
    path.write_text(json.dumps(ewe_request(merchandise=[{"sku": "X", "weight": "@"}]))
                    .replace('"@"', written))
    result = cli("ewe", "validate", "-o", "json", path)
    assert result.code == 1
    [record] = json.loads(result.out)["results"]
    assert [(e["field"], e["message"]) for e in record["errors"]] == [
        ("merchandise.0.weight", message)]


@pytest.mark.parametrize("written", ['"' + "1" * 35 + '.5"', '"0.' + "1" * 35 + '"', "1" * 400])
def test_long_decimals_are_sent_whole(cli, sandbox, tmp_path, written):
    """Text with more than 30 digits either side of the point was refused ("expected a
    non-negative number"), though the document's limit is none and ours is 400 digits."""
    sandbox()
    path = tmp_path / "item.json"
    path.write_text(json.dumps(ewe_request(merchandise=[{"sku": "X", "weight": "@"}]))
                    .replace('"@"', written))
    result = cli("ewe", "modify", "--dry-run", path)
    assert result.code == 0, result.all
    assert '"weight":' + written.strip('"') + "}" in result.out


def test_an_invalid_item_keeps_its_warnings_in_modify_as_in_validate(cli, sandbox, tmp_path):
    sandbox()
    path = tmp_path / "item.json"
    path.write_text(json.dumps(changed({"version": "2.0", "to.phone": "---------"})))
    [validated] = json.loads(cli("ewe", "validate", "-o", "json", path).out)["results"]
    result = cli("ewe", "modify", "--dry-run", "-o", "json", path)
    assert result.code == 1
    [record] = json.loads(result.out)["results"]
    assert record["status"] == "invalid"
    assert record["warnings"] == validated["warnings"] == [
        'version: "2.0" is not refused, but EWE says version "Could be 1.6"']
    assert 'version: "2.0" is not refused' in result.err
