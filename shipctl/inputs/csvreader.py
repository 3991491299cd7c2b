"""CSV, where the command allows it: a header of dotted names, one item per row.

``to.lines.0`` and ``to.lines.1`` make ``{"to": {"lines": [first, second]}}``; empty cells are
left out. Rows are read as they come, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from shipctl.errors import InputError
from shipctl.inputs.items import Item, Location, Path_, dotted
from shipctl.inputs.sources import decode, lines
from shipctl.nesting import MAX_DEPTH
from shipctl.output import shorten

# A header names the fields of one shipment, three parts deep at most (docs/ewe.md, `ewe modify`:
# `to.lines.0`, `merchandise.0.sku`); MAX_DEPTH parts leave room to spare and stop a hostile
# `a.a.a.…` header from nesting without end. A list index only orders the cells (`lines.0` and
# `lines.7` make a list of two), so memory does not grow with it; but one row carrying 10,000
# list elements is a typo, and int() refuses more than 4,300 digits.
MAX_CSV_INDEX = 9999
_SHOWN_COLUMN = 40  # characters of a column name quoted in an error


# What a command knows of its fields: a column's path → what is wrong with it, or None. The
# reader knows no provider's fields; ``ewe validate``/``ewe modify`` pass EWE's.
ColumnCheck = Callable[[Path_], "str | None"]


def read_csv(
    stream: IO[bytes], name: str, check_column: ColumnCheck | None = None
) -> Iterator[Item]:
    """Header of dotted names (``to.lines.0``) → nested objects; empty cells left out.

    Lines are decoded one by one and handed to ``csv.reader`` with their own line endings (as
    ``newline=""`` would), so quoted cells may span lines and memory stays flat.

    ``check_column`` judges each column once, on the header: a misspelt column makes every
    row wrong, so it is one error at ``file:1`` (exit 2), not the same error on every row.
    """
    import csv

    reader = csv.reader(decode(raw, name, lineno) for lineno, raw in lines(stream, name))
    row_start = 1
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InputError(f"{name}: empty input")
        columns = _csv_columns([cell.strip() for cell in header], name)
        if check_column is not None:
            _check_names(columns, name, check_column)
        index = 0
        row_start = reader.line_num + 1
        for row in reader:
            line = row_start
            row_start = reader.line_num + 1
            if len(row) > len(columns):
                raise InputError(
                    f"{name}:{line}: {len(row)} cells but the header has {len(columns)} columns"
                )
            data = _csv_row(columns, row)
            if not data:  # a blank line, or every cell empty
                continue
            index += 1
            yield Item(data, Location(name, line, index))
    except csv.Error as error:
        raise InputError(f"{name}:{row_start}: not valid CSV: {error}") from None


@dataclass
class _Column:
    name: str
    path: Path_


class _HeaderCell(NamedTuple):
    """A column as an error names it: ``column 3 "to.lines.0"``."""

    number: int  # 1-based: a hostile name may be shortened, the number still finds it
    name: str

    def __str__(self) -> str:
        return f'column {self.number} "{shorten(self.name, _SHOWN_COLUMN)}"'


def _csv_columns(header: list[str], name: str) -> list[_Column]:
    """The header's columns; an error if two of them name the same field or clash."""
    columns: list[_Column] = []
    leaves: dict[Path_, _HeaderCell] = {}
    # every interior node of the column tree is a list (int children) or an object (names)
    containers: dict[Path_, tuple[str, _HeaderCell]] = {}  # node → ("list"|"object", column)
    for number, column in enumerate(header, 1):
        if not column:
            raise InputError(f"{name}:1: column {number} has no name")
        cell = _HeaderCell(number, column)
        try:
            path = _column_path(column)
            _check_column(path, cell, leaves, containers)
        except ValueError as why:
            raise InputError(f"{name}:1: {cell}: {why}") from None
        leaves[path] = cell
        columns.append(_Column(column, path))
    return columns


def _check_names(columns: list[_Column], name: str, check_column: ColumnCheck) -> None:
    """One InputError at ``file:1`` naming every column the command does not know."""
    problems = []
    for number, column in enumerate(columns, 1):
        why = check_column(column.path)
        if why:
            problems.append(f"{_HeaderCell(number, column.name)}: {why}")
    if problems:
        raise InputError(f"{name}:1: " + "; ".join(problems))


def _check_column(
    path: Path_,
    cell: _HeaderCell,
    leaves: dict[Path_, _HeaderCell],
    containers: dict[Path_, tuple[str, _HeaderCell]],
) -> None:
    """ValueError if ``path`` is a field of an earlier column, or inside one, or around one;
    else the containers it passes through are recorded."""
    if path in leaves:
        first = leaves[path]
        raise ValueError(
            f"appears twice (also {first})" if first.name == cell.name
            else f"same field as {first}"
        )
    if path in containers:
        raise ValueError(f"conflicts with {containers[path][1]}")
    for depth in range(1, len(path)):
        prefix = path[:depth]
        if prefix in leaves:
            raise ValueError(f"conflicts with {leaves[prefix]}")
        kind = "list" if isinstance(path[depth], int) else "object"
        known = containers.get(prefix)
        if known is None:
            containers[prefix] = (kind, cell)
        elif known[0] != kind:
            raise ValueError(
                f"conflicts with {known[1]}"
                f" ({shorten(dotted(prefix), _SHOWN_COLUMN)} cannot be both a list and an object)"
            )


def _column_path(column: str) -> Path_:
    """``to.lines.0.qty`` → ("to", "lines", 0, "qty"); ValueError saying what is wrong."""
    if column.count(".") >= MAX_DEPTH:  # before split(): a 1 MB header is one string
        raise ValueError(f"more than {MAX_DEPTH} dotted parts")
    path: list[str | int] = []
    for part in column.split("."):
        if not part:
            raise ValueError("not a dotted name like to.name")
        if part.isascii() and part.isdigit():
            digits = part.lstrip("0") or "0"
            # the length first: int() of thousands of digits is slow, then refused
            if len(digits) > len(str(MAX_CSV_INDEX)) or int(digits) > MAX_CSV_INDEX:
                shown = shorten(part, _SHOWN_COLUMN)
                raise ValueError(f"list index {shown} is larger than {MAX_CSV_INDEX}")
            path.append(int(digits))
        else:
            path.append(part)
    if isinstance(path[0], int):
        raise ValueError("must start with a field name")
    return tuple(path)


def _csv_row(columns: list[_Column], row: list[str]) -> dict:
    root: dict = {}
    for column, cell in zip(columns, row, strict=False):  # short rows: missing cells are empty
        if cell == "":
            continue
        node = root
        for part in column.path[:-1]:
            node = node.setdefault(part, {})
        node[column.path[-1]] = cell
    return _lists(root)


def _lists(node: dict) -> Any:
    """Dicts keyed by ints (from ``lines.0``, ``lines.1``) → lists in index order.

    Recursive, but no deeper than MAX_DEPTH (checked on the header).
    """
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _lists(value)
    if node and all(isinstance(k, int) for k in node):
        return [node[k] for k in sorted(node)]
    return node
