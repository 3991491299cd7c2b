"""The per-item report file (SPEC §2 "Output": ``--report FILE``).

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

FIELDS = ("index", "where", "label", "key", "status", "code", "message", "attempts", "elapsed_ms")


class ReportWriter:
    def __init__(self, path: Path, fh: IO[str], is_csv: bool) -> None:
        self.path = path
        self._fh = fh
        self.is_csv = is_csv
        self._csv: Any = None
        if is_csv:
            import csv

            # The csv writer hands each row to fh.write in one call: a flushed row is whole.
            self._csv = csv.writer(fh, lineterminator="\n")
            self._csv.writerow(FIELDS)
            fh.flush()

    @classmethod
    def open(cls, path: Path) -> ReportWriter:
        path = Path(path)
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"--report {path}: directory {parent} does not exist")
        if path.is_dir():
            raise UsageError(f"--report {path}: is a directory")
        try:
            fh = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"--report {path}: cannot write: {exc.strerror or exc}") from None
        return cls(path, fh, path.suffix.lower() == ".csv")

    def write(self, record: dict[str, Any]) -> None:
        """One item: ``record`` has FIELDS (and optionally ``detail``, JSON Lines only)."""
        try:
            if self._csv is not None:
                self._csv.writerow(
                    [
                        "" if record.get(f) is None else secrets.redact(str(record.get(f)))
                        for f in FIELDS
                    ]
                )
            else:
                row = {f: secrets.redact_strings(record.get(f)) for f in FIELDS}
                if record.get("detail"):
                    row["detail"] = secrets.redact_strings(record["detail"])
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
