"""Where things are in a JSON text: offsets → line and column, field paths → lines.

Shared by the strict reader and the lenient one (which scans its normalised text, whose
offsets are those of the user's text).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

from shipctl.inputs.items import Path_


class LineIndex:
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


# tokens of strict JSON, or of lenient text once normalised (no comments, no typographic quotes)
_WALK_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"'  # a string
    r"|'(?:[^'\\\n]|\\.)*'"  # a JSON5 single-quoted string
    r"|[{}\[\],:]"
    r"""|[^\s{}\[\],:"']+"""  # a number, a literal, an unquoted key
    r"|\S",
    re.DOTALL,
)


@dataclass(slots=True)
class _Frame:
    """An object or a list the scan is inside (slots: this is on the path of big inputs)."""

    path: Path_  # its own field path
    is_object: bool
    expecting_key: bool = True  # object: the next string is a key, not a value
    key: str | None = None  # object: the key of the value to come
    key_line: int = 0  # object: the line of that key, which is the line of its value
    element: int = 0  # list: the position of the element to come


def field_lines(
    text: str, spans: list[tuple[int, int]], index: LineIndex, line_base: int = 0
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
        stack: list[_Frame] = []
        for match in _WALK_TOKEN.finditer(text, begin, end):
            token = match.group()
            if not stack:
                if token == "{" or token == "[":
                    stack.append(_Frame((), token == "{"))
                continue
            frame = stack[-1]
            if frame.is_object:
                if frame.expecting_key:
                    if token == "}":
                        stack.pop()
                    elif token not in ",:[]{":
                        start = match.start()
                        line += count("\n", seen, start)
                        seen = start
                        frame.key = _key_of(token)
                        frame.key_line = line
                        frame.expecting_key = False
                    continue
                if token == ":":
                    continue
                if token == ",":
                    frame.expecting_key = True
                    continue
                if token == "}":
                    stack.pop()
                    continue
                path = (*frame.path, frame.key)
                lines[path] = frame.key_line
            else:  # a list
                if token == ",":
                    frame.element += 1
                    continue
                if token == "]":
                    stack.pop()
                    continue
                start = match.start()
                line += count("\n", seen, start)
                seen = start
                path = (*frame.path, frame.element)
                lines[path] = line
            if token == "{" or token == "[":
                stack.append(_Frame(path, token == "{"))
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
