"""The validate contract (shipctl.validation) with a stand-in checker, and the one results
writer (output.Results): what every validate command gets without writing it itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

import pytest

from shipctl import output, plainjson, validation
from shipctl.errors import InputError
from shipctl.inputs import Repair, WrittenFloat
from shipctl.output import Output
from shipctl.validation import Problem


@dataclass
class Verdict:
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


class Checker:
    """Items {"id": …, "bad": bool, "note": bool}; ``stop_at``: raise this at that id."""

    noun = "thing"
    paste_prompt = "Paste a thing"
    allow_csv = False
    check_column = None
    warnings_in_verdict = True

    def __init__(self, stop_at: object = None, error: BaseException | None = None) -> None:
        self.stop_at, self.error = stop_at, error

    def check(self, item):
        if item.data.get("id") == self.stop_at:
            raise self.error
        verdict = Verdict()
        if item.data.get("bad"):
            verdict.problems.append(Problem(("bad",), "is bad"))
        if item.data.get("note"):
            verdict.warnings.append(Problem((), "a note"))
        return verdict

    def label(self, item, verdict):
        return str(item.data.get("id", "-"))

    def record(self, item, verdict):
        return {"own": True}

    def summary(self, counts):
        return {"things": counts.total}

    def fixed(self, item):
        return item.data


def run(tmp_path, items, *args, checker=None, **options):
    path = tmp_path / "things.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    out = Output(json_mode=bool(args))
    out.json_lines = args == ("jsonl",)
    app = SimpleNamespace(out=out)
    return validation.run(app, checker or Checker(), [str(path)], recursive=False, **options)


def test_text_verdicts_problems_warnings_and_summary(tmp_path, capsys):
    code = run(tmp_path, [{"id": 1}, {"id": 2, "bad": True, "note": True}])
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "things.jsonl"
    assert code == 1
    assert out == [f"VALID   {path}:1 item 1  1", f"INVALID {path}:2 item 2  2",
                   f"  {path}:2 item 2 bad: is bad", f"  warning: {path}:2 item 2: a note",
                   "2 things: 1 valid, 1 invalid (1 with warnings)"]


def test_json_record_and_summary_keys_in_one_order(tmp_path, capsys):
    assert run(tmp_path, [{"id": 1, "bad": True}], "json") == 1
    text = capsys.readouterr().out
    document = json.loads(text)
    assert text == json.dumps(document, indent=2) + "\n"  # json.dumps's own layout, streamed
    assert list(document) == ["results", "summary"]
    [record] = document["results"]
    assert list(record) == ["where", "label", "status", "file", "line", "index", "valid", "own",
                            "errors", "warnings"]
    assert record["errors"] == [{"field": "bad", "line": 1, "message": "is bad"}]
    assert document["summary"] == {"total": 1, "valid": 0, "invalid": 1, "things": 1,
                                   "exit_code": 1}


@pytest.mark.parametrize("mode", ["json", "jsonl"])
def test_an_interruption_closes_what_was_written(tmp_path, capsys, mode):
    checker = Checker(stop_at=3, error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, [{"id": 1}, {"id": 2}, {"id": 3}], mode, checker=checker)
    text = capsys.readouterr().out
    if mode == "json":
        document = json.loads(text)
    else:
        lines = [json.loads(line) for line in text.splitlines()]
        document = {"results": lines[:-1], **lines[-1]}
    assert [r["label"] for r in document["results"]] == ["1", "2"]
    assert document["summary"]["interrupted"] is True
    assert document["summary"]["exit_code"] == 130


def test_unreadable_input_after_some_records_still_closes_the_document(tmp_path, capsys):
    checker = Checker(stop_at=2, error=InputError("things.jsonl:2: broken"))
    with pytest.raises(InputError):
        run(tmp_path, [{"id": 1}, {"id": 2}], "json", checker=checker)
    document = json.loads(capsys.readouterr().out)
    assert len(document["results"]) == 1 and document["summary"]["exit_code"] == 2


def test_stopped_before_anything_was_written_writes_nothing(tmp_path, capsys):
    for args in [(), ("json",)]:
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path, [{"id": 1}], *args, checker=Checker(1, KeyboardInterrupt()))
        assert capsys.readouterr().out == ""


def test_repairs_are_counted_from_the_readers_mark_not_its_words(tmp_path, capsys):
    path = tmp_path / "things.jsonl"
    path.write_text('{"id": 1}\n{"id": 2,}\n')
    app = SimpleNamespace(out=Output())
    assert validation.run(app, Checker(), [str(path)], recursive=False) == 0
    captured = capsys.readouterr()
    assert "parsed leniently" in captured.err
    headings = [line.split(f" {path}")[0] for line in captured.out.splitlines()[:2]]
    assert headings == ["VALID  ", "VALID after repairing 1 formatting problem"]
    repair = Repair("a.json", "trailing comma at line 2")
    assert repair == "a.json: parsed leniently: trailing comma at line 2"
    assert repair.file == "a.json"


def test_print_fixed_is_clean_json_and_verdicts_go_to_stderr(tmp_path, capsys):
    assert run(tmp_path, [{"id": 1}, {"id": 2}], print_fixed=True) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"id": 1}, {"id": 2}]
    assert "2 things: 2 valid, 0 invalid" in captured.err


def test_the_writer_is_json_dumps_layout_with_exact_numbers(capsys):
    out = Output(json_mode=True)
    results = out.results()
    records = [{"a": [1, {"b": None}], "c": {}, "d": []}, {"w": WrittenFloat("0.0000001")}]
    for record in records:
        results.add(record)
    results.finish({"total": 2})
    text = capsys.readouterr().out
    assert text == plainjson.dumps({"results": records, "summary": {"total": 2}}, indent=2,
                                   ensure_ascii=False) + "\n"
    assert '"w": 0.0000001' in text  # not 1e-07
    assert json.loads(text, parse_float=Decimal)["results"][1]["w"] == Decimal("0.0000001")


@pytest.mark.parametrize("value", [
    {"a": "é\n\"", "b": [True, False, None], "c": (1, "x")}, {1: "x", None: 2}, [[]], {},
    {"f": 1.5, "d": Decimal("1E-7"), "n": float("nan")}, "text", 3, {"o": object()},
])
def test_layout_is_dumps(value):
    for pad, options in (("", {}), ("\n", {"indent": 2})):
        assert plainjson.layout(value, pad) == plainjson.dumps(value, ensure_ascii=False,
                                                               **options)


def test_a_lone_surrogate_is_written_as_its_escape(capsys):
    out = Output(json_mode=True)
    out.json_lines = True
    results = out.results()
    results.add({"label": "\ud800"})
    results.finish({"total": 1})
    assert capsys.readouterr().out.splitlines()[0] == '{"label": "\\ud800"}'
    assert output.printable("ok") == "ok"
