"""The one input reader (docs/conventions.md, Input files).

Files, directories (`-R` recurses), `-` for stdin → a stream of ``Item``s, each keeping where
it came from so a validation error can say ``bulk.yaml:14 item 3 to.phone: …``.

Formats: one JSON object, a list of objects, JSON Lines (also a ``.json`` file holding one value
per line), YAML (several ``---`` documents too), and CSV where the command allows it. JSON Lines
and CSV are read line by line, so memory does not grow with the file.

Strict first, lenient second ("for text pasted from tickets and docs", docs/conventions.md):
only when strict parsing fails does the reader forgive comments, trailing commas, Python
literals, typographic quotes, several values back to back and prose around the payload
(same-length substitutions, so every line and column still points into the user's text), then
hand what is left to ``json5`` (single quotes, unquoted keys…). Each forgiveness is reported
through ``warn`` with its line.

Only the standard library is imported at module level; ``yaml`` and ``json5`` are imported
when a file needs them.

The modules, each importing only those above it:

- ``items``: ``Item``, ``Location``, field paths; top-level values → items.
- ``limits``: sizes, nesting and digit limits, and the errors naming them.
- ``sources``: arguments → sources, opening and spooling, bytes → text and lines.
- ``positions``: offsets → lines and columns, field paths → lines, in a JSON text.
- ``syntax``: JSON tokens, and errors worded the same on every Python.
- ``lenient``: the lenient repair.
- ``jsontext``: JSON documents and JSON Lines.
- ``yamlreader``, ``csvreader``: YAML, CSV.
- ``sniff``: stdin and unknown suffixes: which of the above?
- this package: ``read_items``, ``open_inputs``, ``Inputs``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import IO

from shipctl.errors import InputError
from shipctl.inputs.csvreader import MAX_CSV_INDEX, ColumnCheck, read_csv
from shipctl.inputs.items import Item, Location, Path_, Repair, Warn, WrittenFloat, dotted
from shipctl.inputs.jsontext import read_json_lines
from shipctl.inputs.limits import JSON5_LIMIT, LENIENT_LIMIT, MAX_DOCUMENT, MAX_SPOOL
from shipctl.inputs.sniff import read_sniffed
from shipctl.inputs.sources import (
    PAYLOAD_SUFFIXES,
    STDIN_NAME,
    Source,
    Streams,
    is_shipctl_report,
    lines,
    resolve,
)
from shipctl.inputs.yamlreader import read_yaml_file
from shipctl.nesting import MAX_DEPTH

# The limits above are copies, for reading: to change one (in a test), patch
# ``shipctl.inputs.limits``, which the readers consult at call time.
__all__ = [
    "ColumnCheck",
    "JSON5_LIMIT",
    "LENIENT_LIMIT",
    "MAX_CSV_INDEX",
    "MAX_DEPTH",
    "MAX_DOCUMENT",
    "MAX_SPOOL",
    "PAYLOAD_SUFFIXES",
    "STDIN_NAME",
    "Inputs",
    "Item",
    "Location",
    "Path_",
    "Repair",
    "Source",
    "Warn",
    "WrittenFloat",
    "dotted",
    "open_inputs",
    "read_items",
]


def _stderr_warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def _no_warn(message: str) -> None:
    pass


def read_items(
    paths: list[str],
    *,
    recursive: bool = False,
    allow_csv: bool = False,
    stdin: IO[bytes] | None = None,
    warn: Callable[[str], None] | None = None,
    check_column: ColumnCheck | None = None,
) -> Iterator[Item]:
    """Every item of every input, in order; one pass (stdin is read as it streams)."""
    inputs = open_inputs(
        paths, recursive=recursive, allow_csv=allow_csv, stdin=stdin, warn=warn, _spool=False,
        check_column=check_column,
    )
    with inputs:
        yield from inputs.items()


def open_inputs(
    paths: list[str],
    *,
    recursive: bool = False,
    allow_csv: bool = False,
    stdin: IO[bytes] | None = None,
    warn: Callable[[str], None] | None = None,
    empty_ok: bool = False,
    _spool: bool = True,
    check_column: ColumnCheck | None = None,
) -> Inputs:
    """Resolve ``paths`` now (usage errors surface at once); read them with ``Inputs.items()``.

    ``items()`` may be iterated more than once (the bulk engine validates, then sends): whatever
    can be read only once (``-``, and any named path that is not a regular file: a FIFO,
    ``/dev/stdin``, ``<(…)``'s ``/dev/fd/63``) is spooled to a private temporary file on first
    use, and warnings are emitted on the first pass only. ``empty_ok``: a directory without
    payload files is a warning, not an InputError (bulk runs: "nothing to send").
    """
    warn = warn or _stderr_warn
    sources = resolve(paths, recursive=recursive, allow_csv=allow_csv, stdin=stdin, warn=warn,
                      empty_ok=empty_ok)
    inputs = Inputs(sources, stdin=stdin, warn=warn, spool=_spool)
    # the command's judgement of a CSV column's field path (see ``csvreader.ColumnCheck``)
    inputs.check_column = check_column
    return inputs


class Inputs:
    """The resolved inputs of one command; ``items()`` can be iterated more than once."""

    def __init__(
        self, sources: list[Source], *, stdin: IO[bytes] | None, warn: Warn, spool: bool = True
    ) -> None:
        self.sources = sources
        self._streams = Streams(stdin, spool=spool)
        self._warn = warn
        self._passes = 0
        self.check_column: ColumnCheck | None = None

    def items(self) -> Iterator[Item]:
        warn = self._warn if self._passes == 0 else _no_warn
        self._passes += 1
        for source in self.sources:
            yield from _read_source(source, self._streams, warn, self.check_column)

    def close(self) -> None:
        self._streams.close()

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_source(
    source: Source, streams: Streams, warn: Warn, check_column: ColumnCheck | None = None
) -> Iterator[Item]:
    """The items of one source, by its suffix; stdin and other suffixes are sniffed."""
    name = source.name
    stream = streams.open(source)
    with stream:
        if source.scanned and is_shipctl_report(stream):
            # A report of an earlier run written inside the input directory: its records are
            # not payloads (each would come back as an invalid item). Named on the command
            # line, a file is read whatever it holds.
            warn(f"{name}: skipped, a report written by shipctl, not a payload file")
            return
        try:
            suffix = source.suffix
            if suffix == ".csv":
                yield from read_csv(stream, name, check_column)
            elif suffix in (".yaml", ".yml"):
                yield from read_yaml_file(stream, name, warn)
            elif suffix in (".jsonl", ".ndjson"):
                yield from read_json_lines(lines(stream, name), name, warn)
            else:
                yield from read_sniffed(stream, name, json_suffix=suffix == ".json", warn=warn)
        except OSError as error:
            raise InputError(f"{name}: cannot read: {error.strerror or error}") from None
