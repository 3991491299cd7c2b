"""The reader's vocabulary: an ``Item`` and where it came from, and top-level values → items.

Every other module of the package builds on this one, and it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from shipctl.errors import InputError
from shipctl.suggest import kind_of

Path_ = tuple[str | int, ...]  # a field path: ("to", "lines", 0)

Warn = Callable[[str], None]  # where "parsed leniently: …" and other warnings go


class Repair(str):
    """A "parsed leniently" warning: its words, and the ``file`` whose text was repaired, so a
    command can count the repairs (``VALID after repairing 2 formatting problems``) without
    reading its words back."""

    __slots__ = ("file",)
    file: str

    def __new__(cls, file: str, phrase: str) -> Repair:
        text = super().__new__(cls, f"{file}: parsed leniently: {phrase}")
        text.file = file
        return text


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
    # a JSON Lines object's line as written, so a resender can send the bytes it was given
    text: str | None = None

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


class WrittenFloat(float):
    """A number with a fraction or exponent as the input wrote it: an ordinary float that also
    keeps its ``text`` ("0.0000001", "12345678901234567.891"), because a float alone turns
    the first into 1e-07 and drops digits of the second. A provider that must send the exact
    digits (EWE's decimals) reads ``text``; everyone else sees a float."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> WrittenFloat:
        number = super().__new__(cls, text)
        number.text = text
        return number


# Small records in this package are NamedTuples (named fields, but far cheaper than a dataclass
# to define at import and to make), or plain classes with __slots__ when they change.
class Value(NamedTuple):
    """One top-level value of a document (a JSON text, a YAML document), not yet split."""

    data: Any
    line: int  # where the value starts
    field_lines: dict[Path_, int]  # relative to the value: ("lines", 0) inside a list's item 0


def split_value(
    data: Any, line: int, field_lines: dict, name: str, index: int
) -> Iterator[Item]:
    """A top-level value → items: an object is one item, a list gives one item per element.

    ``index``: how many items of the file came before; the items yielded continue from it.
    """
    if isinstance(data, dict):
        yield Item(data, Location(name, line, index + 1), field_lines)
        return
    if not isinstance(data, list):
        raise InputError(
            f"{name}:{line}: expected an object or a list of objects, found {kind_of(data)}"
        )
    per_element: dict[int, dict] = {}
    for path, where in field_lines.items():
        per_element.setdefault(path[0], {})[path[1:]] = where
    for position, element in enumerate(data):
        lines = per_element.get(position, {})
        element_line = lines.pop((), line)
        index += 1
        location = Location(name, element_line, index)
        if not isinstance(element, dict):
            raise InputError(f"{location}: expected an object, found {kind_of(element)}")
        yield Item(element, location, lines)


def items_from_values(values: list[Value], name: str, index: int = 0) -> Iterator[Item]:
    """The items of several top-level values, numbered on from ``index``."""
    for value in values:
        for item in split_value(value.data, value.line, value.field_lines, name, index):
            index = item.location.index
            yield item
