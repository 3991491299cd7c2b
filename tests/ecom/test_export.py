"""`shipctl ecom export`: stored pushes as JSON Lines, filters, errors."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import SAMPLES
from hypothesis import given
from hypothesis import strategies as st

from shipctl.ecom.receive.export import parse_since
from shipctl.ecom.receive.receiver import Receiver
from shipctl.ecom.receive.store import Store
from shipctl.errors import UsageError

RECEIVER = Receiver("u", "password")
AUTH = {"username": "u", "password": "password"}


def scan(number: str, awb: str, when: str) -> dict:
    return {"awb": awb, "datetime": when, "status": "s", "reason_code": "002 - In-scan",
            "reason_code_number": "002", "location": "DEL", "Employee": "E",
            "status_update_number": number, "order_number": "O", "city": "C", "ref_awb": ""}


@pytest.fixture
def store_file(tmp_path):
    """Five pushes of two AWBs, arriving out of chronological order; one pretty-printed."""
    path = tmp_path / "pushes.sqlite3"
    bodies = [
        json.dumps(scan("30", "A", "2024-03-03 09:00:00")).encode(),
        json.dumps(scan("10", "B", "2024-03-01 09:00:00"), ensure_ascii=False).encode(),
        json.dumps(scan("20", "A", "2024-03-01 10:00:00"), indent=2).encode(),
        json.dumps(scan("40", "B", "2024-03-04 00:00:00"), separators=(",", ":")).encode(),
        json.dumps(scan("50", "A", "2024-03-02 23:59:59")).encode(),
    ]
    with Store(path) as store:
        for body in bodies:
            answer = RECEIVER.receive(AUTH, body)
            assert store.add(answer.push).result(timeout=10) is True
    return path, bodies


def numbers(text: str) -> list[str]:
    return [json.loads(line)["status_update_number"] for line in text.splitlines()]


def test_everything_in_arrival_order_raw_bodies_one_per_line(cli, store_file):
    path, bodies = store_file
    result = cli("ecom", "export", "--store", path)
    assert result.code == 0
    lines = result.out.splitlines()
    assert numbers(result.out) == ["30", "10", "20", "40", "50"]
    # one-line bodies byte for byte; the pretty-printed one on one line, same JSON
    for line, body in zip(lines, bodies, strict=True):
        if b"\n" in body:
            assert json.loads(line) == json.loads(body) and "\n" not in line
        else:
            assert line.encode() == body
    assert "exported 5 push(es) of 2 AWB(s)" in result.err


def test_awb_filter_keeps_that_awbs_arrival_order(cli, store_file):
    result = cli("ecom", "export", "--store", store_file[0], "--awb", "A")
    assert numbers(result.out) == ["30", "20", "50"]
    both = cli("ecom", "export", "--store", store_file[0], "--awb", "B", "--awb", "A")
    assert numbers(both.out) == ["30", "10", "20", "40", "50"]
    assert cli("ecom", "export", "--store", store_file[0], "--awb", "Z").out == ""


@pytest.mark.parametrize("since, expected", [
    ("2024-03-02", ["30", "40", "50"]),
    ("2024-03-02 23:59", ["30", "40", "50"]),
    ("2024-03-03 00:00:00", ["30", "40"]),
    ("2024-03-04T00:00:00", ["40"]),
    ("2030-01-01", []),
])
def test_since_filters_on_the_push_datetime(cli, store_file, since, expected):
    result = cli("ecom", "export", "--store", store_file[0], "--since", since)
    assert result.code == 0 and numbers(result.out) == expected


def test_filters_combine(cli, store_file):
    result = cli("ecom", "export", "--store", store_file[0], "--awb", "A", "--since",
                 "2024-03-02")
    assert numbers(result.out) == ["30", "50"]
    assert "matching awb A and datetime ≥ 2024-03-02 00:00:00" in result.err


@pytest.mark.parametrize("since", ["yesterday", "2024-13-01", "2024-02-30 10:00", "03/05/2024"])
def test_a_bad_since_is_exit_2(cli, store_file, since):
    result = cli("ecom", "export", "--store", store_file[0], "--since", since)
    assert result.code == 2 and "--since" in result.err and "Traceback" not in result.err


def test_a_missing_store_is_exit_2(cli, tmp_path):
    result = cli("ecom", "export", "--store", tmp_path / "none.sqlite3")
    assert result.code == 2 and "no store at" in result.err
    assert not (tmp_path / "none.sqlite3").exists()  # export never creates one


def test_another_programs_sqlite_file_is_exit_2_and_left_alone(cli, tmp_path):
    """A replay journal (or any SQLite file) given by mistake: said so, never a traceback,
    and listen does not add its table to it."""
    journal = tmp_path / "replay.db"
    replayed = cli("--sandbox", "ecom", "replay", SAMPLES / "ecom" / "batch.jsonl",
                   "--journal", journal)
    assert replayed.code == 0, replayed.all
    tables = set(sqlite3.connect(journal).execute("SELECT name FROM sqlite_master"))
    result = cli("ecom", "export", "--store", journal)
    assert result.code == 2, result.all
    assert f"cannot use {journal} as the push store" in result.err
    assert "internal error" not in result.err
    with pytest.raises(UsageError, match="as the push store"):
        Store(journal)
    assert set(sqlite3.connect(journal).execute("SELECT name FROM sqlite_master")) == tables


def test_a_file_that_is_not_a_store_is_exit_2(cli, tmp_path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("hello\n" * 200)
    result = cli("ecom", "export", "--store", junk)
    assert result.code == 2 and "cannot use" in result.err


def test_the_output_is_what_ecom_validate_accepts(cli, store_file, tmp_path):
    exported = tmp_path / "captured.jsonl"
    exported.write_text(cli("ecom", "export", "--store", store_file[0]).out)
    result = cli("ecom", "validate", exported)
    assert result.code == 0, result.all


@given(st.text(max_size=30))
def test_parse_since_accepts_or_refuses_never_crashes(text):
    try:
        value = parse_since(text)
    except UsageError:
        return
    assert len(value) == 19 and value[10] == " "


def test_export_writes_strict_json_keeping_number_text(cli, tmp_path):
    """NaN and Infinity are not JSON (Python's parser lets them through): written as null, and
    said; a number too large for a float keeps its text rather than becoming Infinity."""
    from shipctl.ecom.receive.receiver import Push

    bodies = [b'{"awb": "A", "x": NaN, "y": -Infinity, "s": "NaN stays", "n": 1e999}',
              b'{\n  "awb": "B",\n  "n": 1e999,\n  "t": "a b"\n}\n',
              b'{"awb": "C", "n": 1.50}']
    path = tmp_path / "s.db"
    with Store(path) as store:
        for number, body in enumerate(bodies):
            assert store.add(Push(body=body, headers=[], awb="A", datetime="2024-03-01 10:00:00",
                                  status_update_number=str(number), reason_code_number="002")
                             ).result(timeout=10)
    result = cli("ecom", "export", "--store", path)
    assert result.code == 0
    lines = result.out.splitlines()

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in {text}"))

    for line in lines:
        strict(line)
    assert lines[0] == '{"awb":"A","x":null,"y":null,"s":"NaN stays","n":1e999}'
    assert lines[1] == '{"awb":"B","n":1e999,"t":"a b"}'
    assert lines[2] == bodies[2].decode()  # strict already: byte for byte
    assert "1 push(es) held NaN or Infinity" in result.err


def test_unforwarded_needs_a_relay_state_and_finds_none_without_it(cli, store_file):
    result = cli("ecom", "export", "--store", store_file[0], "--unforwarded")
    assert result.code == 0 and result.out == ""
    assert "exported 0 push(es) of 0 AWB(s) matching not forwarded" in result.err
