"""The run's secrets, so every line we print can be scrubbed of them.

Config resolution registers each secret value it hands out (passwords, client secrets, EWE
digests, OAuth tokens); ``redact`` replaces any of them in text. Output, logs, reports and
journals go through ``redact`` so a secret cannot leak by an unforeseen path, unless the user
passed ``--show-secrets``.
"""

from __future__ import annotations

import threading
from typing import Any

MASK = "********"

_lock = threading.Lock()
_secrets: set[str] = set()


def register(value: str | None) -> None:
    # Very short values would mask ordinary text ("1", "a"); they are not credentials anyway.
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def clear() -> None:
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    if not _secrets or not text:
        return text
    with _lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_strings(value: Any) -> Any:
    """``value`` with every string in it — dict keys included — passed through ``redact``.

    For records that go out whole (the -o json request, report rows): registered secrets
    vanish however deep they sit.
    """
    if isinstance(value, dict):
        return {
            (redact(k) if isinstance(k, str) else k): redact_strings(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_strings(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def read_line() -> str | None:
    """One line of stdin without its line ending (LF or CRLF), None when stdin is empty.

    How a secret is piped in (``printf '%s\\n' "$PW" | shipctl …``): never on the command
    line, where ``ps`` and the shell history would show it.
    """
    import sys

    line = sys.stdin.readline()
    if not line:
        return None
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):  # a CRLF pipe from Windows
        line = line[:-1]
    return line
