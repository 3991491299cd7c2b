"""Signal handlers: the one way shipctl sets them and puts back the ones it found.

``handle`` is used by the command line (a signal becomes a KeyboardInterrupt), the bulk engine
(a signal is noted and the run winds down) and the two servers shipctl runs (`shipctl
sandbox`, `ecom listen`: ``on_stop_signals``). Standard library only: the command line
imports it at start-up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any


def handle(handler: Callable[[int, Any], Any], signals: Iterable[int], *,
           over: dict[int, Any] | None = None) -> Callable[[], None]:
    """Set ``handler`` for each of ``signals`` and return the undo, which puts each previous
    handler back where ``handler`` is still the one set (one set meanwhile is someone
    else's, and stays). ``over``: only where the handler in place is ``over[signal]`` (the
    default one; a signal an embedding program ignores or handles is left alone). Outside the
    main thread, where handlers cannot be set, nothing is set and the undo does nothing."""
    previous: dict[int, Any] = {}
    for signum in signals:
        try:
            if over is not None and signal.getsignal(signum) is not over.get(signum):
                continue
            old = signal.signal(signum, handler)
        except (ValueError, OSError):  # not the main thread
            break
        previous[signum] = old if old is not None else signal.SIG_DFL

    def restore() -> None:
        for signum, old in previous.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, old)
        previous.clear()

    return restore


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
    restore = handle(on_signal, signals)
    try:
        yield
    finally:
        restore()
