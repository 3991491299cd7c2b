"""The per-item report file (docs/conventions.md, Output: ``--report FILE``).

CSV when FILE ends in ``.csv``, JSON Lines otherwise. One record per item, written and flushed
as the item finishes, so a report read during or after an interrupted run is complete up to
that point and never ends in half a line. Values pass through ``secrets.redact``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from shipctl import secrets
from shipctl.errors import ShipctlError, UsageError

FIELDS = ("index", "where", "label", "key", "status", "code", "message", "attempts", "elapsed_ms",
          "finished_at")
# ``finished_at`` (ISO 8601 UTC) is the last column, so scripts reading the first nine by
# position keep working.
CSV_FIELDS = FIELDS


def check_name(path: Path) -> None:
    """A report is JSON Lines or CSV: a ``.json`` name would promise one JSON document, which
    a report streamed item by item (and complete up to an interruption) is not."""
    if Path(path).suffix.lower() == ".json":
        raise UsageError(
            f"--report {path}: a report is JSON Lines (one record per line, written as each"
            " item finishes), not one JSON document",
            hint=f"name it {Path(path).with_suffix('.jsonl')} (or .csv); -o json gives one"
            " document on stdout",
        )


class ReportWriter:
    """``open`` (may refuse; an existing file is not emptied yet) → ``begin`` (emptied, CSV
    header) → ``write``… → ``close``. ``abandon`` instead of ``begin`` when the run is refused
    after all (e.g. by the journal): the file is left as it was, or removed if ``open`` made it.
    """

    def __init__(self, path: Path, fh: IO[str], is_csv: bool, created: bool = False) -> None:
        self.path = path
        self._fh = fh
        self.is_csv = is_csv
        self.created = created
        self._csv: Any = None

    @classmethod
    def open(cls, path: Path) -> ReportWriter:
        import os

        path = Path(path)
        check_name(path)
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"--report {path}: directory {parent} does not exist")
        if path.is_dir():
            raise UsageError(f"--report {path}: is a directory")
        created = not path.exists()
        try:
            # No O_TRUNC: opened before the journal, so that a report that cannot be written
            # stops the run before a journal exists; emptied by begin() once the run starts.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            # backslashreplace: a lone surrogate read from an input (JSON allows "\\ud800") is
            # written as its escape rather than stop the run mid-way
            fh = os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="")
        except OSError as exc:
            raise UsageError(f"--report {path}: cannot write: {exc.strerror or exc}") from None
        return cls(path, fh, path.suffix.lower() == ".csv", created)

    def begin(self) -> None:
        """The run goes ahead: empty the file; CSV gets its header."""
        try:
            self._fh.seek(0)
            self._fh.truncate()
            if self.is_csv:
                import csv

                # The csv writer hands each row to fh.write in one call: a flushed row is whole.
                self._csv = csv.writer(self._fh, lineterminator="\n")
                self._csv.writerow(CSV_FIELDS)
            self._fh.flush()
        except OSError as exc:
            raise UsageError(
                f"--report {self.path}: cannot write: {exc.strerror or exc}") from None

    def abandon(self) -> None:
        """The run was refused before it began: leave no trace of the report."""
        self.close()
        if self.created:
            try:
                self.path.unlink()
            except OSError:
                pass

    def write(self, record: dict[str, Any]) -> None:
        """One item: ``record`` has FIELDS (and optionally ``detail``, JSON Lines only)."""
        try:
            if self._csv is not None:
                self._csv.writerow(
                    [
                        "" if record.get(f) is None else secrets.redact(str(record.get(f)))
                        for f in CSV_FIELDS
                    ]
                )
            else:
                row = {f: secrets.redact_strings(record.get(f)) for f in CSV_FIELDS}
                if "errors" in record:
                    row["errors"] = secrets.redact_strings(record["errors"])
                if "warnings" in record:
                    row["warnings"] = secrets.redact_strings(record["warnings"])
                if record.get("detail"):
                    row["detail"] = secrets.redact_strings(record["detail"])
                row["finished_at"] = record.get("finished_at")  # appended: older keys first
                self._fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise ShipctlError(
                f"--report {self.path}: cannot write ({exc.strerror or exc}); stopped sending"
            ) from None

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
