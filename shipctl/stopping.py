"""How the two servers shipctl runs (`shipctl sandbox`, `ecom listen`) are asked to stop.

Standard library only: imported by both when they serve.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def on_stop_signals(stopping: threading.Event) -> Iterator[None]:
    """While serving, SIGINT, SIGTERM and SIGHUP set ``stopping``: for a server they are the
    normal way to stop (exit 0, after the requests in flight), not the interruption (130, or
    129 at once for SIGHUP's default) the CLI's own handlers make of them. SIGHUP is what a
    closed terminal or a service manager's reload sends; under ``nohup`` it is ignored, and
    stays so. The previous handlers come back afterwards. Outside the main thread (a server
    embedded in a test) nothing is installed and ``stopping`` is set by its owner."""

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signals = [signal.SIGINT, signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        signals.append(hangup)
    previous = {}
    for signum in signals:
        try:
            previous[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread
            break
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
