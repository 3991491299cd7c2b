"""Changing one value of a config file and keeping everything else of it — comments, blank
lines, order, quoting — byte for byte (tomlkit).

Imported only by `config set`/`unset`: reading the file needs only tomllib, and tomlkit is
slow to import.
"""

from __future__ import annotations

import re
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, InlineTable, Table, Whitespace

from shipctl.provider import KeySpec

# What parsing a file, or changing the parsed document, raises when tomlkit cannot keep its
# layout: the change is refused and the file left as it was.
PARSE_ERRORS = (TOMLKitError, ValueError, RecursionError)
CHANGE_ERRORS = (TOMLKitError, ValueError, TypeError, KeyError)


def parse(text: str) -> Any:
    return tomlkit.parse(text)


def set_value(document: Any, profile: str, spec: KeySpec, value: Any) -> None:
    """Set [profiles.PROFILE.SECTION] LEAF = VALUE in a tomlkit document, in place."""
    before: list[Any] = []  # the table the first new one is rendered after

    def child(parent: Any, name: str, super_table: bool) -> Any:
        found = parent.get(name)
        if found is not None:
            return found
        if not before:
            before.append(_last_table(parent))
        if isinstance(parent, InlineTable):  # profiles = { default = { … } }: stay inline
            parent[name] = tomlkit.inline_table()
        elif super_table:  # no [profiles] or [profiles.NAME] header of its own
            parent[name] = tomlkit.table(is_super_table=True)
        else:
            table = tomlkit.table()
            table[spec.leaf] = value
            table.add(tomlkit.nl())  # a blank line before whatever follows it
            parent[name] = table
        return parent[name]

    profiles = child(document, "profiles", True)
    section = child(child(profiles, profile, True), spec.section, False)
    section[spec.leaf] = value  # in place: its comment and the lines around it stay
    if before and before[0] is not None and not isinstance(section, InlineTable):
        _move_header_comments(before[0], section)


def _last_table(container: Any) -> Any:
    """The [table] whose lines end CONTAINER's text (a new table is rendered after it)."""
    body = getattr(container, "body", None)  # a Document
    if body is None:
        body = getattr(getattr(container, "value", None), "body", None)  # a Table
    if not body or not isinstance(body[-1][1], Table):
        return None
    last = body[-1][1]
    return _last_table(last) if last.is_super_table() else last


def _move_header_comments(previous: Any, new: Any) -> None:
    """Comment lines that end PREVIOUS right above the next header describe that header: keep
    them above it, after the NEW table, rather than between the new table and its neighbour."""
    body = previous.value.body
    start = len(body)
    while start and body[start - 1][0] is None and isinstance(body[start - 1][1], Comment):
        start -= 1
    moved = body[start:]
    if not moved:
        return
    del body[start:]  # only key-less items: the indices of previous's keys stay valid
    for _, item in moved:
        new.add(item)
    if body and isinstance(body[-1][1], Whitespace):
        new.trivia.indent = ""  # the blank lines that were above the comments now lead to it


def unset_value(document: Any, profile: str, spec: KeySpec) -> bool:
    """Remove LEAF from [profiles.PROFILE.SECTION]; True when the emptied section went too.

    A section left empty goes, unless it holds comments (they are never dropped); the profile
    itself stays.
    """
    table = document["profiles"][profile]
    section = table[spec.section]
    del section[spec.leaf]
    if len(section) or getattr(section, "trivia", None) and section.trivia.comment:
        return False
    body = getattr(getattr(section, "value", None), "body", [])
    if any(isinstance(item, Comment) for _, item in body):
        return False  # the user's notes stay, under the header they were written for
    del table[spec.section]
    if not len(table) and getattr(table, "is_super_table", bool)():
        # [profiles.NAME] keeps the profile after its last key went
        document["profiles"][profile] = tomlkit.table()
    return True


def render(document: Any, old: str) -> str:
    """DOCUMENT as text laid out like OLD, the text it was parsed from."""
    text = tomlkit.dumps(document)
    # A new table opens and closes with a blank line: none at either end of the file
    # where it had none (nor a final newline added to a file that had none).
    if not old.startswith("\n"):
        text = text.lstrip("\n")
    if old and not old.endswith("\n"):
        text = text.rstrip("\n")
    elif not old.endswith("\n\n"):
        text = text.rstrip("\n") + "\n" if text.strip() else ""
    if old.count("\r\n") == old.count("\n") > 0:  # a Windows editor's file
        text = re.sub(r"(?<!\r)\n", "\r\n", text)
    return text
