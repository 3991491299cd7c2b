"""The one input reader (SPEC §2 "Input files").

Files, directories (`-R` recurses), `-` for stdin → a stream of ``Item``s, each keeping where
it came from so a validation error can say ``bulk.yaml:14 item 3 to.phone: …``.

Formats: one JSON object, a list of objects, JSON Lines (also a ``.json`` file holding one value
per line), YAML (several ``---`` documents too), and CSV where the command allows it. JSON Lines
and CSV are read line by line, so memory does not grow with the file.

Strict first, lenient second (SPEC: "for text pasted from tickets and docs"): only when strict
parsing fails does the reader forgive comments, trailing commas, Python literals, typographic
quotes, several values back to back and prose around the payload (same-length substitutions, so
every line and column still points into the user's text), then hand what is left to ``json5``
(single quotes, unquoted keys…). Each forgiveness is reported through ``warn`` with its line.

Only the standard library is imported here at module level; ``yaml`` and ``json5`` are imported
when a file needs them.
"""

from __future__ import annotations

import bisect
import codecs
import io
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from shipctl.errors import InputError, UsageError
from shipctl.nesting import MAX_DEPTH, too_deep
from shipctl.output import _isatty

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

STDIN_NAME = "<stdin>"
# json5 is a pure-Python parser (~200 KB/s): the lenient path must stay quick on hostile input
LENIENT_LIMIT = 2 * 1024 * 1024  # comments, trailing commas, prose… (fast: json.loads after fixes)
JSON5_LIMIT = 256 * 1024  # single quotes, unquoted keys… (json5 itself: ~2 s at this size)
MAX_DOCUMENT = 256 * 1024 * 1024  # a whole JSON/YAML document, or one line: /dev/zero must not hang
_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a spooled stream beyond this goes to a temporary file
# stdin, a pipe, /dev/fd/N… are copied whole before the first item so that a second pass can
# read them again: an endless stream (`yes |`) must end in an error, not fill the disk
MAX_SPOOL = 1024 * 1024 * 1024

Warn = Callable[[str], None]


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} bytes"


def _nesting_error(name: str, line: int) -> InputError:
    return InputError(
        f"{name}:{line}: nesting too deep (more than {MAX_DEPTH} levels of objects and lists)"
    )


def _check_depth(
    text: str, name: str, line_base: int = 0, start: int = 0, end: int | None = None
) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH before a parser recurses into it."""
    offset = too_deep(text, start, end)
    if offset is not None:
        raise _nesting_error(name, line_base + text.count("\n", 0, offset) + 1)


def _stderr_warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def _no_warn(message: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def read_items(
    paths: list[str],
    *,
    recursive: bool = False,
    allow_csv: bool = False,
    stdin: IO[bytes] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[Item]:
    """Every item of every input, in order; one pass (stdin is read as it streams)."""
    inputs = open_inputs(
        paths, recursive=recursive, allow_csv=allow_csv, stdin=stdin, warn=warn, _spool=False
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
    _spool: bool = True,
) -> Inputs:
    """Resolve ``paths`` now (usage errors surface at once); read them with ``Inputs.items()``.

    ``items()`` may be iterated more than once (the bulk engine validates, then sends): whatever
    can be read only once (``-``, and any named path that is not a regular file: a FIFO,
    ``/dev/stdin``, ``<(…)``'s ``/dev/fd/63``) is spooled to a private temporary file on first
    use, and warnings are emitted on the first pass only.
    """
    warn = warn or _stderr_warn
    sources = _resolve(paths, recursive=recursive, allow_csv=allow_csv, stdin=stdin, warn=warn)
    return Inputs(sources, stdin=stdin, warn=warn, spool=_spool)


@dataclass(frozen=True)
class Source:
    name: str  # as the user gave it (joined with the directory), or "<stdin>"
    path: str | None  # None: stdin

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.name)[1].lower() if self.path is not None else ""


class Inputs:
    """The resolved inputs of one command; ``items()`` can be iterated more than once."""

    def __init__(
        self, sources: list[Source], *, stdin: IO[bytes] | None, warn: Warn, spool: bool = True
    ) -> None:
        self.sources = sources
        self._stdin = stdin
        self._warn = warn
        self._spool = spool
        # one copy per source read once; the same path given twice shares it
        self._spooled: dict[Source, IO[bytes]] = {}
        self._passes = 0

    def items(self) -> Iterator[Item]:
        warn = self._warn if self._passes == 0 else _no_warn
        self._passes += 1
        for source in self.sources:
            yield from _read_source(source, self, warn)

    def _open(self, source: Source) -> IO[bytes]:
        """A stream over ``source``, from its spooled copy when it can only be read once."""
        spooled = self._spooled.get(source)
        if spooled is not None:
            spooled.seek(0)
            return _Borrowed(spooled)
        if source.path is None:
            stream: IO[bytes] = _Borrowed(
                self._stdin if self._stdin is not None else _sys_stdin()
            )
        else:
            stream = _open_file(source)
            if _is_regular(stream):  # can be opened again for the next pass
                return stream
        if not self._spool:  # read_items: one pass, streamed as it comes
            return stream
        with stream:
            spooled = _spool(stream, source.name)
        self._spooled[source] = spooled
        return _Borrowed(spooled)

    def close(self) -> None:
        spooled, self._spooled = self._spooled, {}
        for stream in spooled.values():
            stream.close()

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Borrowed(io.BufferedIOBase):
    """A stream we read but must not close (stdin, the spool)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int | None = -1) -> bytes:
        return self._stream.read(-1 if size is None else size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._stream.readline(-1 if size is None else size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:  # leave the underlying stream open
        pass


def _open_file(source: Source) -> IO[bytes]:
    name = source.name
    try:
        return open(source.path or name, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise InputError(f"{name}: no such file or directory") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory") from None
    except OSError as error:
        raise InputError(f"{name}: cannot read: {error.strerror or error}") from None


def _is_regular(stream: IO[bytes]) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


_SPOOL_CHUNK = 64 * 1024


def _spool(stream: IO[bytes], name: str) -> IO[bytes]:
    """Copy ``stream`` to a private temporary file (in memory while small), at most MAX_SPOOL.

    The copy stops just after the first NUL byte: the reader refuses binary data at that byte
    anyway (with the same message, since everything before it is kept), and /dev/zero must not
    be copied to the disk first.
    """
    import tempfile

    spooled = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        while True:
            chunk = stream.read(_SPOOL_CHUNK)
            if not chunk:
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                spooled.write(chunk[: nul + 1])
                break
            size += len(chunk)
            if size > MAX_SPOOL:
                raise InputError(
                    f"{name}: larger than {_size(MAX_SPOOL)}",
                    hint="a stream is copied to a temporary file to be read twice; save it to"
                    " a file and give its name",
                )
            spooled.write(chunk)
    except OSError as error:
        spooled.close()
        raise InputError(f"{name}: cannot read: {error.strerror or error}") from None
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


def _sys_stdin() -> IO[bytes]:
    stream = sys.stdin
    if stream is None:
        return io.BytesIO(b"")
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BytesIO(stream.read().encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Arguments → sources
# ---------------------------------------------------------------------------------------------


def _resolve(
    paths: list[str],
    *,
    recursive: bool,
    allow_csv: bool,
    stdin: IO[bytes] | None,
    warn: Warn,
) -> list[Source]:
    if not paths:
        stream = stdin if stdin is not None else sys.stdin
        if stream is None or _isatty(stream):
            raise UsageError("no input: give a file, a directory, or - for stdin")
        return [Source(STDIN_NAME, None)]
    if paths.count("-") > 1:
        raise UsageError("- (stdin) given more than once")
    sources: list[Source] = []
    for arg in paths:
        if arg == "-":
            sources.append(Source(STDIN_NAME, None))
        elif os.path.isdir(arg):
            sources.extend(_directory(arg, recursive=recursive, allow_csv=allow_csv, warn=warn))
        elif os.path.exists(arg):
            if os.path.splitext(arg)[1].lower() == ".csv" and not allow_csv:
                raise UsageError(f"{arg}: this command does not take CSV input")
            sources.append(Source(arg, arg))
        else:
            raise InputError(f"{arg}: no such file or directory")
    return sources


def _directory(top: str, *, recursive: bool, allow_csv: bool, warn: Warn) -> list[Source]:
    found: list[tuple[tuple[str, ...], str]] = []
    visited: set[str] = set()  # real paths: a symlink back up the tree must not loop forever

    def scan(directory: str, parts: tuple[str, ...]) -> None:
        real = os.path.realpath(directory)
        if real in visited:
            return
        visited.add(real)
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            raise InputError(f"{directory}: cannot list: {error.strerror or error}") from None
        for entry in entries:
            # like a shell glob: dotfiles (editor backups, .git) are not inputs
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if recursive:
                    scan(entry.path, (*parts, entry.name))
            elif os.path.splitext(entry.name)[1].lower() in PAYLOAD_SUFFIXES:
                found.append(((*parts, entry.name), entry.path))

    scan(top, ())
    found.sort()
    sources = []
    skipped_csv = 0
    for _parts, path in found:
        if path.lower().endswith(".csv") and not allow_csv:
            skipped_csv += 1
            continue
        sources.append(Source(path, path))
    if skipped_csv:
        files = "file" if skipped_csv == 1 else "files"
        warn(f"{top}: skipped {skipped_csv} .csv {files} (this command does not take CSV)")
    if not sources:
        kinds = ", ".join(s for s in PAYLOAD_SUFFIXES if allow_csv or s != ".csv")
        deep = " (add -R to read subdirectories)" if not recursive else ""
        raise InputError(f"{top}: no payload files ({kinds}) in this directory{deep}")
    return sources


# ---------------------------------------------------------------------------------------------
# One source → items
# ---------------------------------------------------------------------------------------------


def _read_source(source: Source, inputs: Inputs, warn: Warn) -> Iterator[Item]:
    name = source.name
    stream = inputs._open(source)
    with stream:
        try:
            suffix = source.suffix
            if suffix == ".csv":
                yield from _read_csv(stream, name)
            elif suffix in (".yaml", ".yml"):
                yield from _read_yaml_file(stream, name, warn)
            elif suffix in (".jsonl", ".ndjson"):
                yield from _read_json_lines(_lines(stream, name), name, warn)
            else:
                yield from _read_sniffed(stream, name, json_suffix=suffix == ".json", warn=warn)
        except OSError as error:
            raise InputError(f"{name}: cannot read: {error.strerror or error}") from None


# -- bytes → text ---------------------------------------------------------------------------


def _check_start(raw: bytes, name: str) -> bytes:
    """Strip a UTF-8 BOM; refuse UTF-16/32 (Windows editors and PowerShell redirects)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise InputError(f"{name}: UTF-32 text, not UTF-8", hint="save the file as UTF-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{name}: UTF-16 text, not UTF-8", hint="save the file as UTF-8")
    return raw


def _decode(raw: bytes, name: str, first_line: int = 1) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # Whichever problem comes first in the bytes is the one reported, so a copy cut
        # short after its first NUL (the stdin spool) gets the same message as the original.
        nul = raw.find(b"\0", 0, error.start)
        if nul >= 0:
            line = first_line + raw.count(b"\n", 0, nul)
            raise InputError(f"{name}: binary data, not text (NUL byte at line {line})") from None
        line = first_line + raw.count(b"\n", 0, error.start)
        bad = raw[error.start]
        raise InputError(f"{name}: not UTF-8 text (byte 0x{bad:02x} at line {line})") from None
    nul = text.find("\0")
    if nul >= 0:
        line = first_line + text.count("\n", 0, nul)
        raise InputError(f"{name}: binary data, not text (NUL byte at line {line})")
    return text


def _read_all(stream: IO[bytes], name: str, head: bytes = b"") -> bytes:
    rest = stream.read(MAX_DOCUMENT + 1 - len(head))
    data = head + rest
    if len(data) > MAX_DOCUMENT:
        raise InputError(f"{name}: larger than {_size(MAX_DOCUMENT)}")
    return data


def _lines(stream: IO[bytes], name: str, lineno: int = 0) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) with the BOM stripped; each line at most MAX_DOCUMENT bytes."""
    first = lineno == 0
    while True:
        raw = stream.readline(MAX_DOCUMENT + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_DOCUMENT:
            raise InputError(f"{name}:{lineno}: line longer than {_size(MAX_DOCUMENT)}")
        if first:
            raw = _check_start(raw, name)
            first = False
        yield lineno, raw


# -- sniffing: JSON, JSON Lines or YAML -----------------------------------------------------

_SNIFF = 64 * 1024


def _read_sniffed(stream: IO[bytes], name: str, *, json_suffix: bool, warn: Warn) -> Iterator[Item]:
    """A .json file, stdin, or a file with another suffix: find out what it holds."""
    head = _check_start(stream.readline(_SNIFF), name)
    if b"\0" in head:  # binary garbage (or /dev/zero): say so before reading any further
        _decode(head, name)
    lineno = 1
    consumed = [head]
    # skip leading blank lines, keep them for line numbers
    while head and not head.strip():
        head = stream.readline(_SNIFF)
        consumed.append(head)
        lineno += 1
    if head and not head.endswith(b"\n") and len(head) >= _SNIFF:  # a long first line
        more = stream.readline(MAX_DOCUMENT)
        head += more
        consumed[-1] = head
    first = head.lstrip()[:1]
    head_error: ValueError | None = None
    if first in (b"{", b"["):
        head_text = _decode(head, name, lineno)
        _check_depth(head_text, name, lineno - 1)
        try:
            value = json.loads(head_text)
        except RecursionError:  # only if the bracket count was fooled; same message
            raise _nesting_error(name, lineno) from None
        except ValueError as error:
            value, head_error = None, error
        if isinstance(value, (dict, list)):
            # one JSON value per line (or a one-line document): stream it line by line
            rest = _lines(stream, name, lineno)
            return _read_json_lines(rest, name, warn, first=(lineno, value))
    data = _read_all(stream, name, b"".join(consumed))
    text = _decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: empty input")
    if head_error is not None and (len(consumed) > 1 or len(data) != len(head)):
        head_error = None  # it was about the first line alone: parse the whole text
    if json_suffix or first in (b"{", b"["):
        return _items_from_values(_json_document(text, name, warn, head_error), name)
    return _items_from_values(_yaml_or_json(text, name, warn), name)


# -- JSON Lines -------------------------------------------------------------------------------


def _read_json_lines(
    lines: Iterable[tuple[int, bytes]],
    name: str,
    warn: Warn,
    first: tuple[int, Any] | None = None,
) -> Iterator[Item]:
    """One JSON value per line; ``first``: the (line, value) already read while sniffing."""
    index = 0
    nonblank = first is not None
    seen_forgiven: dict[str, int] = {}
    loads = json.loads
    if first is not None:
        for item in _split_value(first[1], first[0], {}, name, index):
            index = item.location.index
            yield item
    for lineno, raw in lines:
        if not raw.strip():
            continue
        nonblank = True
        text = _decode(raw, name, lineno)
        _check_depth(text, name, lineno - 1)
        try:
            value = loads(text)
        except RecursionError:  # only if the bracket count was fooled; same message
            raise _nesting_error(name, lineno) from None
        except ValueError as error:
            if text.lstrip().startswith(("//", "#")):  # a comment line (pasted, hand-edited)
                values: list[_Value] = []
                forgiven = [("comment", lineno, f"comment at line {lineno}")]
            else:
                try:
                    values, forgiven = _lenient(text, name, error, line_base=lineno - 1)
                except _NotJSON as not_json:
                    raise not_json.error from None
            for key, _line, phrase in forgiven:
                count = seen_forgiven.get(key, 0)
                seen_forgiven[key] = count + 1
                if count == 0:  # the first of each kind; a count of the rest at the end
                    warn(f"{name}: parsed leniently: {phrase}")
            for data, line, field_lines in values:
                for item in _split_value(data, line, field_lines, name, index):
                    index = item.location.index
                    yield item
            continue
        if type(value) is dict:  # the common case, kept fast
            index += 1
            yield Item(value, Location(name, lineno, index))
        else:
            for item in _split_value(value, lineno, {}, name, index):
                index = item.location.index
                yield item
    for key, count in seen_forgiven.items():
        if count > 1:
            lines = "line" if count == 2 else "lines"
            warn(f"{name}: parsed leniently: {key} on {count - 1} more {lines}")
    if not nonblank:
        raise InputError(f"{name}: empty input")


# ---------------------------------------------------------------------------------------------
# Values → items
# ---------------------------------------------------------------------------------------------

# (data, line of the value, field lines relative to the value) for each top-level value
_Value = tuple[Any, int, dict]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _split_value(
    data: Any, line: int, field_lines: dict, name: str, index: int
) -> Iterator[Item]:
    """A top-level value → items: an object is one item, a list gives one item per element."""
    if isinstance(data, dict):
        yield Item(data, Location(name, line, index + 1), field_lines)
        return
    if not isinstance(data, list):
        raise InputError(
            f"{name}:{line}: expected an object or a list of objects, found {_kind(data)}"
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
            raise InputError(f"{location}: expected an object, found {_kind(element)}")
        yield Item(element, location, lines)


def _items_from_values(values: list[_Value], name: str) -> Iterator[Item]:
    index = 0
    for data, line, field_lines in values:
        for item in _split_value(data, line, field_lines, name, index):
            index = item.location.index
            yield item


# ---------------------------------------------------------------------------------------------
# JSON documents: strict, then lenient
# ---------------------------------------------------------------------------------------------

# One token of JSON, JSON5 or the prose around them. Strings may not span lines (JSON forbids
# raw newlines; JSON5 allows only a backslash-newline), so a stray quote in prose stays local.
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dq>"(?:[^"\\\n]|\\.)*")
  | (?P<sq>'(?:[^'\\\n]|\\.)*')
  | (?P<tdq>[\u201c\u201d\u201e](?:[^\u201c\u201d"\\\n]|\\.)*[\u201c\u201d"])
  | (?P<tsq>\u2018(?:[^\u2019\\\n]|\\.)*\u2019)
  | (?P<lc>//[^\n]*)
  | (?P<bc>/\*.*?\*/)
  | (?P<p>[{}\[\],:])
  | (?P<w>[\w$+\-.]+)
  | (?P<x>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_STRINGS = frozenset({"dq", "sq", "tdq", "tsq"})
_COMMENTS = frozenset({"lc", "bc"})
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_WORDS = frozenset({"true", "false", "null", "NaN", "Infinity", "-Infinity"})
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt]|(.))', re.DOTALL)  # group 1: not JSON


class _LineIndex:
    """Offsets → 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.length = len(text)

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def column(self, offset: int) -> int:
        line = self.line(offset)
        return offset + 1 if line == 1 else offset - self.newlines[line - 2]

    def offset(self, line: int, column: int) -> int:
        if line <= 1:
            start = 0
        elif line - 2 < len(self.newlines):
            start = self.newlines[line - 2] + 1
        else:
            return self.length
        return min(start + column - 1, self.length)


class _NotJSON(Exception):
    """No JSON value anywhere in the text (the caller words the error)."""

    def __init__(self, error: InputError) -> None:
        super().__init__(error.message)
        self.error = error


# int() refuses integers of more than sys.get_int_max_str_digits() digits (CVE-2020-10735: 4,300
# by default since Python 3.11 and 3.10.7; 0 means no limit); json, json5 and YAML all use int().
def _digit_limit() -> int:
    get = getattr(sys, "get_int_max_str_digits", None)
    return get() if get is not None else 0


def _is_digit_limit(error: ValueError) -> bool:
    return not isinstance(error, json.JSONDecodeError) and "integer string conversion" in str(
        error
    )


# a string (skipped: its digits are never converted), or a whole number; group 1: its digits
_NUMBER_SCAN = re.compile(
    r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
    r"|(?<![\w$.])[-+]?(\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w$.])"
)


def _number_too_long(
    text: str, start: int, end: int, name: str, index: _LineIndex, line_base: int
) -> InputError | None:
    """The first integer in ``text[start:end]`` too long for int(), as an error; else None."""
    limit = _digit_limit()
    if not limit:
        return None
    for match in _NUMBER_SCAN.finditer(text, start, end):
        digits = match.group(1)
        # a fraction or an exponent makes a float, which has no limit
        if digits is not None and len(digits) > limit and match.end(1) == match.end():
            offset = match.start()
            return InputError(
                f"{name}:{index.line(offset) + line_base}:{index.column(offset)}:"
                f" number too long (more than {limit} digits)"
            )
    return None


def _json_document(
    text: str, name: str, warn: Warn, strict_error: ValueError | None = None
) -> list[_Value]:
    try:
        values, forgiven = _json_values(text, name, strict_error)
    except _NotJSON as not_json:
        raise not_json.error from None
    for _key, _line, phrase in forgiven:
        warn(f"{name}: parsed leniently: {phrase}")
    return values


def _json_values(
    text: str, name: str, strict_error: ValueError | None = None
) -> tuple[list[_Value], list[tuple[str, int, str]]]:
    """Strict JSON, else lenient; (values, forgiven) — raises InputError or _NotJSON.

    ``strict_error``: json.loads already refused this very text (don't parse 50 MB twice).
    """
    if strict_error is not None:
        return _lenient(text, name, strict_error)
    _check_depth(text, name)
    try:
        data = json.loads(text)
    except RecursionError:  # only if the bracket count was fooled; same message
        raise _nesting_error(name, 1) from None
    except ValueError as error:
        return _lenient(text, name, error)
    start = len(text) - len(text.lstrip())
    if "\n" not in text.strip():
        return [(data, text.count("\n", 0, start) + 1, {})], []
    index = _LineIndex(text)
    tops = _field_lines(text, [(start, len(text))], index)
    return [(data, index.line(start), tops[0])], []


# tokens of strict JSON, or of lenient text once normalised (no comments, no typographic quotes)
_WALK_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"'  # a string
    r"|'(?:[^'\\\n]|\\.)*'"  # a JSON5 single-quoted string
    r"|[{}\[\],:]"
    r"""|[^\s{}\[\],:"']+"""  # a number, a literal, an unquoted key
    r"|\S",
    re.DOTALL,
)


def _field_lines(
    text: str, spans: list[tuple[int, int]], index: _LineIndex, line_base: int = 0
) -> list[dict[Path_, int]]:
    """For each span holding one JSON(5) value: {field path: line}, by a scan over its tokens.

    Iterative (an explicit stack), so any depth the parser accepted is fine here too. Lines are
    counted as the scan goes: keys and elements come in order.
    """
    results = []
    for begin, end in spans:
        lines: dict[Path_, int] = {}
        line = index.line(begin) + line_base
        seen = begin  # `line` is the line of this offset
        count = text.count
        # frames: [path, is_object, expecting_key, key, key_line, element_index]
        stack: list[list[Any]] = []
        for match in _WALK_TOKEN.finditer(text, begin, end):
            token = match.group()
            if not stack:
                if token == "{" or token == "[":
                    stack.append([(), token == "{", True, None, 0, 0])
                continue
            frame = stack[-1]
            if frame[1]:  # object
                if frame[2]:  # expecting a key
                    if token == "}":
                        stack.pop()
                    elif token not in ",:[]{":
                        start = match.start()
                        line += count("\n", seen, start)
                        seen = start
                        frame[3] = _key_of(token)
                        frame[4] = line
                        frame[2] = False
                    continue
                if token == ":":
                    continue
                if token == ",":
                    frame[2] = True
                    continue
                if token == "}":
                    stack.pop()
                    continue
                path = (*frame[0], frame[3])
                lines[path] = frame[4]
            else:  # array
                if token == ",":
                    frame[5] += 1
                    continue
                if token == "]":
                    stack.pop()
                    continue
                start = match.start()
                line += count("\n", seen, start)
                seen = start
                path = (*frame[0], frame[5])
                lines[path] = line
            if token == "{" or token == "[":
                stack.append([path, token == "{", True, None, 0, 0])
        results.append(lines)
    return results


def _key_of(token: str) -> str:
    if token[0] == '"':
        if "\\" in token:
            try:
                return json.loads(token)
            except ValueError:
                pass
        return token[1:-1]
    if token[0] == "'":
        return token[1:-1]
    return token  # an unquoted JSON5 key


# -- lenient ----------------------------------------------------------------------------------


def _lenient(
    text: str, name: str, strict_error: ValueError, *, line_base: int = 0
) -> tuple[list[_Value], list[tuple[str, int, str]]]:
    """Read what strict JSON refused: (values, forgiven [(kind, line, phrase)])."""
    if _is_digit_limit(strict_error):  # valid JSON up to a number int() refuses
        too_long = _number_too_long(text, 0, len(text), name, _LineIndex(text), line_base)
        if too_long is not None:
            raise too_long
    strict_line, strict_column, strict_msg = _strict_position(text, strict_error)
    if len(text) > LENIENT_LIMIT:
        raise InputError(
            f"{name}:{strict_line + line_base}:{strict_column}: {strict_msg}",
            hint=f"lenient parsing (comments, trailing commas…) is limited to inputs of"
            f" {_size(LENIENT_LIMIT)}",
        )
    index = _LineIndex(text)

    def line(offset: int) -> int:
        return index.line(offset) + line_base

    tokens = [
        (m.lastgroup, m.start(), m.end()) for m in _TOKEN.finditer(text) if m.lastgroup != "ws"
    ]
    candidates, prose, separators = _segments(text, tokens)
    if not candidates:
        raise _NotJSON(
            InputError(f"{name}:{strict_line + line_base}:{strict_column}: {strict_msg}")
        )

    # same-length substitutions: every offset, line and column still points into `text`
    chars = list(text)
    forgiven: list[tuple[str, int, str | None]] = []

    def forgive(kind: str, offset: int, phrase: str | None = None) -> None:
        forgiven.append((kind, line(offset), phrase))

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    significant = [i for i, t in enumerate(tokens) if t[0] not in _COMMENTS]
    following = {a: b for a, b in zip(significant, significant[1:], strict=False)}
    for position, (kind, start, end) in enumerate(tokens):
        if position in prose or position in separators:
            blank(start, end)
            continue
        if kind in _COMMENTS:
            forgive("comment", start)
            blank(start, end)
            continue
        nxt = following.get(position)
        next_token = text[tokens[nxt][1] : tokens[nxt][2]] if nxt is not None else ""
        token = text[start:end]
        if kind == "p" and token == ",":
            if next_token in ("}", "]"):
                forgive("trailing comma", start)
                blank(start, end)
        elif kind == "sq":
            forgive("single quotes", start)
        elif kind in ("tdq", "tsq"):
            forgive("typographic quotes", start)
            quote = '"' if kind == "tdq" else "'"
            chars[start] = quote
            chars[end - 1] = quote
        elif kind == "w":
            if next_token == ":":
                if not _JSON_NUMBER.fullmatch(token):
                    forgive("unquoted key", start)
            elif token in _PYTHON_WORDS:
                forgive(f"Python literal {token}", start)
                chars[start:end] = _PYTHON_WORDS[token]
            elif token not in _JSON_WORDS and not _JSON_NUMBER.fullmatch(token):
                forgive(f"JSON5 value {token}", start)
        elif kind == "dq" and "\\" in token and _json5_escape(token):
            forgive("JSON5 string escape", start)
    normalized = "".join(chars)

    spans = [
        (tokens[first][1], tokens[last][2] if last is not None else len(text))
        for first, last in candidates
    ]
    data = [
        _parse_span(normalized, start, end, name, tokens, index, line_base) for start, end in spans
    ]
    if "\n" in text.strip():
        field_lines = _field_lines(normalized, spans, index, line_base)
    else:
        field_lines = [{} for _ in spans]
    result = [
        (value, line(start), lines)
        for value, (start, _end), lines in zip(data, spans, field_lines, strict=True)
    ]

    # prose and values pasted back to back
    if prose:
        first_start = spans[0][0]
        last_end = spans[-1][1]
        before = [tokens[i][1] for i in prose if tokens[i][1] < first_start]
        after = [tokens[i][1] for i in prose if tokens[i][1] >= last_end]
        between = [tokens[i][1] for i in prose if first_start <= tokens[i][1] < last_end]
        if before:
            where = f"ignored text before line {line(first_start)}"
            forgive("ignored text before", before[0], where)
        if between:
            forgive("ignored text", between[0])
        if after:
            where = f"ignored text after line {line(max(last_end - 1, 0))}"
            forgive("ignored text after", after[0], where)
    if len(result) > 1:
        noun = "objects" if all(isinstance(v[0], dict) for v in result) else "values"
        at = _at_lines(sorted({v[1] for v in result}))
        phrase = f"{len(result)} {noun} pasted back to back {at}"
        forgiven.append(("back to back", result[0][1], phrase))
    if not forgiven:  # json5 accepted something none of the checks above names
        at = strict_line + line_base
        forgiven.append(("JSON5 syntax", at, None))
    return result, _merge_forgiven(forgiven)


def _at_lines(lines: list[int]) -> str:
    """[12] → "at line 12"; [3, 7, 9] → "at lines 3, 7 and 9"; long lists are cut short."""
    if len(lines) == 1:
        return f"at line {lines[0]}"
    shown = [str(n) for n in lines[:5]]
    more = len(lines) - len(shown)
    if more:
        return f"at lines {', '.join(shown)} and {more} more"
    return f"at lines {', '.join(shown[:-1])} and {shown[-1]}"


def _merge_forgiven(forgiven: list[tuple[str, int, str | None]]) -> list[tuple[str, int, str]]:
    """One entry per kind of forgiveness, in order of first appearance, naming its lines."""
    kinds: dict[str, list[Any]] = {}
    for kind, line, phrase in sorted(forgiven, key=lambda f: f[1]):
        entry = kinds.setdefault(kind, [line, [], phrase])
        if not entry[1] or entry[1][-1] != line:  # sorted: a repeat is always the last one
            entry[1].append(line)
    return [
        (kind, first, phrase or f"{kind} {_at_lines(lines)}")
        for kind, (first, lines, phrase) in kinds.items()
    ]


def _json5_escape(token: str) -> bool:
    """Does this double-quoted string use an escape JSON lacks (\\x41, \\', a line break)?"""
    return any(m.group(1) is not None for m in _ESCAPE.finditer(token))


_TRAILING_COMMA = re.compile(r",\s*([\]}])")


def _strict_position(text: str, error: ValueError) -> tuple[int, int, str]:
    """(line, column, message) of json's error, in words that do not depend on the Python."""
    if not isinstance(error, json.JSONDecodeError):
        return 1, 1, str(error)
    # A trailing comma is the commonest slip, and json words it by version: 3.13 "Illegal
    # trailing comma before end of array" at the comma, 3.12 "Expecting value" at the bracket.
    comma = text.rfind(",", 0, error.pos + 1)
    trailing = _TRAILING_COMMA.match(text, comma) if comma >= 0 else None
    if trailing is not None and trailing.start(1) >= error.pos:
        line = text.count("\n", 0, comma) + 1
        column = comma - text.rfind("\n", 0, comma)
        return line, column, f"trailing comma before '{trailing.group(1)}'"
    return error.lineno, error.colno, error.msg[:1].lower() + error.msg[1:]


def _segments(
    text: str, tokens: list[tuple[str, int, int]]
) -> tuple[list[tuple[int, int | None]], set[int], set[int]]:
    """Top-level values as (first, last token; last None when never closed), the positions of
    prose tokens around them, and of commas merely separating values pasted back to back."""
    significant = [p for p, t in enumerate(tokens) if t[0] not in _COMMENTS]
    candidates, outside = _top_level(text, tokens, significant, in_prose=False)
    commas = {p for p in outside if tokens[p][0] == "p" and text[tokens[p][1]] == ","}
    if len(commas) == len(outside):
        return candidates, set(), commas
    # prose around the payload: braces in prose ("see [1]", a code sample) are prose too
    candidates, outside = _top_level(text, tokens, significant, in_prose=True)
    prose = set(outside)
    # "//" outside the payload is prose too (https://…), not a comment we forgave
    firsts = [first for first, _last in candidates]
    for position, (kind, _start, _end) in enumerate(tokens):
        if kind in _COMMENTS:
            k = bisect.bisect_left(firsts, position) - 1  # the value starting before it
            last = candidates[k][1] if k >= 0 else -1
            if k < 0 or (last is not None and last < position):
                prose.add(position)
    return candidates, prose, set()


def _top_level(
    text: str, tokens: list[tuple[str, int, int]], significant: list[int], *, in_prose: bool
) -> tuple[list[tuple[int, int | None]], list[int]]:
    candidates: list[tuple[int, int | None]] = []
    outside: list[int] = []  # token positions at depth 0, outside every value
    depth = 0
    first = 0

    def char(n: int) -> str:  # first character of the n-th significant token ("" past the end)
        return text[tokens[significant[n]][1]] if n < len(significant) else ""

    def opens_payload(n: int) -> bool:
        # in prose, a payload starts "{" + key + ":" (or "{}"), or "[" + such an object
        if char(n) == "[":
            n += 1
            if char(n) != "{":
                return False
        if char(n + 1) == "}":
            return True
        key_kind = tokens[significant[n + 1]][0] if n + 1 < len(significant) else ""
        return (key_kind in _STRINGS or key_kind == "w") and char(n + 2) == ":"

    for n, position in enumerate(significant):
        kind, start, _end = tokens[position]
        c = text[start]
        if depth == 0:
            if kind == "p" and c in "{[" and (not in_prose or opens_payload(n)):
                first = position
                depth = 1
            else:
                outside.append(position)
        elif kind == "p" and c in "{[":
            depth += 1
        elif kind == "p" and c in "}]":
            depth -= 1
            if depth == 0:
                candidates.append((first, position))
    if depth:
        candidates.append((first, None))
    return candidates, outside


def _parse_span(
    normalized: str,
    start: int,
    end: int,
    name: str,
    tokens: list[tuple[str, int, int]],
    index: _LineIndex,
    line_base: int,
) -> Any:
    span = normalized[start:end]
    _check_depth(normalized, name, line_base, start, end)
    line = index.line(start) + line_base
    try:
        return json.loads(span)
    except RecursionError:  # only if the bracket count was fooled; same message
        raise _nesting_error(name, line) from None
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            fail_at = start + error.pos
        else:
            fail_at = start
        if _is_digit_limit(error):
            too_long = _number_too_long(normalized, start, end, name, index, line_base)
            if too_long is not None:
                raise too_long from None
    if len(span) > JSON5_LIMIT:
        raise _syntax_error(
            name, normalized, tokens, fail_at, index, line_base,
            extra=f"the JSON5 parser (single quotes, unquoted keys…) is used only for values"
            f" up to {_size(JSON5_LIMIT)}",
        )
    import json5

    try:
        return json5.loads(span)
    except (RecursionError, MemoryError):
        raise _nesting_error(name, line) from None
    except ValueError as error:
        if _is_digit_limit(error):
            too_long = _number_too_long(normalized, start, end, name, index, line_base)
            if too_long is not None:
                raise too_long from None
        match = re.match(r"<string>:(\d+) .* at column (\d+)$", str(error), re.DOTALL)
        if match:
            span_index = _LineIndex(span)
            fail_at = start + span_index.offset(int(match.group(1)), int(match.group(2)))
    raise _syntax_error(name, normalized, tokens, fail_at, index, line_base)


_VALUE_END = frozenset({"}", "]"})
_VALUE_START = frozenset({"{", "["})


def _syntax_error(
    name: str,
    text: str,
    tokens: list[tuple[str, int, int]],
    offset: int,
    index: _LineIndex,
    line_base: int,
    extra: str | None = None,
) -> InputError:
    """``file:line:column: what`` and, when the cause is obvious, a hint."""
    significant = [t for t in tokens if t[0] not in _COMMENTS]
    starts = [t[1] for t in significant]
    at = bisect.bisect_left(starts, offset)
    # the token that contains the offset, if the parser stopped inside one
    if at > 0 and significant[at - 1][2] > offset:
        at -= 1
    # open brackets before the failure point
    stack: list[int] = []
    for kind, start, _end in significant[:at]:
        if kind == "p":
            char = text[start]
            if char in "{[":
                stack.append(start)
            elif char in "}]" and stack:
                stack.pop()
    hint = None
    quotes = "\"'\u201c\u201d\u2018\u2019"
    stray = [t for t in significant[:at + 1] if t[0] == "x" and text[t[1]] in quotes]
    if stray:  # a string that never closed: the parser tripped somewhere after it
        offset = stray[0][1]
        line = index.line(offset) + line_base
        return InputError(
            f"{name}:{line}:{index.column(offset)}: unterminated string",
            hint="the closing quote is missing (a string cannot span lines)",
        )
    if at >= len(significant) or not text[offset:].strip():
        offset = len(text.rstrip())
        what = "unexpected end of input"
        if stack:
            opener = stack[-1]
            hint = (
                f"the '{text[opener]}' opened at line {index.line(opener) + line_base}"
                " is never closed"
            )
    else:
        kind, start, end = significant[at]
        offset = start
        token = text[start:end]
        if kind == "x":
            what = f"unexpected character {token!r}"
        else:
            shown = token if len(token) <= 30 else token[:27] + "..."
            what = f"unexpected string {shown}" if kind in _STRINGS else f"unexpected '{shown}'"
            hint = _missing_hint(text, significant, at, stack, index, line_base)
    line = index.line(offset) + line_base
    column = index.column(offset)
    if extra:
        hint = f"{hint}; {extra}" if hint else extra
    return InputError(f"{name}:{line}:{column}: {what}", hint=hint)


def _missing_hint(
    text: str,
    significant: list[tuple[str, int, int]],
    at: int,
    stack: list[int],
    index: _LineIndex,
    line_base: int,
) -> str | None:
    if at == 0:
        return None
    kind, start, end = significant[at]
    token = text[start:end]
    starts_value = kind in _STRINGS or kind == "w" or token in _VALUE_START
    if not starts_value:
        return None
    prev_kind, prev_start, prev_end = significant[at - 1]
    prev = text[prev_start:prev_end]
    ends_value = prev_kind in _STRINGS or prev_kind == "w" or prev in _VALUE_END
    if not ends_value:
        return None
    prev_line = index.line(prev_end - 1) + line_base
    in_object = bool(stack) and text[stack[-1]] == "{"
    if in_object and at >= 2:
        before = text[significant[at - 2][1] : significant[at - 2][2]]
        if before in ("{", ","):  # prev was a key
            return f"a ':' is missing after the key on line {prev_line}"
    return f"a comma is missing between two values: add ',' at the end of line {prev_line}"


# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------

_yaml_loader_class: Any = None


def _yaml_loader() -> Any:
    """A safe loader (libyaml when present) resolving plain scalars like YAML 1.2's core schema.

    YAML 1.1 turns ``NO`` into false, ``1:20`` into 80, ``0700`` into 448 and dates into
    datetime objects. Shipment files are full of postcodes, phone numbers and dates that must
    stay the strings they look like, so: booleans and null only in their JSON spellings (and
    capitalised), integers without leading zeros, floats, and everything else a string.
    """
    global _yaml_loader_class
    if _yaml_loader_class is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc, valid-type]
            pass

        Loader.yaml_implicit_resolvers = {}
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:bool",
            re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
            list("tTfF"),
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:float",
            re.compile(
                r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
            ),
            list("-+0123456789."),
        )
        Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
        _yaml_loader_class = Loader
    return _yaml_loader_class


_YAMLISH = re.compile(r"(?:---|-\s|[\w\"'.-]+\s*:(?:\s|$)|#)")


def _read_yaml_file(stream: IO[bytes], name: str, warn: Warn) -> Iterator[Item]:
    data = _check_start(_read_all(stream, name), name)
    text = _decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: empty input")
    try:
        values = _yaml_values(text, name)
    except InputError as yaml_error:
        # JSON pasted into a .yaml file: YAML refused it (tabs, comments…); try the JSON reader
        if text.lstrip()[:1] not in ("{", "["):
            raise
        try:
            values = _json_document(text, name, warn)
        except InputError:
            raise yaml_error from None
    if not values:
        raise InputError(f"{name}: empty input")
    return _items_from_values(values, name)


def _yaml_or_json(text: str, name: str, warn: Warn) -> list[_Value]:
    """stdin or an unknown suffix, not starting with { or [: YAML, else JSON found in prose."""
    yaml_error: InputError | None = None
    try:
        values = _yaml_values(text, name)
    except InputError as error:
        yaml_error = error
        values = []
    if values and all(_is_payload(v[0]) for v in values):
        return values
    try:
        json_values, forgiven = _json_values(text, name)
    except _NotJSON:
        pass
    except InputError:
        if yaml_error is None or not _looks_like_yaml(text):
            raise
    else:
        for _forgiven_kind, _line, phrase in forgiven:
            warn(f"{name}: parsed leniently: {phrase}")
        return json_values
    if yaml_error is not None:
        raise yaml_error
    if not values:
        raise InputError(f"{name}: empty input")
    return values  # _split_value reports what it found instead of an object


def _is_payload(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and all(isinstance(v, dict) for v in value)
    )


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        if line.strip():
            return bool(_YAMLISH.match(line.lstrip()))
    return False


def _yaml_values(text: str, name: str) -> list[_Value]:
    """Every non-empty YAML document, with the line of each node."""
    import yaml

    values: list[_Value] = []
    budget = [2 * len(text) + 10_000]  # node visits, aliases expanded (billion laughs)
    loader = _yaml_loader()(text)
    try:
        _check_yaml_depth(text, name)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines = _node_lines(node, name, budget)
            data = loader.construct_document(node)
            if data is None:  # an empty document ("---" alone)
                continue
            values.append((data, node.start_mark.line + 1, lines))
    except yaml.MarkedYAMLError as error:
        raise _yaml_error(name, text, error) from None
    except yaml.YAMLError as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{name}: not valid YAML: {detail}") from None
    except (RecursionError, MemoryError):  # not reached: depth is checked first; same message
        raise _nesting_error(name, 1) from None
    except (ValueError, TypeError, OverflowError) as error:  # a constructor refusing a scalar
        raise InputError(f"{name}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    return values


def _check_yaml_depth(text: str, name: str) -> None:
    """Refuse collections nested deeper than MAX_DEPTH before the composer recurses into them.

    The composer recurses once per level (libyaml's in C, with no limit: 100,000 levels crash
    the process), while the parser's events are flat, so they are counted first. This costs
    about a fifth of the time of reading the YAML.
    """
    import yaml

    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    loader = _yaml_loader()(text)
    try:
        depth = 0
        while True:
            event = loader.get_event()
            if event is None:
                return
            if isinstance(event, starts):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _nesting_error(name, event.start_mark.line + 1)
            elif isinstance(event, ends):
                depth -= 1
    finally:
        loader.dispose()


def _yaml_error(name: str, text: str, error: Any) -> InputError:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "not valid YAML"
    if "nesting depth" in problem:
        # libyaml's scanner reads flow brackets ahead and stops at its own limit (1,000 in some
        # builds) before the events reach _check_yaml_depth: name the line our limit is crossed
        offset = too_deep(text)
        line = text.count("\n", 0, offset) + 1 if offset is not None else mark.line + 1
        return _nesting_error(name, line)
    if mark is None:
        return InputError(f"{name}: {problem}")
    context_mark = error.context_mark
    if error.context and context_mark is not None and context_mark.line != mark.line:
        problem = f"{problem} ({error.context} at line {context_mark.line + 1})"
    hint = None
    line_text = _line_at(text, mark.line)
    if "\t" in line_text[: mark.column + 1] and "cannot start any token" in problem:
        hint = "YAML indentation must use spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = "quote a value that contains ': ', or check the indentation"
    return InputError(f"{name}:{mark.line + 1}:{mark.column + 1}: {problem}", hint=hint)


def _line_at(text: str, line: int) -> str:
    """The 0-based ``line`` of ``text`` (for a hint; empty when out of range)."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]


def _node_lines(root: Any, name: str, budget: list[int]) -> dict[Path_, int]:
    """{field path: line} of a composed YAML document (iterative; aliases counted)."""
    import yaml

    lines: dict[Path_, int] = {}
    stack: list[tuple[Any, Path_]] = [(root, ())]
    limit = _digit_limit()
    alias_error = f"{name}: too many YAML alias expansions (or a recursive alias)"
    while stack:
        node, path = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise InputError(alias_error)
        if isinstance(node, yaml.CollectionNode) and len(path) >= MAX_DEPTH:
            # aliases nest what they stand for: `&a [[…]]` used inside another deep list
            if _is_recursive(root):
                raise InputError(alias_error)
            raise _nesting_error(name, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                _check_yaml_int(key_node, name, limit)
                key: str | int = key_node.value
                if key_node.tag == "tag:yaml.org,2002:int":  # `1: …` makes an int key
                    key = int(key)
                child = (*path, key)
                lines[child] = key_node.start_mark.line + 1
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for position, value_node in enumerate(node.value):
                child = (*path, position)
                lines[child] = value_node.start_mark.line + 1
                stack.append((value_node, child))
        else:
            _check_yaml_int(node, name, limit)
    return lines


def _is_recursive(root: Any) -> bool:
    """Does a composed YAML node contain itself (``&a [*a]``)? Iterative depth-first search."""
    import yaml

    done: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in on_path:
            return True
        if id(node) in done or not isinstance(node, yaml.CollectionNode):
            continue
        on_path.add(id(node))
        stack.append((node, True))
        children = node.value
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        stack.extend((child, False) for child in children)
    return False


def _check_yaml_int(node: Any, name: str, limit: int) -> None:
    """An int scalar too long for int(): say where, before the constructor fails somewhere."""
    if limit and node.tag == "tag:yaml.org,2002:int" and len(node.value) > limit:
        if len(node.value.lstrip("+-")) > limit:
            mark = node.start_mark
            raise InputError(
                f"{name}:{mark.line + 1}:{mark.column + 1}:"
                f" number too long (more than {limit} digits)"
            )


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _read_csv(stream: IO[bytes], name: str) -> Iterator[Item]:
    """Header of dotted names (``to.lines.0``) → nested objects; empty cells left out.

    Lines are decoded one by one and handed to ``csv.reader`` with their own line endings (as
    ``newline=""`` would), so quoted cells may span lines and memory stays flat.
    """
    import csv

    reader = csv.reader(_decode(raw, name, lineno) for lineno, raw in _lines(stream, name))
    row_start = 1
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise InputError(f"{name}: empty input")
        columns = _csv_columns([cell.strip() for cell in header], name)
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
    path: tuple[str | int, ...]


# A header names the fields of one shipment, three parts deep at most (SPEC §5 `ewe modify`:
# `to.lines.0`, `merchandise.0.sku`); MAX_DEPTH parts leave room to spare and stop a hostile
# `a.a.a.…` header from nesting without end. A list index only orders the cells (`lines.0` and
# `lines.7` make a list of two), so memory does not grow with it; but one row carrying 10,000
# list elements is a typo, and int() refuses more than 4,300 digits.
MAX_CSV_INDEX = 9999
_SHOWN_COLUMN = 40  # characters of a column name quoted in an error


def _shown(column: str) -> str:
    if len(column) <= _SHOWN_COLUMN:
        return column
    return column[: _SHOWN_COLUMN - 1] + "…"


def _column(number: int, column: str) -> str:
    """``column 3 "to.lines.0"`` — numbered, since a hostile name may be shortened."""
    return f'column {number} "{_shown(column)}"'


def _csv_columns(header: list[str], name: str) -> list[_Column]:
    columns: list[_Column] = []
    seen: dict[tuple, tuple[int, str]] = {}
    # every interior node of the column tree is a list (int children) or an object (names)
    containers: dict[tuple, tuple[str, int, str]] = {}  # node → ("list"|"object", number, name)
    leaves: dict[tuple, tuple[int, str]] = {}
    for number, column in enumerate(header, 1):
        if not column:
            raise InputError(f"{name}:1: column {number} has no name")
        try:
            path = _column_path(column)
            if path in seen:
                first = seen[path]
                raise ValueError(
                    f"appears twice (also {_column(*first)})" if first[1] == column
                    else f"same field as {_column(*first)}"
                )
            if path in containers:
                raise ValueError(f"conflicts with {_column(*containers[path][1:])}")
            for depth in range(1, len(path)):
                prefix = path[:depth]
                if prefix in leaves:
                    raise ValueError(f"conflicts with {_column(*leaves[prefix])}")
                kind = "list" if isinstance(path[depth], int) else "object"
                known = containers.get(prefix)
                if known is None:
                    containers[prefix] = (kind, number, column)
                elif known[0] != kind:
                    raise ValueError(
                        f"conflicts with {_column(*known[1:])}"
                        f" ({_shown(dotted(prefix))} cannot be both a list and an object)"
                    )
        except ValueError as why:
            raise InputError(f"{name}:1: {_column(number, column)}: {why}") from None
        seen[path] = leaves[path] = (number, column)
        columns.append(_Column(column, path))
    return columns


def _column_path(column: str) -> tuple[str | int, ...]:
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
                raise ValueError(f"list index {_shown(part)} is larger than {MAX_CSV_INDEX}")
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
