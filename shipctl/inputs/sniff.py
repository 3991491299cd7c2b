"""A .json file, stdin, or a file with another suffix: find out what it holds.

A first line that is a whole JSON object or list means JSON Lines (or a one-line document), read
as it streams. Otherwise the whole text is read: as JSON if it starts with ``{`` or ``[`` (or
the file is ``.json``), else as YAML, else as JSON found in prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from shipctl.errors import InputError
from shipctl.inputs import limits
from shipctl.inputs.items import Item, Repair, Value, Warn, items_from_values
from shipctl.inputs.jsontext import json_document, json_values, read_json_lines
from shipctl.inputs.lenient import EMAIL_QUOTING, NotJSON, unquote_email
from shipctl.inputs.sources import Head, decode, lines, read_all, read_head
from shipctl.inputs.yamlreader import yaml_values

_YAMLISH = re.compile(r"(?:---|-\s|[\w\"'.-]+\s*:(?:\s|$)|#)")


def read_sniffed(stream: IO[bytes], name: str, *, json_suffix: bool, warn: Warn) -> Iterator[Item]:
    head = read_head(stream, name)
    if head.bom:  # a paste from a Windows tool; JSON itself has no BOM (RFC 8259 §8.1)
        warn(Repair(name, "byte-order mark (BOM) at the start ignored"))
    first = head.line.lstrip()[:1]
    head_error: ValueError | None = None
    if first in (b"{", b"["):
        value, head_error = _first_line(head, name)
        if isinstance(value, (dict, list)):
            # one JSON value per line (or a one-line document): stream it line by line
            rest = lines(stream, name, head.lineno)
            return read_json_lines(rest, name, warn, first=(head.lineno, value, head.line))
    data = read_all(stream, name, head.read)
    text = decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: empty input")
    unquoted = unquote_email(text) if first == b">" else None
    if unquoted is not None:  # a paste from an email reply: "> {" … "> }"
        warn(Repair(name, EMAIL_QUOTING))
        text = unquoted
        first = text.lstrip()[:1].encode()
    if head_error is not None and (head.lineno > 1 or len(data) != len(head.line)):
        head_error = None  # it was about the first line alone: parse the whole text
    if json_suffix or first in (b"{", b"["):
        return items_from_values(json_document(text, name, warn, head_error), name)
    return items_from_values(_yaml_or_json(text, name, warn), name)


def _first_line(head: Head, name: str) -> tuple[Any, ValueError | None]:
    """The first line as JSON: (its value, None), or (None, what json.loads said)."""
    text = decode(head.line, name, head.lineno)
    try:
        return limits.loads(text, name, head.lineno - 1), None
    except ValueError as error:
        return None, error


def _yaml_or_json(text: str, name: str, warn: Warn) -> list[Value]:
    """stdin or an unknown suffix, not starting with { or [: YAML, else JSON found in prose."""
    yaml_error: InputError | None = None
    try:
        values = yaml_values(text, name)
    except InputError as error:
        yaml_error = error
        values = []
    if values and all(_is_payload(v.data) for v in values):
        return values
    try:
        json_found, forgiven = json_values(text, name)
    except NotJSON:
        pass
    except InputError:
        if yaml_error is None or not _looks_like_yaml(text):
            raise
    else:
        for forgiveness in forgiven:
            warn(Repair(name, forgiveness.phrase))
        return json_found
    if yaml_error is not None:
        raise yaml_error
    if not values:
        raise InputError(f"{name}: empty input")
    return values  # split_value reports what it found instead of an object


def _is_payload(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and all(isinstance(v, dict) for v in value)
    )


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        if line.strip():
            return bool(_YAMLISH.match(line.lstrip()))
    return False
