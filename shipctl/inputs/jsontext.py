"""JSON: a whole document (strict first, lenient second), and JSON Lines (one value per line).

JSON Lines is read line by line, so memory does not grow with the file; a line strict JSON
refuses is read leniently on its own, and each kind of forgiveness is warned about once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from shipctl.errors import InputError
from shipctl.inputs import limits
from shipctl.inputs.items import (
    Item,
    Location,
    Repair,
    Value,
    Warn,
    items_from_values,
    split_value,
)
from shipctl.inputs.lenient import Forgiveness, NotJSON, lenient
from shipctl.inputs.positions import LineIndex, field_lines
from shipctl.inputs.sources import decode

# -- a document -------------------------------------------------------------------------------


def json_document(
    text: str, name: str, warn: Warn, strict_error: ValueError | None = None
) -> list[Value]:
    """The values of a JSON text, strict or lenient; what was forgiven goes to ``warn``."""
    try:
        values, forgiven = json_values(text, name, strict_error)
    except NotJSON as not_json:
        raise not_json.error from None
    for forgiveness in forgiven:
        warn(Repair(name, forgiveness.phrase))
    return values


def json_values(
    text: str, name: str, strict_error: ValueError | None = None
) -> tuple[list[Value], list[Forgiveness]]:
    """Strict JSON, else lenient; (values, forgiven) — raises InputError or NotJSON.

    ``strict_error``: json.loads already refused this very text (don't parse 50 MB twice).
    """
    if strict_error is not None:
        return lenient(text, name, strict_error)
    try:
        data = limits.loads(text, name)
    except ValueError as error:
        return lenient(text, name, error)
    start = len(text) - len(text.lstrip())
    if "\n" not in text.strip():
        return [Value(data, text.count("\n", 0, start) + 1, {})], []
    index = LineIndex(text)
    tops = field_lines(text, [(start, len(text))], index)
    return [Value(data, index.line(start), tops[0])], []


# -- JSON Lines -------------------------------------------------------------------------------


def read_json_lines(
    lines: Iterable[tuple[int, bytes]],
    name: str,
    warn: Warn,
    first: tuple[int, Any, bytes] | None = None,
) -> Iterator[Item]:
    """One JSON value per line; ``first``: the (line, value, raw line) read while sniffing."""
    index = 0
    nonblank = first is not None
    warnings = _OncePerKind(name, warn)
    loads = limits.loads
    if first is not None:
        for item in split_value(first[1], first[0], {}, name, index):
            if type(first[1]) is dict:  # as the lines below: the line as written
                item.text = decode(first[2], name, first[0])
            index = item.location.index
            yield item
    for lineno, raw in lines:
        if not raw.strip():
            continue
        nonblank = True
        text = decode(raw, name, lineno)
        try:
            value = loads(text, name, lineno - 1)
        except ValueError as error:
            values, forgiven = _lenient_line(text, name, lineno, error)
            warnings.note(forgiven)
            for item in items_from_values(values, name, index):
                index = item.location.index
                yield item
            continue
        if type(value) is dict:  # the common case, kept fast
            index += 1
            yield Item(value, Location(name, lineno, index), text=text)
        else:
            for item in split_value(value, lineno, {}, name, index):
                index = item.location.index
                yield item
    warnings.finish()
    if not nonblank:
        raise InputError(f"{name}: empty input")


def _lenient_line(
    text: str, name: str, lineno: int, error: ValueError
) -> tuple[list[Value], list[Forgiveness]]:
    """A line strict JSON refused: a comment line, or a value to read leniently."""
    if text.lstrip().startswith(("//", "#")):  # a comment line (pasted, hand-edited)
        return [], [Forgiveness("comment", lineno, f"comment at line {lineno}")]
    try:
        return lenient(text, name, error, line_base=lineno - 1)
    except NotJSON as not_json:
        raise not_json.error from None


class _OncePerKind:
    """Warns of the first line forgiven of each kind, then of how many more lines there were.

    A hand-edited file of 10,000 lines with a trailing comma on each makes two warnings.
    """

    def __init__(self, name: str, warn: Warn) -> None:
        self._name = name
        self._warn = warn
        self._counts: dict[str, int] = {}  # kind → lines forgiven

    def note(self, forgiven: list[Forgiveness]) -> None:
        for forgiveness in forgiven:
            count = self._counts.get(forgiveness.kind, 0)
            self._counts[forgiveness.kind] = count + 1
            if count == 0:
                self._warn(Repair(self._name, forgiveness.phrase))

    def finish(self) -> None:
        for kind, count in self._counts.items():
            if count > 1:
                lines = "line" if count == 2 else "lines"
                self._warn(Repair(self._name, f"{kind} on {count - 1} more {lines}"))
