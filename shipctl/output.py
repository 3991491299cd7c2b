"""Everything shipctl writes to the terminal goes through ``Output``.

Results go to stdout, progress/warnings/logs to stderr. ``-o json`` means exactly one JSON
document on stdout. Colour (``--color auto``) only on a terminal and never with NO_COLOR;
``--color always`` / ``never`` decide regardless (never in json mode). Rich is imported only
when a table or progress bar is actually drawn, to keep start-up fast.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from shipctl import secrets


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no such method, closed, or a dead fd
        return False


# how wide a single value may be on a line of its own (a 50 MB referenceNo must not flood it)
LINE_WIDTH = 80


def shorten(text: str, width: int, *, middle: bool = False) -> str:
    """``text`` cut to at most ``width`` characters with "…" where it was cut.

    ``middle``: keep both ends — for a source location the end ("…:14 item 3") matters as much
    as the start of the file name.
    """
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    if middle:
        head = (width - 1) // 2
        return text[:head] + "…" + text[len(text) - (width - 1 - head):]
    return text[: width - 1] + "…"


def visible(text: str, *, short: bool = False) -> str:
    """``text`` safe for a terminal or a log line: every character that is not printable as
    itself written as its escape, ``\\u001b`` (``\\x1b`` below U+0100 with ``short``): C0
    and C1 controls (an escape sequence could repaint the screen, a newline forge a line),
    bidi overrides and isolates (they reorder what a reader sees), U+2028/U+2029 (line breaks
    to many viewers), NBSP and other format characters. Python's ``isprintable`` is exactly
    that set."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(ord(c), short) for c in text)


def _escaped(code: int, short: bool) -> str:
    if short and code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class Output:
    def __init__(self, *, json_mode: bool = False, show_secrets: bool = False) -> None:
        self.json_mode = json_mode
        # -o jsonl (with json_mode): results as JSON Lines, one record per line as it is ready
        self.json_lines = False
        self.show_secrets = show_secrets
        # --quiet: bulk runs print only the items that went wrong, and the summary
        self.quiet = False
        # --color: "auto" (on a terminal, unless NO_COLOR), "always" or "never"
        self.color_choice = "auto"

    # streams are looked up on each call so pytest's capture and CliRunner see our writes
    @property
    def stdout(self) -> Any:
        return sys.stdout

    @property
    def stderr(self) -> Any:
        return sys.stderr

    @property
    def stdout_is_tty(self) -> bool:
        return _isatty(sys.stdout)

    @property
    def stderr_is_tty(self) -> bool:
        return _isatty(sys.stderr)

    @property
    def stdin_is_tty(self) -> bool:
        return _isatty(sys.stdin)

    @property
    def color(self) -> bool:
        if self.json_mode or self.color_choice == "never":
            return False
        if self.color_choice == "always":
            return True
        return self.stdout_is_tty and "NO_COLOR" not in os.environ

    def scrub(self, text: str) -> str:
        return text if self.show_secrets else secrets.redact(text)

    # -- stdout -------------------------------------------------------------------------------
    def print(self, text: str = "") -> None:
        """One line of result text on stdout (suppressed in json mode)."""
        if self.json_mode:
            return
        self.stdout.write(self.scrub(text) + "\n")

    def write_json(self, document: Any) -> None:
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        self.stdout.write(self.scrub(text) + "\n")

    def results(self, *, masked: bool = True) -> Results:
        """Where the records of ``-o json`` / ``-o jsonl`` go (bulk runs, dry runs, validate)."""
        return Results(self, masked=masked)

    def table(self, columns: list[str], rows: list[list[str]], title: str | None = None) -> None:
        """A table for people: rich on a terminal, tab-separated plain text otherwise."""
        if self.json_mode:
            return
        if self.stdout_is_tty:
            from rich.console import Console
            from rich.table import Table

            table = Table(*columns, title=title)
            for row in rows:
                table.add_row(*(self.scrub(str(c)) for c in row))
            Console(no_color=not self.color, highlight=False).print(table)
        else:
            self.stdout.write("\t".join(columns) + "\n")
            for row in rows:
                self.stdout.write(self.scrub("\t".join(str(c) for c in row)) + "\n")

    # -- stderr -------------------------------------------------------------------------------
    def info(self, text: str) -> None:
        self.stderr.write(self.scrub(text) + "\n")

    def warn(self, text: str) -> None:
        self.stderr.write(self.scrub(f"warning: {text}") + "\n")


# Set by the command line's SIGINT/SIGTERM handler (shipctl.cli) besides raising
# KeyboardInterrupt: a KeyboardInterrupt raised inside a __del__ or a callback is swallowed
# ("Exception ignored in …"), and the command then runs to its end none the wiser.
signalled = False


class Results:
    """The records of ``-o json`` / ``-o jsonl`` and their summary, each written as it is ready,
    so memory does not grow with the input (bulk runs, dry runs, validate).

    ``-o jsonl``: a record per line, flushed (for ``jq`` and log shippers), then
    ``{"summary": {...}}``. ``-o json``: one document ``{"results": [...], "summary": {...}}``,
    streamed, byte for byte what ``json.dumps(document, indent=2)`` writes but for numbers,
    which keep the digits the input wrote (``shipctl.plainjson``: a dry run shows what is
    sent). ``masked``: every registered secret masked in what is written; False when each
    record comes masked as it should be (a dry run's body is printed as it is sent).
    """

    def __init__(self, out: Output, *, masked: bool = True) -> None:
        from shipctl.plainjson import layout

        self.out = out
        self.written = 0  # records written
        self.finished = False
        self._layout = layout
        self._masked = masked

    def add(self, record: Any) -> None:
        if self.out.json_lines:
            self._write(self._layout(record) + "\n", flush=True)
        else:
            text = self._layout(record, "\n    ")
            self._write(('{\n  "results": [\n    ' if self.written == 0 else ",\n    ") + text)
        self.written += 1

    def finish(self, summary: dict[str, Any], *, stopped: bool = False) -> None:
        """The summary, closing the document. ``stopped``: the summary says the run was cut
        short (interrupted, or its input unreadable), so it may be written after a signal."""
        if self.finished:
            return
        if signalled and not stopped:  # interrupted, and the KeyboardInterrupt was lost on its
            raise KeyboardInterrupt  # way up: never write the results as if they were whole
        self.finished = True
        if self.out.json_lines:
            self._write(self._layout({"summary": summary}) + "\n", flush=True)
            return
        text = self._layout(summary, "\n  ")
        start = '{\n  "results": [],' if self.written == 0 else "\n  ],"
        self._write(f'{start}\n  "summary": {text}\n}}\n', flush=True)

    def stop(self, summary: dict[str, Any], *, interrupted: bool = False) -> None:
        """Stopped before the end (interrupted, or the input unreadable): when records were
        written, ``summary`` (the counts so far) closes the document, which stays one document
        and says ``interrupted: true`` with ``interrupted``; when none were, nothing is
        written, as if the run never started."""
        if not self.written:
            return
        if interrupted:
            summary = {**summary, "interrupted": True}
        self.finish(summary, stopped=True)

    def _write(self, text: str, flush: bool = False) -> None:
        stdout = self.out.stdout
        stdout.write(printable(self.out.scrub(text) if self._masked else text))
        if flush:
            stdout.flush()


def printable(text: str) -> str:
    """TEXT as UTF-8 can carry it (stdout, a report, SQLite): a lone surrogate (from a
    "\\ud800" escape in the input, which no UTF-8 holds) as that escape, which inside a JSON
    string is JSON's own escape."""
    if text.isascii():  # no surrogate, and a check that costs nothing
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
