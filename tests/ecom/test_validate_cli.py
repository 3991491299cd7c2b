"""`shipctl ecom validate` as support staff and scripts use it: verdicts, source lines, exit
codes, -o json / jsonl."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import SAMPLES
from factories import ecom_push, write_jsonl

ECOM = SAMPLES / "ecom"


@pytest.mark.parametrize("sample", ["push.json", "rts.json", "batch.jsonl",
                                    "pasted-from-ticket.txt"])
def test_every_sample_is_valid(cli, sample):
    result = cli("ecom", "validate", ECOM / sample)
    assert result.code == 0, result.all
    assert "INVALID" not in result.out
    assert " 0 invalid" in result.out.splitlines()[-1]


def test_the_sample_directory(cli):
    result = cli("ecom", "validate", ECOM)
    assert result.code == 0, result.all
    # batch.jsonl (12), push.json, rts.json; the .txt paste is not a payload file
    assert result.out.splitlines()[-1] == "14 payloads: 14 valid, 0 invalid"


def test_each_problem_on_its_own_line_with_its_source_line(cli, tmp_path):
    data = ecom_push(when="2024-02-30 10:00:00", number="12a")
    data["employee"] = data.pop("Employee")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, indent=2))
    result = cli("ecom", "validate", path)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == f"INVALID {path}:1 item 1  8012345671 #12a"
    assert f"  {path}:3 item 1 datetime: \"2024-02-30 10:00:00\" is not a real date and time" \
        in lines
    assert any(line.startswith(f"  {path}:8 item 1 status_update_number: must be digits only")
               for line in lines)
    assert (f'  {path}:12 item 1 employee: unknown key "employee": did you mean "Employee"?'
            " (keys are case-sensitive)") in lines
    assert lines[-1] == "1 payload: 0 valid, 1 invalid"


def test_a_missing_key_is_named(cli):
    data = ecom_push()
    del data["city"], data["Employee"]
    result = cli("ecom", "validate", "-", input=json.dumps(data))
    assert result.code == 1
    assert "  <stdin>:1 item 1 Employee: missing: every push carries this key" in result.out
    assert "  <stdin>:1 item 1 city: missing: every push carries this key" in result.out


def test_in_json_lines_only_the_repaired_lines_say_so(cli, tmp_path):
    lines = [json.dumps(ecom_push(number=str(n))) for n in range(1, 5)]
    lines[1] = lines[1][:-1] + ",}"  # a trailing comma on line 2 only
    path = tmp_path / "capture.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = cli("ecom", "validate", path)
    assert result.code == 0, result.all
    headings = [line.split(f" {path}")[0] for line in result.out.splitlines()[:4]]
    assert headings == ["VALID  ", "VALID after repairing 1 formatting problem", "VALID  ",
                        "VALID  "]


def test_warnings_do_not_make_a_push_invalid(cli):
    result = cli("ecom", "validate", "-", input=json.dumps(ecom_push(code="4242", awb="X1")))
    assert result.code == 0, result.all
    assert result.out.startswith("VALID ")
    assert "  warning: <stdin>:1 item 1 awb:" in result.out
    assert "  warning: <stdin>:1 item 1 reason_code_number: \"4242\" is not a reason code" \
        in result.out
    assert result.out.splitlines()[-1] == "1 payload: 1 valid, 0 invalid (1 with warnings)"


def test_v2_push_one_message(cli):
    v2 = {"awb": "1", "date_time": "2024-03-05 14:07:09", "status_code": "777",
          "order_id": "O", "shipment_type": "forward", "employee_name": "E"}
    result = cli("ecom", "validate", "-", input=json.dumps(v2))
    assert result.code == 1
    problems = [line for line in result.out.splitlines() if line.startswith("  ")]
    assert len(problems) == 1 and "looks like a v2 push" in problems[0]


def test_a_list_and_json_lines(cli, tmp_path):
    (tmp_path / "list.json").write_text(json.dumps([ecom_push(number="1"), ecom_push(number="x")]))
    write_jsonl(tmp_path / "b.jsonl", [ecom_push(number="2"), {"awb": ""}])
    result = cli("ecom", "validate", tmp_path / "list.json", tmp_path / "b.jsonl")
    assert result.code == 1
    verdicts = [line.split()[0] for line in result.out.splitlines() if not line.startswith(" ")]
    assert verdicts[:4] == ["VALID", "INVALID", "VALID", "INVALID"]
    assert result.out.splitlines()[-1] == "4 payloads: 2 valid, 2 invalid"


def test_json_output_shape(cli, tmp_path):
    path = tmp_path / "two.jsonl"
    write_jsonl(path, [ecom_push(), ecom_push(number="4a", awb="AWB")])
    result = cli("ecom", "validate", path, "-o", "json")
    assert result.code == 1
    document = json.loads(result.out)  # exactly one JSON document on stdout
    assert document["summary"] == {"total": 2, "valid": 1, "invalid": 1, "with_warnings": 1,
                                   "interrupted": False, "exit_code": 1}
    first, second = document["results"]
    assert first["index"] == 1 and first["valid"] is True and first["errors"] == []
    assert first["status"] == "valid" and first["where"] == f"{path}:1 item 1"
    assert second["index"] == 2 and second["valid"] is False
    assert second["errors"] == [{"field": "status_update_number", "line": 2,
                                 "message": 'must be digits only (e.g. "44591782"), found "4a"'}]
    assert second["warnings"] == ['awb: "AWB": Ecom AWB numbers are digits only']


def test_json_output_of_nothing_is_still_one_document(cli, tmp_path):
    (tmp_path / "empty.json").write_text("[]")
    result = cli("ecom", "validate", tmp_path / "empty.json", "-o", "json")
    assert result.code == 0
    assert json.loads(result.out) == {"results": [], "summary": {
        "total": 0, "valid": 0, "invalid": 0, "with_warnings": 0, "interrupted": False,
        "exit_code": 0}}


def test_jsonl_output(cli, tmp_path):
    path = tmp_path / "two.jsonl"
    write_jsonl(path, [ecom_push(), ecom_push(number="")])
    result = cli("ecom", "validate", path, "-o", "jsonl")
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [r.get("valid") for r in records[:2]] == [True, False]
    assert records[2] == {"summary": {"total": 2, "valid": 1, "invalid": 1,
                                      "with_warnings": 0, "interrupted": False, "exit_code": 1}}


def test_unreadable_input_is_exit_2_with_file_line_and_column(cli):
    result = cli("ecom", "validate", "-", input='{\n  "awb": "1"\n  "city": "x"\n}\n')
    assert result.code == 2
    assert "<stdin>:3:" in result.err
    assert "Traceback" not in result.all


def test_no_input_on_a_terminal_is_a_usage_error(cli, monkeypatch):
    from shipctl.output import Output

    monkeypatch.setattr("shipctl.inputs.sources._isatty", lambda stream: True)
    monkeypatch.setattr(Output, "stdin_is_tty", property(lambda self: True))
    result = cli("ecom", "validate")
    assert result.code == 2
    assert "no input" in result.err


def test_prompt_only_on_a_terminal(cli, monkeypatch):
    from shipctl.ecom.validate import PASTE_PROMPT
    from shipctl.output import Output

    piped = cli("ecom", "validate", "-", input=json.dumps(ecom_push()))
    assert "Ctrl-D" not in piped.all
    monkeypatch.setattr(Output, "stdin_is_tty", property(lambda self: True))
    monkeypatch.setattr(Output, "stderr_is_tty", property(lambda self: True))
    typed = cli("ecom", "validate", "-", input=json.dumps(ecom_push()))
    assert typed.code == 0
    assert typed.err.startswith(PASTE_PROMPT + "\n") and "Ctrl-D" in PASTE_PROMPT
    assert "Ctrl-D" not in typed.out


@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_an_interrupted_json_output_is_still_one_document(tmp_path, output):
    """Ctrl-C (or SIGTERM) while a paste is still coming: the results so far and a summary
    saying it was interrupted, exit 130; never half a document."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipctl", "ecom", "validate", "-", "-o", output],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdin.write("".join(json.dumps(ecom_push(number=str(n))) + "\n"
                             for n in range(1, 4)).encode())
    proc.stdin.flush()
    time.sleep(2)  # it has read those and waits for more
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    if output == "json":
        document = json.loads(out)
    else:
        lines = [json.loads(line) for line in out.decode().splitlines()]
        document = {"results": lines[:-1], **lines[-1]}
    assert [r["label"] for r in document["results"]] == [f"8012345671 #{n}" for n in (1, 2, 3)]
    assert document["summary"]["interrupted"] is True
    assert document["summary"]["exit_code"] == 130
    assert b"Traceback" not in err


def test_print_fixed_prints_the_repaired_pushes(cli):
    """As `ewe validate --print-fixed`: stdout is clean JSON (one push as it is, several as
    one array) that anything reads; the verdicts and the summary go to stderr."""
    pasted = ("From the ticket:\n" + json.dumps(ecom_push(), indent=2)[:-2].replace('"', "'")
              + ",\n}\n")
    result = cli("ecom", "validate", "--print-fixed", input=pasted)
    assert result.code == 0, result.all
    assert json.loads(result.out) == ecom_push()
    assert "VALID after repairing " in result.err
    assert "1 payload: 1 valid, 0 invalid" in result.err

    two = json.dumps(ecom_push(number="1")) + "\n" + json.dumps(ecom_push(number="x")) + "\n"
    result = cli("ecom", "validate", "--print-fixed", input=two)
    assert result.code == 1
    assert json.loads(result.out) == [ecom_push(number="1"), ecom_push(number="x")]
    assert "  <stdin>:2 item 2 status_update_number: must be digits only" in result.err


@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_print_fixed_with_json_output_is_a_usage_error(cli, output):
    result = cli("ecom", "validate", "--print-fixed", "-o", output, input=json.dumps(ecom_push()))
    assert result.code == 2
    assert f"--print-fixed prints JSON of its own: use it without -o {output}" in result.err
    assert result.out == ""
