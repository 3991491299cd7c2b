"""Conventions every bulk command inherits from the core (runner, batch, report), shown
through `ewe modify` and `ewe validate` against the sandbox on 127.0.0.1."""

from __future__ import annotations

import json
import os

import pytest
import requests
from factories import ewe_request


def write_jsonl(path, bodies) -> None:
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))


def applied(server) -> dict[str, int]:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()["ewe"]["applied"]


# -- 1. a report or journal never destroys input ---------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("flag", ["--report", "--journal"])
@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_report_or_journal_that_is_an_input_is_refused(cli, sandbox, tmp_path, flag, link):
    server = sandbox()
    data = tmp_path / "same.jsonl"
    write_jsonl(data, [ewe_request("SAME-1"), ewe_request("SAME-2")])
    before = data.read_bytes()
    target = data
    if link == "symlink":
        target = tmp_path / "link.jsonl"
        target.symlink_to(data)
    elif link == "hardlink":
        target = tmp_path / "hard.jsonl"
        os.link(data, target)
    result = cli("ewe", "modify", str(data), flag, str(target), "--rate", "0")
    assert result.code == 2, result.all
    assert "input" in result.err and str(target) in result.err
    assert data.read_bytes() == before
    assert applied(server) == {}  # nothing was sent


@pytest.mark.timeout(60)
def test_report_named_as_csv_input_keeps_it(cli, sandbox, tmp_path):
    sandbox()
    data = tmp_path / "same.csv"
    data.write_text("referenceNo,reason\nX1,change\n")
    before = data.read_bytes()
    result = cli("ewe", "modify", str(data), "--report", str(data))
    assert result.code == 2
    assert data.read_bytes() == before


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["last.jsonl", "last.csv", "last.json"])
def test_report_inside_input_directory_is_skipped(cli, sandbox, tmp_path, name):
    sandbox()
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_jsonl(inbox / "a.jsonl", [ewe_request("DIR-1"), ewe_request("DIR-2")])
    first = cli("ewe", "modify", str(inbox), "--rate", "0", "--report", str(tmp_path / name))
    assert first.code == 0, first.all
    (tmp_path / name).rename(inbox / name)  # an earlier run's report, now among the inputs
    again = cli("ewe", "modify", str(inbox), "--rate", "0")
    assert again.code == 0, again.all
    assert f"{inbox / name}: skipped" in again.err
    assert "invalid 0" in again.out and "succeeded 2" in again.out
    checked = cli("ewe", "validate", str(inbox))
    assert checked.code == 0, checked.all
    assert "2 items: 2 valid, 0 invalid" in checked.out
