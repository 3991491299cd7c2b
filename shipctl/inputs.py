"""The one input reader (SPEC §2 "Input files") — CONTRACT STUB, being implemented.

Files, directories (`-R` recurses), `-` for stdin → a stream of ``Item``s, each keeping where
it came from so a validation error can say ``bulk.yaml:14 item 3 to.phone: …``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

Path_ = tuple[str | int, ...]  # a field path: ("to", "lines", 0)


def dotted(path: Path_) -> str:
    """("to", "lines", 0) → "to.lines.0"."""
    return ".".join(str(p) for p in path)


@dataclass(frozen=True)
class Location:
    file: str  # the path as the user gave it, or "<stdin>"
    line: int | None  # 1-based line where the item starts (JSONL/CSV: its own line)
    index: int  # 1-based item number within the file

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} item {self.index}"


@dataclass
class Item:
    data: Any
    location: Location
    # 1-based source line of each field path, where the format lets us know it
    field_lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_ = ()) -> int | None:
        """Line of the longest known prefix of ``path``; else the item's own line."""
        for end in range(len(path), 0, -1):
            line = self.field_lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.location.line

    def where(self, path: Path_ = ()) -> str:
        """``bulk.yaml:14 item 3 to.phone`` — file, best line, item number, field path."""
        line = self.line_of(path)
        place = self.location.file if line is None else f"{self.location.file}:{line}"
        text = f"{place} item {self.location.index}"
        return f"{text} {dotted(path)}" if path else text


PAYLOAD_SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".csv")


def read_items(
    paths: list[str],
    *,
    recursive: bool = False,
    allow_csv: bool = False,
    stdin: IO[bytes] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[Item]:
    raise NotImplementedError
