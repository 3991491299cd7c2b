"""Pasting a payload: the prompt on a terminal, a paste quoted as an email reply,
--print-fixed, and a verdict that says what was repaired."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from factories import ewe_request

from shipctl.ewe.validate import PASTE_PROMPT
from shipctl.inputs.lenient import unquote_email
from shipctl.validation import pasting, repaired_verdict


def _sloppy(body: dict) -> str:
    """BODY as someone pastes it from a ticket: a comment and a trailing comma."""
    text = json.dumps(body, indent=2)
    return text.replace('{\n', '{ // from the ticket\n', 1)[:-2] + ",\n}\n"


def _quoted(text: str, mark: str = "> ") -> str:
    return "".join(mark + line if line.strip() else line
                   for line in text.splitlines(keepends=True))


@pytest.mark.timeout(30)
def test_prompt_only_when_pasting_on_a_terminal():
    def terminal(stdin: bool, stderr: bool) -> SimpleNamespace:
        return SimpleNamespace(stdin_is_tty=stdin, stderr_is_tty=stderr)

    assert pasting(["-"], terminal(True, True))
    assert "Ctrl-D" in PASTE_PROMPT and "Ctrl-Z Enter on Windows" in PASTE_PROMPT
    assert not pasting(["-"], terminal(False, True))  # a pipe
    assert not pasting(["-"], terminal(True, False))
    assert not pasting(["a.json"], terminal(True, True))


@pytest.mark.timeout(30)
def test_no_prompt_when_stdin_is_piped(cli):
    result = cli("ewe", "validate", "-", input=json.dumps(ewe_request("P-1")))
    assert result.code == 0, result.all
    assert "Paste" not in result.all


@pytest.mark.timeout(30)
def test_prompt_goes_to_stderr_on_a_terminal(cli, monkeypatch):
    from shipctl.output import Output

    monkeypatch.setattr(Output, "stdin_is_tty", property(lambda self: True))
    monkeypatch.setattr(Output, "stderr_is_tty", property(lambda self: True))
    result = cli("ewe", "validate", "-", input=json.dumps(ewe_request("P-1")))
    assert result.code == 0, result.all
    assert result.err.startswith(PASTE_PROMPT + "\n")
    assert "Paste" not in result.out


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mark", ["> ", ">", ">> ", "> > "])
def test_email_quoted_paste_is_read_with_a_warning(cli, mark):
    body = ewe_request("Q-1")
    result = cli("ewe", "validate", "-", input=_quoted(json.dumps(body, indent=2), mark))
    assert result.code == 0, result.all
    assert "warning: <stdin>: parsed leniently: email quoting (> ) removed\n" in result.err
    assert "Q-1" in result.out


@pytest.mark.timeout(30)
def test_quoted_paste_errors_point_into_the_users_text(cli):
    text = '> {\n>   "referenceNo": "R-1"\n>   "reason": "x"\n> }\n'
    result = cli("ewe", "validate", "-", input=text)
    assert result.code == 2
    assert "<stdin>:3:5:" in result.err  # line 3, column 5 of what was pasted


@pytest.mark.timeout(30)
def test_unquote_email_keeps_lines_and_columns():
    assert unquote_email('> {\n>\n>  "a": 1\n> }\n') == '  {\n \n   "a": 1\n  }\n'
    assert unquote_email('{\n> "a": 1\n}') is None  # not every line is quoted
    assert unquote_email("a: > b\n") is None


@pytest.mark.timeout(30)
def test_verdict_says_what_was_repaired(cli):
    result = cli("ewe", "validate", "-", input=_quoted(_sloppy(ewe_request("V-1"))))
    assert result.code == 0, result.all
    assert result.err.count("parsed leniently") == 3
    verdict = result.out.splitlines()[0]
    assert verdict.startswith("VALID after repairing 3 formatting problems <stdin>:")
    assert repaired_verdict(1) == "VALID after repairing 1 formatting problem"


@pytest.mark.timeout(30)
def test_clean_input_keeps_the_plain_verdict(cli):
    result = cli("ewe", "validate", "-", input=json.dumps(ewe_request("V-2")))
    assert result.out.startswith("VALID   <stdin>:1")


@pytest.mark.timeout(30)
def test_print_fixed_prints_the_repaired_json(cli):
    body = ewe_request("F-1")
    result = cli("ewe", "validate", "-", "--print-fixed", input=_quoted(_sloppy(body)))
    assert result.code == 0, result.all
    assert json.loads(result.out) == body  # stdout is the clean payload, nothing else
    assert "VALID after repairing 3 formatting problems" in result.err
    assert "1 item: 1 valid, 0 invalid" in result.err


@pytest.mark.timeout(30)
def test_print_fixed_several_items_is_one_json_array(cli, tmp_path):
    bodies = [ewe_request("F-1"), ewe_request("F-2")]
    bodies[1]["digest"] = "c2VjcmV0LWRpZ2VzdA=="
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(json.dumps(b) + "," for b in bodies) + "\n")
    result = cli("ewe", "validate", path, "--print-fixed")
    assert result.code == 0, result.all
    expected = [bodies[0], {k: v for k, v in bodies[1].items() if k != "digest"}]
    assert json.loads(result.out) == expected
    assert "c2VjcmV0LWRpZ2VzdA==" not in result.all
    assert "leaves out 'digest'" in result.err


@pytest.mark.timeout(30)
def test_print_fixed_with_json_output_is_a_usage_error(cli):
    result = cli("ewe", "validate", "-", "--print-fixed", "-o", "json", input="{}")
    assert result.code == 2 and "--print-fixed" in result.err
