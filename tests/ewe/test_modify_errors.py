"""Structured errors in bulk output: `ewe modify` says why an item is invalid with the same
`errors: [{field, line, message}]` as `ewe validate -o json` — in -o json, in JSON Lines
reports and in `--dry-run -o json` — while text output keeps one line per problem."""

from __future__ import annotations

import json

import pytest
import requests
from conftest import SAMPLES

INVALID_YAML = SAMPLES / "ewe" / "invalid.yaml"


def by_reference(results: list[dict], key: str) -> dict[str, list[dict]]:
    return {r[key]: r["errors"] for r in results}


@pytest.fixture
def validate_errors(cli) -> dict[str, list[dict]]:
    result = cli("ewe", "validate", str(INVALID_YAML), "-o", "json")
    assert result.code == 1, result.err
    errors = by_reference(json.loads(result.out)["results"], "reference_no")
    # the sample's items each have problems on several fields and lines
    assert all(len(e) >= 2 for e in errors.values()) and len(errors) >= 2
    return errors


@pytest.mark.timeout(60)
def test_modify_json_gives_the_errors_validate_gives(cli, sandbox, validate_errors):
    server = sandbox()
    result = cli("ewe", "modify", str(INVALID_YAML), "-o", "json", "--rate", "0")

    assert result.code == 1, result.err
    results = json.loads(result.out)["results"]
    assert {r["status"] for r in results} == {"invalid"}
    assert by_reference(results, "label") == validate_errors
    first = results[0]["errors"][0]
    assert set(first) == {"field", "line", "message"} and isinstance(first["line"], int)
    # `message` stays: every problem, where it is, as the text output shows it
    for record in results:
        for error in record["errors"]:
            assert error["message"] in record["message"]
            assert f" {error['field']}: {error['message']}" in record["message"]
    stats = requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()
    assert stats["ewe"]["applied"] == {}


@pytest.mark.timeout(60)
def test_text_output_keeps_one_line_per_problem(cli, sandbox):
    sandbox()
    validated = cli("ewe", "validate", str(INVALID_YAML))
    problems = [line.strip() for line in validated.out.splitlines() if line.startswith("  ")]
    assert problems

    result = cli("ewe", "modify", str(INVALID_YAML), "--rate", "0")

    assert result.code == 1
    invalid_lines = [line for line in result.err.splitlines() if line.startswith("invalid")]
    assert len(invalid_lines) == len(json.loads(
        cli("ewe", "validate", str(INVALID_YAML), "-o", "json").out)["results"])
    # each item's line lists its problems exactly as validate prints them, joined by "; "
    assert all(any(problem in line for line in invalid_lines) for problem in problems)


@pytest.mark.timeout(60)
def test_jsonl_report_has_the_errors_and_csv_keeps_its_columns(cli, sandbox, tmp_path,
                                                               validate_errors):
    sandbox()
    jsonl, csv_report = tmp_path / "report.jsonl", tmp_path / "report.csv"
    for report in (jsonl, csv_report):
        result = cli("ewe", "modify", str(INVALID_YAML), "--report", str(report), "--rate", "0")
        assert result.code == 1, result.err

    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert by_reference(rows, "label") == validate_errors
    header = csv_report.read_text().splitlines()[0]
    assert header == "index,where,label,key,status,code,message,attempts,elapsed_ms,finished_at"


@pytest.mark.timeout(60)
def test_dry_run_json_gives_the_same_errors(cli, sandbox, validate_errors):
    sandbox()
    result = cli("ewe", "modify", str(INVALID_YAML), "--dry-run", "-o", "json")
    assert result.code == 1, result.err
    results = json.loads(result.out)["results"]
    assert by_reference(results, "label") == validate_errors
