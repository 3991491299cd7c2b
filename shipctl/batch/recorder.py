"""Recording finished items: journal, report, ``-o json`` stream, terminal
(docs/conventions.md, Output).

Given a settled job, ``Recorder.finish`` writes it everywhere it goes, in this order: the
journal first (durably: if we die between the two, a re-run reports it as skipped), then the
report, the JSON stream and the terminal. It knows nothing of threads or signals: the engine
calls it under its lock, one item at a time, so records are never interleaved.

- stderr: on a terminal, a progress bar with count, rate and ETA (failed, invalid and blocked
  items are printed above it); otherwise one line per finished item (``item_line``). With
  ``out.quiet`` (--quiet): no bar, and only the lines of items in ``QUIET_SHOWN``.
- stdout, text mode: only the final summary line; json mode: exactly one JSON document
  ``{"results": [...], "summary": {...}}``, streamed one record at a time so memory stays flat
  however long the input; ``-o jsonl`` (``out.json_lines``): one record per line as each item
  finishes, then a last line ``{"summary": {...}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipctl import secrets
from shipctl.batch.vocabulary import (
    LINE_FIELD_MAX,
    NOTEWORTHY,
    QUIET_SHOWN,
    RECORD_FIELD_MAX,
    UNKNOWN,
    Job,
    Summary,
    error_records,
    key_text,
)
from shipctl.errors import UsageError
from shipctl.output import Output, Results, printable, shorten


def utc_now() -> str:
    """Now as ISO 8601 in UTC, to the millisecond: ``2025-03-04T02:00:01.123Z``."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def record(index: int, job: Job, status: str, message: str, code: Any, attempts: int,
           elapsed_ms: int | None, finished_at: str | None = None) -> dict[str, Any]:
    """One item as reports, journal and JSON show it (label, where and key capped)."""
    key = key_text(job.keys)  # one key as it is, several joined with a space, or None
    return {
        "index": index,
        "where": shorten(printable(str(job.where)), RECORD_FIELD_MAX, middle=True),
        "label": shorten(printable(str(job.label)), RECORD_FIELD_MAX),
        "key": None if key is None else shorten(printable(str(key)), RECORD_FIELD_MAX),
        "status": status,
        "code": code,
        "message": printable(message),
        "attempts": attempts,
        "elapsed_ms": elapsed_ms,
        # why an invalid item is invalid, one record per problem: {field, line, message}, as
        # `validate -o json` gives them (in -o json and JSON Lines reports; CSV has `message`)
        "errors": error_records(job.problems),
        "warnings": list(job.warnings),
        "finished_at": finished_at or utc_now(),
    }


def item_line(record: dict[str, Any]) -> str:
    """``succeeded  TEST0001  bulk.jsonl:1 item 1  Modify success!``"""
    label = shorten(str(record["label"] or "-"), LINE_FIELD_MAX)
    where = shorten(str(record["where"]), LINE_FIELD_MAX, middle=True)
    text = f"{record['status']:<9}  {label}  {where}  {record['message']}"
    return text.replace("\r", " ").replace("\n", " ")  # one item, one line


class Recorder:
    """Where finished items go. ``open_files`` (may refuse) → ``start`` → ``finish``… →
    ``close``; the counts go to ``summary``."""

    def __init__(self, out: Output, summary: Summary, total: int | None) -> None:
        self.out = out
        self.summary = summary
        self.total_hint = total
        self.journal: Any = None
        self.report: Any = None
        self.progress: _Progress | None = None
        self.json: Results | None = None

    def open_files(self, journal: Path | None, report: Path | None, command: str, *,
                   use_journal: bool = True, journal_lock: Any = None) -> None:
        """Open (or refuse, with a UsageError) journal and report, before anything is written.
        ``use_journal`` False: the journal is not opened (--strict holds everything back).
        ``journal_lock``: the caller holds the journal already (``journal.JournalLock``).

        The report is opened first (not yet emptied): a report that cannot be written stops
        the run before a journal is created or a run recorded in one. If the journal is then
        refused, the report is left as it was (removed if it is new)."""
        from shipctl.journal import Journal
        from shipctl.report import ReportWriter

        if journal and report and Path(journal).resolve() == Path(report).resolve():
            raise UsageError(f"--journal and --report are the same file ({report})")
        if report is not None:
            self.report = ReportWriter.open(Path(report))
        try:
            if journal is not None and use_journal:
                self.journal = Journal.open(Path(journal), command=command, lock=journal_lock)
        except BaseException:
            if self.report is not None:
                self.report.abandon()
                self.report = None
            raise
        try:
            if self.report is not None:
                self.report.begin()
        except BaseException:
            self.refuse()
            raise

    def refuse(self) -> None:
        """The run stops before it began (after open_files): the journal forgets this run
        (no ``runs`` row claiming an outcome), the report is left as it was."""
        if self.journal is not None:
            self.journal.discard()
            self.journal.close()
            self.journal = None
        if self.report is not None:
            self.report.abandon()
            self.report = None

    def start(self) -> None:
        """stdout and stderr from here on: the JSON document opens, the bar appears."""
        if self.out.json_mode:
            self.json = self.out.results()
        if self.out.stderr_is_tty and not self.out.quiet:
            self.progress = _Progress(self.total_hint)

    def finish(self, index: int, job: Job, status: str, message: str, code: Any = None,
               attempts: int = 0, elapsed_ms: int | None = None,
               detail: dict | None = None, parts: dict[str, Any] | None = None) -> None:
        """One finished item, everywhere it goes (journal first, its ``parts`` with it)."""
        self.summary.counts[status] += 1
        message = secrets.redact(str(message))
        item = record(index, job, status, message, code, attempts, elapsed_ms)
        if self.journal is not None:
            # Journal first: if we die between the two, the re-run reports it as skipped.
            self._journal(job, item, parts)
        if detail:
            item["detail"] = detail
        if self.report is not None:
            self.report.write(item)
        if self.json is not None:
            self.json.add(item)
        if self.progress is not None:
            if status in NOTEWORTHY:
                self.progress.note(self.out.scrub(item_line(item)))
            self.progress.advance()
        elif status in QUIET_SHOWN or not self.out.quiet:
            # --quiet: a re-run lists only what went wrong, not every skipped item
            self.out.info(item_line(item))

    def sending(self, job: Job) -> None:
        """``job``, whose call is not idempotent, is about to be sent: journal it ``unknown``
        first, so a run killed before its outcome is recorded (kill -9, a power cut) leaves a
        row that a re-run verifies, not a job it sends a second time. Its outcome replaces
        the row; nothing else is written (no report line, no count)."""
        if self.journal is None:
            return
        message = ("sent; the run ended before its outcome was recorded: it may have been"
                   " applied; a re-run verifies it before sending")
        self._journal(job, record(0, job, UNKNOWN, message, None, 0, None))

    def _journal(self, job: Job, item: dict[str, Any], parts: dict[str, Any] | None = None
                 ) -> None:
        self.journal.record(item_id=str(job.id), key=item["key"], label=item["label"],
                            where=item["where"], status=item["status"], code=item["code"],
                            message=item["message"], attempts=item["attempts"], parts=parts)

    def note(self, text: str) -> None:
        """A message for the person watching (above the bar on a terminal)."""
        if self.progress is not None:
            self.progress.note(self.out.scrub(text))
        else:
            self.out.info(text)

    def close_files(self) -> None:
        if self.journal is not None:
            self.journal.finish(self.summary.as_dict())
            self.journal.close()
        if self.report is not None:
            self.report.close()

    def close(self) -> None:
        """The end of the run: bar gone, files closed, then the summary (line or document)."""
        if self.progress is not None:
            self.progress.close()
        self.close_files()
        if self.json is not None:
            summary = self.summary
            # a run cut short says so in its summary, written after the signal all the same
            self.json.finish(summary.as_dict(),
                             stopped=summary.interrupted or summary.error_exit is not None)
        else:
            self.out.print(self.summary.line())


class _Progress:
    """rich progress bar on stderr: count, rate, ETA; transient (gone when the run ends)."""

    def __init__(self, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.1f}/s" if speed else "-/s", style="progress.data.speed")

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True, highlight=False),
            transient=True,
            # stdout carries results (the -o json document): never route it to the bar's
            # console. stderr is: warnings from send() then appear above the bar.
            redirect_stdout=False,
        )
        self.task = self.progress.add_task("sending", total=total)
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.progress.stop()
