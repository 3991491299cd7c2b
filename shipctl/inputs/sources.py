"""Where input comes from, as bytes and lines: arguments → sources, opening, spooling, decoding.

A source is a named file or stdin. A regular file is simply opened again for a second pass;
whatever can be read only once (stdin, a FIFO, ``/dev/fd/63``) is spooled to a temporary file
on first use. Text is UTF-8 (a BOM is dropped); anything else is refused with the line where
it goes wrong.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

from shipctl.errors import InputError, UsageError
from shipctl.inputs import limits
from shipctl.inputs.items import Warn
from shipctl.output import _isatty

PAYLOAD_SUFFIXES = (".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".csv")

STDIN_NAME = "<stdin>"

_SPOOL_IN_MEMORY = 8 * 1024 * 1024  # a spooled stream beyond this goes to a temporary file
_SPOOL_CHUNK = 64 * 1024
_SNIFF = 64 * 1024  # the first line is read this far before deciding what the input holds


@dataclass(frozen=True)
class Source:
    name: str  # as the user gave it (joined with the directory), or "<stdin>"
    path: str | None  # None: stdin
    scanned: bool = False  # found in a directory (not named on the command line)

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.name)[1].lower() if self.path is not None else ""


# -- arguments → sources ----------------------------------------------------------------------


def resolve(
    paths: list[str],
    *,
    recursive: bool,
    allow_csv: bool,
    stdin: IO[bytes] | None,
    warn: Warn,
    empty_ok: bool = False,
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
            sources.extend(_directory(arg, recursive=recursive, allow_csv=allow_csv, warn=warn,
                                      empty_ok=empty_ok))
        elif os.path.exists(arg):
            if os.path.splitext(arg)[1].lower() == ".csv" and not allow_csv:
                raise UsageError(f"{arg}: this command does not take CSV input")
            sources.append(Source(arg, arg))
        else:
            raise InputError(f"{arg}: no such file or directory")
    return sources


def _directory(top: str, *, recursive: bool, allow_csv: bool, warn: Warn,
               empty_ok: bool = False) -> list[Source]:
    """The payload files in ``top``, sorted. None is an InputError, or with ``empty_ok`` (bulk
    runs: a quiet night in a cron job is not an error) a warning."""
    found: list[tuple[tuple[str, ...], str]] = []
    special: list[tuple[tuple[str, ...], str]] = []  # (sort key, warning)
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
                kind = _special_kind(entry)
                if kind is None:
                    found.append(((*parts, entry.name), entry.path))
                else:
                    # reading it could block forever (a FIFO nobody writes) or never end (a
                    # device); given by name on the command line, it is read
                    special.append(((*parts, entry.name), f"{entry.path}: skipped, {kind}"))

    scan(top, ())
    found.sort()
    for _parts, message in sorted(special):
        warn(message)
    sources = []
    skipped_csv = 0
    for _parts, path in found:
        if path.lower().endswith(".csv") and not allow_csv:
            skipped_csv += 1
            continue
        sources.append(Source(path, path, scanned=True))
    if skipped_csv:
        files = "file" if skipped_csv == 1 else "files"
        warn(f"{top}: skipped {skipped_csv} .csv {files} (this command does not take CSV)")
    if not sources:
        kinds = ", ".join(s for s in PAYLOAD_SUFFIXES if allow_csv or s != ".csv")
        deep = " (add -R to read subdirectories)" if not recursive else ""
        message = f"{top}: no payload files ({kinds}) in this directory{deep}"
        if not empty_ok:
            raise InputError(message)
        warn(message)
    return sources


def _special_kind(entry: os.DirEntry[str]) -> str | None:
    """What a directory entry is when it is not a regular file (a symlink is followed), or
    None for a regular file and for one that cannot be looked at (the open says why)."""
    try:
        if entry.is_file():  # d_type: no system call, unless a symlink
            return None
        mode = entry.stat().st_mode
    except OSError:  # e.g. a dangling symlink: opening it reports "no such file"
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    return None if stat.S_ISREG(mode) else "not a regular file"


# A report shipctl wrote (--report): a CSV report's header, a JSON Lines report's first record.
_REPORT_CSV_HEADER = b"index,where,label,key,status,code,message,attempts,elapsed_ms"
_REPORT_JSONL_START = re.compile(rb'^\{"index": (?:\d+|null), "where": .*"status": ')


def is_shipctl_report(stream: IO[bytes]) -> bool:
    """Whether ``stream`` (a regular file, seekable) starts like a report shipctl wrote; the
    stream is left at its start. Only the first line is looked at (at most 64 KiB)."""
    try:
        if not stream.seekable():
            return False
        head = stream.readline(_SNIFF)
        stream.seek(0)
    except (OSError, ValueError):
        return False
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    head = head.rstrip(b"\r\n")
    return head.startswith(_REPORT_CSV_HEADER) or bool(_REPORT_JSONL_START.match(head))


# -- sources → streams ------------------------------------------------------------------------


class Streams:
    """Opens the sources of one command, once per pass; owns the spooled copies."""

    def __init__(self, stdin: IO[bytes] | None, *, spool: bool) -> None:
        self._stdin = stdin
        self._spool = spool  # False (read_items): one pass, streamed as it comes
        # one copy per source read once; the same path given twice shares it
        self._spooled: dict[Source, IO[bytes]] = {}

    def open(self, source: Source) -> IO[bytes]:
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
        if not self._spool:
            return stream
        with stream:
            spooled = _spool(stream, source.name)
        self._spooled[source] = spooled
        return _Borrowed(spooled)

    def close(self) -> None:
        spooled, self._spooled = self._spooled, {}
        for stream in spooled.values():
            stream.close()


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
            if size > limits.MAX_SPOOL:
                raise InputError(
                    f"{name}: larger than {limits.size_text(limits.MAX_SPOOL)}",
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


# -- bytes → text -----------------------------------------------------------------------------


def check_start(raw: bytes, name: str) -> bytes:
    """Strip a UTF-8 BOM; refuse UTF-16/32 (Windows editors and PowerShell redirects)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise InputError(f"{name}: UTF-32 text, not UTF-8", hint="save the file as UTF-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{name}: UTF-16 text, not UTF-8", hint="save the file as UTF-8")
    return raw


def decode(raw: bytes, name: str, first_line: int = 1) -> str:
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


def read_all(stream: IO[bytes], name: str, head: bytes = b"") -> bytes:
    """The rest of ``stream`` after ``head`` (already read), with it; at most MAX_DOCUMENT."""
    max_document = limits.MAX_DOCUMENT
    rest = stream.read(max_document + 1 - len(head))
    data = head + rest
    if len(data) > max_document:
        raise InputError(f"{name}: larger than {limits.size_text(max_document)}")
    return data


def lines(stream: IO[bytes], name: str, lineno: int = 0) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) with the BOM stripped; each line at most MAX_DOCUMENT bytes.

    ``lineno``: lines already read (by ``read_head``); only line 1 may start with a BOM.
    """
    first = lineno == 0
    max_document = limits.MAX_DOCUMENT
    while True:
        raw = stream.readline(max_document + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > max_document:
            raise InputError(f"{name}:{lineno}: line longer than {limits.size_text(max_document)}")
        if first:
            raw = check_start(raw, name)
            first = False
        yield lineno, raw


class Head(NamedTuple):
    """The start of an input, read to find out what it holds."""

    line: bytes  # the first line that is not blank (b"" if there is none)
    lineno: int  # its line number
    read: bytes  # everything read so far: the blank lines before it, and it
    bom: bool = False  # the input started with a UTF-8 byte-order mark (dropped)


def read_head(stream: IO[bytes], name: str) -> Head:
    """Read up to the first line that is not blank (BOM stripped, binary refused)."""
    raw = stream.readline(_SNIFF)
    line = check_start(raw, name)
    if b"\0" in line:  # binary garbage (or /dev/zero): say so before reading any further
        decode(line, name)
    lineno = 1
    consumed = [line]
    # skip leading blank lines, keep them for line numbers
    while line and not line.strip():
        line = stream.readline(_SNIFF)
        consumed.append(line)
        lineno += 1
    if line and not line.endswith(b"\n") and len(line) >= _SNIFF:  # a long first line
        line += stream.readline(limits.MAX_DOCUMENT)
        consumed[-1] = line
    return Head(line, lineno, b"".join(consumed), bom=raw.startswith(codecs.BOM_UTF8))
