"""`ecom replay`'s own parts, without HTTP: what an answer means, Basic auth per RFC 7617,
--header, the on-disk sort, the body sent."""

from __future__ import annotations

import base64
import json
import os
import random

import pytest
from factories import ecom_push

from shipctl.batch.seen import SeenBefore
from shipctl.batch.sorter import ExternalSorter
from shipctl.ecom.client import answer_outcome, encode
from shipctl.ecom.credentials import basic_credentials
from shipctl.ecom.headers import parse_header
from shipctl.ecom.replay import _sort_key

SENT = {"awb": "8012345671", "status_update_number": "44591782"}


def _answer(**fields) -> bytes:
    return json.dumps({"awb": "8012345671", "status_update_number": 44591782, **fields}).encode()


# (HTTP status, answer body) → (ok, message, fatal)
ANSWERS = [
    (200, _answer(status=True), True, "delivered", False),
    (200, _answer(status="true"), True, "delivered", False),
    (201, _answer(status=True), True, "delivered", False),
    (200, _answer(status=False, reason="AWB not found"), False,
     "refused by the receiver: AWB not found", False),
    (200, _answer(status="false", reason="duplicate"), False,
     "refused by the receiver: duplicate", False),
    (200, _answer(status=False), False, "refused by the receiver: no reason given", False),
    (200, b"", True, "delivered (warning: HTTP 200 without a JSON answer; counted as delivered)",
     False),
    (204, b"", True, "delivered (warning: HTTP 204 without a JSON answer; counted as delivered)",
     False),
    (200, b"OK", True, "delivered (warning: HTTP 200 without a JSON answer; counted as delivered)",
     False),
    (200, _answer(status="yes"), False, 'HTTP 200 but the answer\'s status is "yes", not true',
     False),
    (200, _answer(), False, "HTTP 200 but the answer's status is null, not true", False),
    (400, _answer(status=False, reason="invalid datetime"), False,
     "HTTP 400: invalid datetime", False),
    (500, b"<html>oops</html>", False, "HTTP 500", False),
    (401, b"", False, "HTTP 401: check ecom credentials", True),
    (403, _answer(status=False, reason="forbidden"), False, "HTTP 403: check ecom credentials",
     True),
]


@pytest.mark.parametrize(("status", "content", "ok", "message", "fatal"), ANSWERS)
def test_what_an_answer_means(status, content, ok, message, fatal):
    outcome = answer_outcome(status, content, SENT)
    assert (outcome.ok, outcome.message, outcome.fatal) == (ok, message, fatal)
    assert outcome.code == status
    assert (outcome.check is not None) == fatal


def test_an_echo_of_another_scan_is_a_warning():
    other_awb = answer_outcome(200, json.dumps(
        {"awb": "999", "status": True, "status_update_number": 44591782}).encode(), SENT)
    assert other_awb.ok
    assert other_awb.message == "delivered (warning: the answer's awb '999' is not the one sent)"
    assert other_awb.detail == {"warnings": ["the answer's awb '999' is not the one sent"]}
    other_number = answer_outcome(200, _answer(status=True, status_update_number="1"), SENT)
    assert other_number.ok
    assert "status_update_number '1' is not the one sent" in other_number.message
    # Ecom Express's manual answers the number as an integer: leading zeros are not a mismatch
    zeros = answer_outcome(200, _answer(status=True, status_update_number=44),
                           {"awb": "8012345671", "status_update_number": "0044"})
    assert zeros.message == "delivered"
    # an answer that echoes nothing is not a mismatch
    assert answer_outcome(200, b'{"status": true}', SENT).message == "delivered"


def test_basic_credentials_rfc_7617():
    # RFC 7617 §2's own example
    assert basic_credentials("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    # §2.1: UTF-8, and NFC ("e" + combining acute becomes "é")
    value = basic_credentials("test", "123\u00a3")
    assert value == "Basic dGVzdDoxMjPCow=="  # RFC 7617 §2.1's example
    assert basic_credentials("ops", "cafe\u0301") == basic_credentials("ops", "café")
    decoded = base64.b64decode(basic_credentials("ops", "pä:ss wörd€").split()[1])
    assert decoded == "ops:pä:ss wörd€".encode()  # a colon in the password is fine
    with pytest.raises(ValueError, match="contains ':'"):
        basic_credentials("o:ps", "x")
    with pytest.raises(ValueError, match="control character"):
        basic_credentials("ops", "line\nbreak")


@pytest.mark.parametrize(("text", "expected"), [
    ("username:ops", ("username", "ops")),
    ("X-Token: abc:def", ("X-Token", "abc:def")),
    ("password:", ("password", "")),
])
def test_parse_header(text, expected):
    assert parse_header(text) == expected


@pytest.mark.parametrize("text", ["no-colon", ":value", "bad name:x", "x:a\nb", "x:é"])
def test_parse_header_refuses(text):
    with pytest.raises(ValueError, match="--header"):
        parse_header(text)


def test_encode_keeps_key_order_and_utf8():
    data = ecom_push(city="Vadodara – ગુજરાત")
    body = encode(data)
    assert body.decode("utf-8").startswith('{"awb": "8012345671", "datetime": ')
    assert "ગુજરાત".encode() in body
    assert json.loads(body) == data
    assert encode(json.loads(body)) == body  # export → replay gives the same bytes again
    assert json.loads(encode({"x": "\ud800"})) == {"x": "\ud800"}  # a lone surrogate survives


def _scans(count: int, awbs: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    scans = [ecom_push(awb=str(8000000000 + rng.randrange(awbs)), number=str(rng.randrange(10**9)),
                       when=f"2024-03-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:00:00")
             for _ in range(count)]
    rng.shuffle(scans)
    return scans


@pytest.mark.parametrize("memory", [10**9, 2_000])
def test_sorter_in_memory_and_on_disk_give_the_same_order(memory):
    scans = _scans(3000, 50)
    sorter = ExternalSorter(memory=memory)
    for ordinal, scan in enumerate(scans):
        sorter.add(_sort_key(scan, ordinal), json.dumps(scan))
    assert sorter.spilled is (memory == 2_000)
    out = [json.loads(record) for record in sorter.sorted()]
    path = sorter.path
    if path is not None:
        assert os.path.getsize(path) > memory  # the scans are in the file, not in memory
    sorter.close()
    assert path is None or not os.path.exists(path)  # the scratch file is removed
    keys = [(s["datetime"], int(s["status_update_number"])) for s in out]
    assert keys == sorted(keys)
    assert sorted(map(json.dumps, out)) == sorted(map(json.dumps, scans))  # nothing lost


def test_sorter_is_stable_for_equal_keys():
    sorter = ExternalSorter(memory=100)
    for ordinal in range(50):
        sorter.add(("2024-03-01 00:00:00", 0, 1, "1", ordinal), str(ordinal))
    assert list(sorter.sorted()) == [str(n) for n in range(50)]
    sorter.close()


@pytest.mark.parametrize("memory", [10**9, 1])
def test_first_seen_in_memory_and_on_disk(memory):
    seen = SeenBefore(memory=memory)
    first = seen.first
    assert first("44590188", "a.jsonl:3 item 3") is None
    assert first("44590188", "a.jsonl:7 item 7") == "a.jsonl:3 item 3"
    assert first("\ud800", "b:1 item 1") is None and first("\ud800", "b:2 item 2") == "b:1 item 1"
    assert seen.spilled is (memory == 1)
    assert first("1", "c:1 item 1") is None
    assert first(str(2), 7) is None and first("2", 8) == 7  # any note: an input index too
    seen.close()
