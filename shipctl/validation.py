"""The validate kind of command: read every item, check it offline, say what is wrong and where.

``run(app, checker, paths, …)`` is the whole command: it reads through ``shipctl.inputs`` (the
one reader), asks the provider's ``Checker`` about each item, and prints a verdict per item as
it is read (so a large file shows progress and memory does not grow with the input), or streams
the records of ``-o json`` / ``-o jsonl`` (``output.Results``); then the summary and the exit
code: 0 all valid, 1 any invalid. Input that cannot be read raises InputError (exit 2).
``--print-fixed`` prints each item as clean JSON on stdout instead, the verdicts on stderr.

A provider supplies only its ``Checker``: what an item's problems are, its label, the keys of
its own beside the shared record (README "Results as JSON"), and its fixed form. ``Problem``
is every provider's word for one thing wrong with an item; the models of each provider use it.

Nothing here imports a provider, the terminal, or anything heavy at module level: the models
import ``Problem`` from here, and the Ecom receiver imports its models per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from shipctl.inputs.csvreader import ColumnCheck
from shipctl.inputs.items import Item, Path_, Repair, dotted
from shipctl.output import LINE_WIDTH, shorten


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with (or worth a look in) an item, worded for support staff."""

    path: Path_  # ("to", "phone"); () for the item as a whole
    message: str

    @property
    def field(self) -> str:
        return dotted(self.path)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.path else self.message


Problems = list[Problem]  # in the order of their fields in the input, as a person reads it


class Verdict(Protocol):
    """What a checker found in one item: ``problems`` make it invalid, ``warnings`` do not."""

    problems: Problems
    warnings: Problems

    @property
    def valid(self) -> bool: ...


@dataclass
class Counts:
    """The running counts of a validate run, for its summary."""

    valid: int = 0
    invalid: int = 0
    warned: int = 0  # items with at least one warning
    interrupted: bool = False

    @property
    def total(self) -> int:
        return self.valid + self.invalid


class Checker(Protocol):
    """A provider's part of its ``validate`` command."""

    noun: str  # what an item is called in the summary: "item", "payload"
    paste_prompt: str  # said on stderr when stdin is a terminal, so the wait is not a hang
    allow_csv: bool
    check_column: ColumnCheck | None  # the provider's judgement of a CSV column's field path
    # True: an item's warnings are listed under its verdict on stdout, counted in the summary
    # ("with warnings"); False: said on stderr as each item is checked, like the run's warnings
    warnings_in_verdict: bool

    def check(self, item: Item) -> Verdict: ...

    def label(self, item: Item, verdict: Verdict) -> str:
        """What a person recognises the item by (a reference, an AWB), "-" when nothing."""

    def record(self, item: Item, verdict: Verdict) -> dict[str, Any]:
        """The provider's own keys of the item's record, beside the shared ones."""

    def summary(self, counts: Counts) -> dict[str, Any]:
        """The provider's own keys of the summary, beside total/valid/invalid/exit_code."""

    def fixed(self, item: Item) -> Any:
        """The item as ``--print-fixed`` prints it (what would be sent, minus any secret)."""


def repaired_verdict(repairs: int) -> str:
    """The verdict of a valid item whose text the lenient reader had to repair: so that
    "VALID" beside "warning: parsed leniently" reads as what it is."""
    return f"VALID after repairing {repairs} formatting problem{'' if repairs == 1 else 's'}"


def pasting(paths: list[str], out: Any) -> bool:
    """Whether a payload is about to be typed or pasted on the terminal (``validate -``)."""
    return "-" in paths and out.stdin_is_tty and out.stderr_is_tty


def run(app: Any, checker: Checker, paths: list[str], *, recursive: bool,
        print_fixed: bool = False) -> int:
    """The command: every item of ``paths`` checked; the exit code."""
    from shipctl.errors import ExitCode, ShipctlError, UsageError
    from shipctl.inputs import read_items

    out = app.out
    if print_fixed and out.json_mode:
        option = "-o jsonl" if out.json_lines else "-o json"
        raise UsageError(f"--print-fixed prints JSON of its own: use it without {option}")
    report = _Report(out, checker, print_fixed)
    if pasting(paths, out):
        out.info(checker.paste_prompt)
    items = read_items(paths, recursive=recursive, allow_csv=checker.allow_csv,
                       warn=report.warn, check_column=checker.check_column)
    try:
        for item in items:
            report.item(item, checker.check(item))
        return report.finish()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (shipctl.cli): the counts so far, then 130
        report.counts.interrupted = True
        report.stop(int(ExitCode.INTERRUPTED))
        raise
    except ShipctlError as error:  # unreadable input: what was written stays one document
        report.stop(int(error.exit_code))
        raise


class _Report:
    """The verdicts, records and summary of one run, as they are written."""

    def __init__(self, out: Any, checker: Checker, print_fixed: bool) -> None:
        self.out = out
        self.checker = checker
        self.counts = Counts()
        self.results = out.results() if out.json_mode else None
        # --print-fixed: stdout is the clean JSON only; verdicts go to stderr
        self.say = out.info if print_fixed else out.print
        self.fixed = _FixedPrinter(out) if print_fixed else None
        self.repairs: dict[str, int] = {}  # what the lenient reader repaired, per file

    def warn(self, message: str) -> None:
        self.out.warn(message)
        if isinstance(message, Repair):
            self.repairs[message.file] = self.repairs.get(message.file, 0) + 1

    def item(self, item: Item, verdict: Verdict) -> None:
        counts, checker = self.counts, self.checker
        if verdict.problems:
            counts.invalid += 1
        else:
            counts.valid += 1
        if verdict.warnings:
            counts.warned += 1
            if not checker.warnings_in_verdict:
                for warning in verdict.warnings:  # sent all the same: the API decides
                    self.out.warn(f"{item.where(warning.path)}: {warning.message}")
        if self.fixed is not None:
            self.fixed.add(checker.fixed(item), item)
        label = checker.label(item, verdict)
        if self.results is not None:
            self.results.add(self._record(item, verdict, label))
            return
        self._verdict(item, verdict, label)

    def _verdict(self, item: Item, verdict: Verdict, label: str) -> None:
        say = self.say
        if verdict.problems:
            heading = "INVALID"
        # item.text: a JSON Lines line strict JSON read as it is; its file's repairs were on
        # other lines
        elif item.text is None and self.repairs and self.repairs.get(item.location.file):
            heading = repaired_verdict(self.repairs[item.location.file])
        else:
            heading = "VALID  "
        if len(label) > LINE_WIDTH:
            label = shorten(label, LINE_WIDTH)
        say(f"{heading} {item.where()}  {label}")
        for problem in verdict.problems:
            say(f"  {item.where(problem.path)}: {problem.message}")
        if self.checker.warnings_in_verdict:
            for problem in verdict.warnings:
                say(f"  warning: {item.where(problem.path)}: {problem.message}")

    def _record(self, item: Item, verdict: Verdict, label: str) -> dict[str, Any]:
        """The shared record (README "Results as JSON"), with the checker's own keys."""
        location = item.location
        valid = not verdict.problems
        return {
            "where": item.where(),
            "label": label,
            "status": "valid" if valid else "invalid",
            "file": location.file,
            "line": location.line,
            "index": location.index,
            "valid": valid,
            **self.checker.record(item, verdict),
            "errors": [{"field": p.field, "line": item.line_of(p.path), "message": p.message}
                       for p in verdict.problems],
            "warnings": [str(p) for p in verdict.warnings],
        }

    def _summary(self, code: int) -> dict[str, Any]:
        counts = self.counts
        return {"total": counts.total, "valid": counts.valid, "invalid": counts.invalid,
                **self.checker.summary(counts), "exit_code": code}

    def _summary_line(self) -> str:
        counts, checker = self.counts, self.checker
        noun = checker.noun if counts.total == 1 else checker.noun + "s"
        extra = ""
        if checker.warnings_in_verdict and counts.warned:
            extra = f" ({counts.warned} with warnings)"
        return f"{counts.total} {noun}: {counts.valid} valid, {counts.invalid} invalid{extra}"

    def finish(self) -> int:
        code = 1 if self.counts.invalid else 0
        if self.results is not None:
            self.results.finish(self._summary(code))
        else:
            self.say(self._summary_line())
        if self.fixed is not None:
            self.fixed.finish()
        if not self.counts.total:
            self.out.warn(f"no {self.checker.noun}s found in the input")
        return code

    def stop(self, code: int) -> None:
        """Stopped before the end: when something was written, the counts so far (a document
        of -o json stays whole, saying so); otherwise nothing, as if it never started."""
        counts = self.counts
        if self.results is not None:
            self.results.stop(self._summary(code), interrupted=counts.interrupted)
        elif counts.total and counts.interrupted:
            self.say(f"{counts.total} read before the interruption: {counts.valid} valid,"
                     f" {counts.invalid} invalid")


class _FixedPrinter:
    """``--print-fixed``: each item as clean JSON on stdout — one object as it is, several as
    one JSON array (streamed) — so what is printed can be sent back and read by anything."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.held: Any = None
        self.count = 0

    def add(self, data: Any, item: Item) -> None:
        data = self._json_numbers(data, (), item)
        self.count += 1
        if self.count == 1:
            self.held = data
            return
        if self.count == 2:
            self._write("[\n" + self._json(self.held, indent=1))
            self.held = None
        self._write(",\n" + self._json(data, indent=1))

    def finish(self) -> None:
        if self.count == 1:
            self._write(self._json(self.held) + "\n")
        elif self.count > 1:
            self._write("\n]\n")

    def _json_numbers(self, node: Any, path: Path_, item: Item) -> Any:
        """NaN and Infinity are not JSON that anything but Python reads: each is printed as
        its text ("NaN"), with a warning; validating what was printed still refuses it."""
        if isinstance(node, float) and not math.isfinite(node):
            text = "NaN" if math.isnan(node) else ("Infinity" if node > 0 else "-Infinity")
            self.out.warn(f"{item.where(path)}: {text} is not a number JSON can hold: printed"
                          f' as the text "{text}"')
            return text
        if isinstance(node, dict):
            return {k: self._json_numbers(v, (*path, k), item) for k, v in node.items()}
        if isinstance(node, list):
            return [self._json_numbers(v, (*path, n), item) for n, v in enumerate(node)]
        return node

    @staticmethod
    def _json(data: Any, indent: int = 0) -> str:
        from shipctl.plainjson import layout

        # decimals with the digits they were written with: 0.0000001 stays 0.0000001
        pad = "  " * indent
        return pad + layout(data, "\n" + pad)

    def _write(self, text: str) -> None:
        self.out.stdout.write(self.out.scrub(text))

