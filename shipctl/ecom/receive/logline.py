"""One line of the receiver's log: stamped, safe to print, and rate-limited where a client or a
failing library could otherwise repeat it without end.

A log line quotes what clients sent (an awb, a reason, an address from X-Forwarded-For) and what
a downstream answered; ``log_safe`` makes such text unable to forge or disguise a line.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone

from shipctl.output import shorten, visible

Log = Callable[[str], None]


def stamp() -> str:
    """The time a log line starts with: UTC, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_safe(text: object, limit: int = 120) -> str:
    """Text from a request made safe for one log line: cut at ``limit``, then ``escape``d."""
    return escape(shorten(str(text), limit))


def escape(text: str) -> str:
    """``output.visible``, with the short ``\\x85`` escapes: a log line quotes bytes the way
    a reader of logs expects (``\\x0a``, ``\\x1b``)."""
    return visible(text, short=True)


class Throttle:
    """At most ``burst`` log lines per key at once, then one per ``every`` seconds; the next
    line that passes says how many were held back. Bounded: ``keys`` keys at most."""

    def __init__(self, burst: int = 20, every: float = 3.0, keys: int = 1000) -> None:
        self.burst, self.every, self.keys = burst, every, keys
        self._state: OrderedDict[str, list[float]] = OrderedDict()  # key → [tokens, at, held]
        self._lock = threading.Lock()  # loggers are called from any thread

    def __call__(self, key: str, line: str, log: Log) -> None:
        now = time.monotonic()
        with self._lock:
            state = self._state.pop(key, None) or [float(self.burst), now, 0.0]
            self._state[key] = state
            if len(self._state) > self.keys:
                self._state.popitem(last=False)
            state[0] = min(self.burst, state[0] + (now - state[1]) / self.every)
            state[1] = now
            if state[0] < 1:
                state[2] += 1
                return
            state[0] -= 1
            held, state[2] = int(state[2]), 0.0
        log(line + (f" ({held} more like it not logged)" if held else ""))
