"""Conventions every bulk command inherits from the core (runner, batch, report;
docs/conventions.md, Bulk engine), each shown through `ewe modify`, `fynd apply` and
`ecom replay` against the sandbox on 127.0.0.1. What only one command has (`ewe validate`,
EWE's CSV input, its warnings) is shown through that command."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from factories import ecom_push, ewe_request, fynd_confirm, write_jsonl


@dataclass(frozen=True)
class Bulk:
    """One bulk command, as these tests drive it: valid item N, its label in the results, an
    invalid item and the field its error names, the sandbox's count of what it applied, and the
    variable that holds the profile's secret."""

    provider: str
    verb: str
    item: Callable[[int], dict]
    label: Callable[[int], str]
    invalid: Callable[[], dict]
    invalid_field: str
    applied_key: str
    secret_env: str

    def __str__(self) -> str:
        return f"{self.provider} {self.verb}"

    def __call__(self, cli, *args):
        return cli(self.provider, self.verb, *(str(arg) for arg in args))

    def write(self, path, numbers) -> None:
        write_jsonl(path, [self.item(n) for n in numbers])

    def applied(self, server) -> dict:
        stats = requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()
        return stats[self.provider][self.applied_key]


def _ewe_invalid() -> dict:
    bad = ewe_request("C-BAD")
    bad["to"]["phone"] = "12"
    return bad


def _ecom_awb(n: int) -> str:
    return f"80123456{n % 100:02d}"


def _ecom_invalid() -> dict:
    bad = ecom_push(awb=_ecom_awb(99), number="1099")
    del bad["city"]
    return bad


BULKS = [
    Bulk("ewe", "modify", lambda n: ewe_request(f"C-{n}"), lambda n: f"C-{n}", _ewe_invalid,
         "to.phone", "applied", "SHIPCTL_EWE_PASSWORD"),
    Bulk("fynd", "apply", lambda n: fynd_confirm(f"C-{n}"), lambda n: f"C-{n}",
         lambda: {"statuses": []}, "statuses", "transitions", "SHIPCTL_FYND_CLIENT_SECRET"),
    Bulk("ecom", "replay", lambda n: ecom_push(awb=_ecom_awb(n), number=str(1000 + n)),
         lambda n: f"{_ecom_awb(n)} #{1000 + n}", _ecom_invalid, "city", "applied",
         "SHIPCTL_ECOM_PASSWORD"),
]
EWE = BULKS[0]


@pytest.fixture(params=BULKS, ids=str)
def bulk(request) -> Bulk:
    return request.param


# -- 1. a report or journal never destroys input ---------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("flag", ["--report", "--journal"])
@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_report_or_journal_that_is_an_input_is_refused(cli, sandbox, tmp_path, bulk, flag,
                                                       link):
    server = sandbox()
    data = tmp_path / "same.jsonl"
    bulk.write(data, [1, 2])
    before = data.read_bytes()
    target = data
    if link == "symlink":
        target = tmp_path / "link.jsonl"
        target.symlink_to(data)
    elif link == "hardlink":
        target = tmp_path / "hard.jsonl"
        os.link(data, target)
    result = bulk(cli, data, flag, target, "--rate", "0")
    assert result.code == 2, result.all
    assert "input" in result.err and str(target) in result.err
    assert data.read_bytes() == before
    assert bulk.applied(server) == {}  # nothing was sent


# CSV input is EWE's alone (Fynd's bodies and Ecom's pushes are JSON documents; those commands
# refuse a CSV file before reading it)
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
@pytest.mark.parametrize(
    ("bulk", "name"),
    [(b, n) for b in BULKS for n in ["last.jsonl", "last.ndjson"]]
    # a .csv in a directory is an input of EWE's only: the others never read it
    + [(EWE, "last.csv")],
    ids=str)
def test_report_inside_input_directory_is_skipped(cli, sandbox, tmp_path, bulk, name):
    sandbox()
    inbox = tmp_path / "in"
    inbox.mkdir()
    bulk.write(inbox / "a.jsonl", [1, 2])
    first = bulk(cli, inbox, "--rate", "0", "--report", tmp_path / name)
    assert first.code == 0, first.all
    (tmp_path / name).rename(inbox / name)  # an earlier run's report, now among the inputs
    sandbox()  # a fresh one: its pushes or transitions are new to it
    again = bulk(cli, inbox, "--rate", "0")
    assert again.code == 0, again.all
    assert f"{inbox / name}: skipped" in again.err
    assert "invalid 0" in again.out and "succeeded 2" in again.out


@pytest.mark.timeout(60)
def test_validate_skips_a_report_inside_the_input_directory(cli, sandbox, tmp_path):
    sandbox()
    inbox = tmp_path / "in"
    inbox.mkdir()
    EWE.write(inbox / "a.jsonl", [1, 2])
    assert EWE(cli, inbox, "--rate", "0", "--report", inbox / "last.jsonl").code == 0
    checked = cli("ewe", "validate", str(inbox))
    assert checked.code == 0, checked.all
    assert "2 items: 2 valid, 0 invalid" in checked.out


# -- 6. cron-friendly runs -------------------------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("extra", [[], ["--strict"], ["--dry-run"]])
def test_empty_input_directory_is_nothing_to_send(cli, tmp_path, bulk, extra):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "notes.txt").write_text("not a payload")
    result = bulk(cli, inbox, *extra)  # no credentials needed either
    assert result.code == 0, result.all
    assert "no payload files" in result.err
    assert "nothing to send" in result.err


@pytest.mark.timeout(60)
def test_empty_directory_and_empty_list_say_the_same(cli, tmp_path, bulk):
    inbox = tmp_path / "in"
    inbox.mkdir()
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    from_dir = bulk(cli, inbox)
    from_list = bulk(cli, empty)
    assert from_dir.code == from_list.code == 0
    assert from_dir.out.split(" in ")[0] == from_list.out.split(" in ")[0]  # same summary


def _jobs(statuses):
    from shipctl.batch import Job

    return [Job(id=f"item-{i}", label=f"TEST{i:04d}", where=f"bulk.jsonl:{i + 1} item {i + 1}",
                payload=i, problems=["bad postcode"] if s == "invalid" else None)
            for i, s in enumerate(statuses)]


@pytest.mark.timeout(60)
def test_quiet_prints_only_what_went_wrong_and_the_summary(capsys):
    from shipctl.batch import BulkOptions, Outcome, run
    from shipctl.output import Output

    jobs = _jobs(["ok", "failed", "ok", "invalid", "ok"])

    def send(job):
        if job.id == "item-1":
            return Outcome(False, "Shipment not found", code=3)
        return Outcome(True, "Modify success!", code=0)

    out = Output()
    out.quiet = True
    summary = run(iter(jobs), send, BulkOptions(jobs=2), out)
    captured = capsys.readouterr()
    assert summary.exit_code() == 1
    lines = captured.err.splitlines()
    assert len(lines) == 2, captured.err
    assert any(line.startswith("failed") and "TEST0001" in line for line in lines)
    assert any(line.startswith("invalid") and "TEST0003" in line for line in lines)
    assert "succeeded" not in captured.err
    assert "sent 4, succeeded 3, failed 1, invalid 1" in captured.out

    out.quiet = False
    run(iter(_jobs(["ok", "failed", "ok"])), send, BulkOptions(jobs=2), out)
    assert capsys.readouterr().err.count("succeeded") == 2  # without --quiet: every item


@pytest.mark.timeout(60)
def test_quiet_rerun_lists_no_skipped_items(cli, sandbox, tmp_path, monkeypatch, bulk):
    from shipctl.output import Output

    sandbox()
    data = tmp_path / "a.jsonl"
    bulk.write(data, [1, 2])
    journal = tmp_path / "j.db"
    assert bulk(cli, data, "--journal", journal, "--rate", "0").code == 0
    # what the global --quiet sets (whatever sets it, it stays on for this run)
    monkeypatch.setattr(Output, "quiet", property(lambda self: True, lambda self, value: None),
                        raising=False)
    again = bulk(cli, data, "--journal", journal, "--rate", "0")
    assert again.code == 0, again.all
    assert "skipped 2" in again.out
    assert "skipped " not in again.err.replace("skipped 2", "")
    assert bulk.label(1) not in again.err and bulk.label(2) not in again.err


@pytest.mark.timeout(30)
def test_color_choice(monkeypatch):
    from shipctl.output import Output

    out = Output()
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert out.color_choice == "auto" and out.quiet is False
    assert out.color is False  # captured stdout is not a terminal
    out.color_choice = "always"
    assert out.color is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert out.color is True  # asked for explicitly
    out.json_mode = True
    assert out.color is False  # never in a JSON document
    out.json_mode = False
    out.color_choice = "never"
    assert out.color is False
    monkeypatch.setattr(Output, "stdout_is_tty", property(lambda self: True))
    out.color_choice = "auto"
    assert out.color is False  # NO_COLOR
    monkeypatch.delenv("NO_COLOR")
    assert out.color is True


@pytest.mark.timeout(60)
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_report_records_have_finished_at(cli, sandbox, tmp_path, bulk, suffix):
    import csv
    import re

    sandbox()
    data = tmp_path / "a.jsonl"
    bulk.write(data, [1, 2])
    report = tmp_path / f"report{suffix}"
    result = bulk(cli, data, "--report", report, "--rate", "0", "-o", "json")
    assert result.code == 0, result.all
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    for record in json.loads(result.out)["results"]:
        assert stamp.match(record["finished_at"])
    text = report.read_text()
    if suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        assert list(rows[0]) == ["index", "where", "label", "key", "status", "code",
                                 "message", "attempts", "elapsed_ms", "finished_at"]
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    for row in rows:
        assert stamp.match(row["finished_at"])
    assert sorted(r["label"] for r in rows) == [bulk.label(1), bulk.label(2)]


# -- 2. one result schema --------------------------------------------------------------------
# `ewe validate` joins the schema, and EWE's foreign msgType is a warning: shown through EWE.

def _mixed_input(tmp_path):
    """Two valid items (one carrying a foreign msgType: a warning) and one invalid."""
    bad = ewe_request("S-BAD")
    bad["to"]["phone"] = "12"
    odd = ewe_request("S-2")
    odd["msgType"] = "somethingElse"
    path = tmp_path / "mixed.jsonl"
    write_jsonl(path, [ewe_request("S-1"), bad, odd])
    return path


def assert_record(record: dict) -> None:
    """The record every command shares (README "Results as JSON")."""
    assert isinstance(record["where"], str) and record["where"]
    assert isinstance(record["label"], str)
    assert isinstance(record["status"], str)
    assert isinstance(record["errors"], list)
    for error in record["errors"]:
        assert isinstance(error["field"], str)
        assert error["line"] is None or isinstance(error["line"], int)
        assert isinstance(error["message"], str) and error["message"]
    assert isinstance(record["warnings"], list)
    assert all(isinstance(w, str) for w in record["warnings"])


def assert_summary(summary: dict, *, total: int, invalid: int, exit_code: int | None) -> None:
    assert summary["total"] == total
    assert summary["invalid"] == invalid
    if exit_code is not None:
        assert summary["exit_code"] == exit_code


def documents(cli, path, fmt):
    """validate, dry run and a real run of one input, each as (records, summary)."""
    runs = {
        # validate's -o json document keeps its own keys (file, reference_no, items…)
        **({"validate": ("ewe", "validate", str(path), "-o", fmt)} if fmt == "jsonl" else {}),
        "dry-run": ("ewe", "modify", str(path), "--dry-run", "-o", fmt),
        "modify": ("ewe", "modify", str(path), "--rate", "0", "-o", fmt),
    }
    found = {}
    for name, args in runs.items():
        result = cli(*args)
        assert result.code == 1, (name, result.all)
        if fmt == "json":
            document = json.loads(result.out)
            found[name] = (document["results"], document["summary"])
        else:
            lines = [json.loads(line) for line in result.out.splitlines()]
            assert all(isinstance(line, dict) for line in lines)
            assert list(lines[-1]) == ["summary"]
            found[name] = (lines[:-1], lines[-1]["summary"])
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_validate_dry_run_and_modify_share_one_schema(cli, sandbox, tmp_path, fmt):
    sandbox()
    path = _mixed_input(tmp_path)
    found = documents(cli, path, fmt)
    statuses = {
        "validate": ["valid", "invalid", "valid"],
        "dry-run": ["valid", "invalid", "valid"],
        "modify": ["succeeded", "invalid", "succeeded"],
    }
    for name, (records, summary) in found.items():
        assert len(records) == 3, name
        for record in records:
            assert_record(record)
        by_label = {r["label"]: r for r in records}
        assert sorted(by_label) == ["S-1", "S-2", "S-BAD"], name
        assert [by_label[k]["status"] for k in ("S-1", "S-BAD", "S-2")] == statuses[name]
        assert [e["field"] for e in by_label["S-BAD"]["errors"]] == ["to.phone"], name
        assert by_label["S-BAD"]["errors"][0]["line"] == 2, name
        assert any("msgType" in w for w in by_label["S-2"]["warnings"]), name
        assert by_label["S-1"]["warnings"] == [] and by_label["S-1"]["errors"] == []
        # -o json: the dry run's summary keeps its keys; -o jsonl: exit_code everywhere
        exit_code = None if (fmt, name) == ("json", "dry-run") else 1
        assert_summary(summary, total=3, invalid=1, exit_code=exit_code)
    where = [sorted(r["where"] for r in records) for records, _ in found.values()]
    assert all(w == where[0] for w in where)


@pytest.mark.timeout(60)
def test_validate_jsonl_is_validate_json_plus_the_common_keys(cli, tmp_path):
    path = _mixed_input(tmp_path)
    document = json.loads(cli("ewe", "validate", str(path), "-o", "json").out)
    lines = [json.loads(line) for line in
             cli("ewe", "validate", str(path), "-o", "jsonl").out.splitlines()]
    for old, new in zip(document["results"], lines[:-1], strict=True):
        assert {k: new[k] for k in old} == old
        assert new["where"] == f"{path}:{old['line']} item {old['index']}"
        assert new["label"] == old["reference_no"]
    assert lines[-1]["summary"] == {"total": 3, **document["summary"], "exit_code": 1}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_dry_run_and_run_share_one_schema(cli, sandbox, tmp_path, bulk, fmt):
    sandbox()
    path = tmp_path / "mixed.jsonl"
    write_jsonl(path, [bulk.item(1), bulk.invalid(), bulk.item(2)])
    statuses = {"dry-run": ["valid", "invalid", "valid"],
                "run": ["succeeded", "invalid", "succeeded"]}
    found = {}
    for name, extra in {"dry-run": ["--dry-run"], "run": ["--rate", "0"]}.items():
        result = bulk(cli, path, "-o", fmt, *extra)
        assert result.code == 1, (name, result.all)
        if fmt == "json":
            document = json.loads(result.out)
            records, summary = document["results"], document["summary"]
        else:
            lines = [json.loads(line) for line in result.out.splitlines()]
            assert list(lines[-1]) == ["summary"]
            records, summary = lines[:-1], lines[-1]["summary"]
        assert len(records) == 3, name
        for record in records:
            assert_record(record)
        by_line = {int(r["where"].rsplit(" item ", 1)[1]): r for r in records}
        assert [by_line[n]["status"] for n in (1, 2, 3)] == statuses[name], name
        assert [by_line[1]["label"], by_line[3]["label"]] == [bulk.label(1), bulk.label(2)]
        assert [e["field"] for e in by_line[2]["errors"]] == [bulk.invalid_field], name
        assert by_line[2]["errors"][0]["line"] == 2, name
        # -o json: the dry run's summary keeps its keys; -o jsonl: exit_code everywhere
        exit_code = None if (fmt, name) == ("json", "dry-run") else 1
        assert_summary(summary, total=3, invalid=1, exit_code=exit_code)
        found[name] = sorted(r["where"] for r in records)
    assert found["dry-run"] == found["run"]


@pytest.mark.timeout(60)
def test_strict_sends_nothing_when_one_item_is_invalid(cli, sandbox, tmp_path, bulk):
    server = sandbox()
    path = tmp_path / "mixed.jsonl"
    write_jsonl(path, [bulk.item(1), bulk.invalid(), bulk.item(2)])
    result = bulk(cli, path, "--strict", "--rate", "0")
    assert result.code == 1, result.all
    assert "not sent 2" in result.out and "invalid 1" in result.out
    assert "nothing was sent" in result.err
    assert bulk.applied(server) == {}


# -- credentials refused ---------------------------------------------------------------------

def _refused(cli, sandbox, tmp_path, monkeypatch, bulk):
    server = sandbox()
    monkeypatch.setenv(bulk.secret_env, "not-the-configured-secret")
    path = tmp_path / "a.jsonl"
    bulk.write(path, range(5))
    return server, bulk(cli, path, "--rate", "0")


@pytest.mark.timeout(60)
def test_refused_credentials_stop_the_run_with_one_headline(cli, sandbox, tmp_path,
                                                           monkeypatch, bulk):
    server, result = _refused(cli, sandbox, tmp_path, monkeypatch, bulk)
    assert result.code != 0, result.all
    (headline,) = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert "refused the" in headline and "credentials of profile 'default'" in headline
    assert bulk.applied(server) == {}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "bulk",
    [b if b.provider == "fynd" else pytest.param(b, marks=pytest.mark.xfail(
        strict=True, reason="issue 20: EWE's and Ecom's refusals come from the API's answer to "
        "an item, and the run exits 1; Fynd's token endpoint refuses before any item (exit 2)"))
     for b in BULKS],
    ids=str)
def test_refused_credentials_exit_2(cli, sandbox, tmp_path, monkeypatch, bulk):
    _, result = _refused(cli, sandbox, tmp_path, monkeypatch, bulk)
    assert result.code == 2, result.all


@pytest.mark.timeout(60)
def test_jsonl_streams_records_as_items_finish(cli, sandbox, tmp_path, bulk):
    sandbox()
    path = tmp_path / "a.jsonl"
    bulk.write(path, range(4))
    result = bulk(cli, path, "--rate", "0", "-o", "jsonl")
    assert result.code == 0, result.all
    lines = result.out.splitlines()
    assert len(lines) == 5  # one line each: for jq and log shippers
    records = [json.loads(line) for line in lines]
    assert sorted(r["label"] for r in records[:-1]) == sorted(bulk.label(n) for n in range(4))
    assert records[-1]["summary"]["succeeded"] == 4


@pytest.mark.timeout(60)
def test_report_named_json_is_refused(cli, sandbox, tmp_path, bulk):
    server = sandbox()
    path = tmp_path / "a.jsonl"
    bulk.write(path, [1])
    report = tmp_path / "report.json"
    result = bulk(cli, path, "--report", report, "--rate", "0")
    assert result.code == 2, result.all
    assert ".jsonl" in result.err
    assert not report.exists()
    assert bulk.applied(server) == {}
