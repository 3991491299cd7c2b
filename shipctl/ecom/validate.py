"""`shipctl ecom validate`: a verdict on each push pasted from a ticket, with where each problem is.

Support staff paste a payload into ``shipctl ecom validate`` and press Ctrl-D. The shared
reader forgives what tickets do to JSON (trailing commas, single quotes, a Python dict repr,
typographic quotes, prose around it, several pushes back to back) and says so on stderr; the
rules are ``shipctl.ecom.push.check``.

Everything streams: text output prints each verdict as its payload is read, and ``-o json`` /
``-o jsonl`` write each record as it is ready, so memory does not grow with the input (a
million-line capture is validated in the memory of one payload). Exit 0 all valid, 1 any
invalid; unreadable input raises InputError (exit 2).
"""

from __future__ import annotations

import json
from typing import Any

PASTE_PROMPT = "Paste the push, then press Ctrl-D (Ctrl-Z Enter on Windows)"
_LABEL_WIDTH = 40


def run(app: Any, paths: list[str], *, recursive: bool) -> int:
    from shipctl.ecom.push import check
    from shipctl.inputs import read_items

    out = app.out
    sink = _Records(out) if out.json_mode else None
    valid = invalid = warned = 0
    repairs: dict[str, int] = {}  # "parsed leniently" warnings per file, for the verdict

    def warn(message: str) -> None:
        out.warn(message)
        file, lenient, _ = message.rpartition(": parsed leniently: ")
        if lenient:
            repairs[file] = repairs.get(file, 0) + 1

    if "-" in paths and out.stdin_is_tty and out.stderr_is_tty:
        out.info(PASTE_PROMPT)  # so that waiting for the paste does not look like a hang
    say = out.print
    try:
        for item in read_items(paths, recursive=recursive, warn=warn):
            verdict = check(item.data)
            if verdict.errors:
                invalid += 1
            else:
                valid += 1
            if verdict.warnings:
                warned += 1
            if sink is not None:
                sink.add(_record(item, verdict))
                continue
            if verdict.errors:
                heading = "INVALID"
            # item.text: a JSON Lines line strict JSON read as it is; the file's repairs were
            # on other lines
            elif item.text is None and repairs and repairs.get(item.location.file):
                count = repairs[item.location.file]
                heading = f"VALID after repairing {count} formatting problem{'s' * (count != 1)}"
            else:
                heading = "VALID  "
            say(f"{heading} {item.where()}  {label(item.data)}")
            for problem in verdict.errors:
                say(f"  {item.where(problem.path)}: {problem.message}")
            for problem in verdict.warnings:
                say(f"  warning: {item.where(problem.path)}: {problem.message}")
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (shipctl.cli): the counts so far, then 130
        if sink is not None:  # what is written stays one document
            sink.finish({"total": valid + invalid, "valid": valid, "invalid": invalid,
                         "with_warnings": warned, "interrupted": True, "exit_code": 130})
        else:
            out.print(f"{valid + invalid} read before the interruption: {valid} valid,"
                      f" {invalid} invalid")
        raise

    total = valid + invalid
    code = 1 if invalid else 0
    if sink is not None:
        sink.finish({"total": total, "valid": valid, "invalid": invalid,
                     "with_warnings": warned, "interrupted": False, "exit_code": code})
    else:
        noun = "payload" if total == 1 else "payloads"
        extra = f" ({warned} with warnings)" if warned else ""
        out.print(f"{total} {noun}: {valid} valid, {invalid} invalid{extra}")
    if not total:
        out.warn("no payloads found in the input")
    return code


def label(data: Any) -> str:
    """What a person recognises a scan by: its AWB and status_update_number."""
    if type(data) is not dict:
        return "-"
    awb, number = data.get("awb"), data.get("status_update_number")
    if type(awb) is str and type(number) is str and awb and number:  # the common case
        text = f"{awb} #{number}"
    else:
        text = str(awb) if isinstance(awb, str | int) and str(awb) else "-"
        if isinstance(number, str | int) and str(number):
            text += f" #{number}"
    if len(text) > _LABEL_WIDTH:
        from shipctl.output import shorten

        text = shorten(text, _LABEL_WIDTH)
    return text


def _record(item: Any, verdict: Any) -> dict[str, Any]:
    """The shared record (README "Results as JSON"), with validate's own keys."""
    return {
        "index": item.location.index,
        "where": item.where(),
        "label": label(item.data),
        "status": "valid" if verdict.valid else "invalid",
        "file": item.location.file,
        "line": item.location.line,
        "valid": verdict.valid,
        "v2": verdict.v2,
        "errors": [{"field": p.field, "line": item.line_of(p.path), "message": p.message}
                   for p in verdict.errors],
        "warnings": [f"{p.field}: {p.message}" if p.field else p.message
                     for p in verdict.warnings],
    }


class _Records:
    """``-o jsonl``: a record per line as it comes, then ``{"summary": …}``. ``-o json``: one
    document ``{"results": [...], "summary": {...}}`` written as it goes (results first, as
    the bulk runs write theirs), never held whole in memory."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.count = 0

    def _write(self, text: str) -> None:
        self.out.stdout.write(self.out.scrub(text))

    def add(self, record: dict[str, Any]) -> None:
        if self.out.json_lines:
            self.out.write_json_line(record)
            return
        self._write(('{"results": [\n' if self.count == 0 else ",\n")
                    + "  " + json.dumps(record, ensure_ascii=False))
        self.count += 1

    def finish(self, summary: dict[str, Any]) -> None:
        if self.out.json_lines:
            self.out.write_json_line({"summary": summary})
            return
        start = '{"results": []' if self.count == 0 else "\n]"
        self._write(start + ', "summary": ' + json.dumps(summary, ensure_ascii=False) + "}\n")
