"""Fault injection: latency ± jitter before each answer, and a fraction of requests answered
with a fault (``--latency``, ``--jitter``, ``--fail-rate``, ``--fail-mode``, ``--seed``;
docs/conventions.md, Sandbox).

Faults are drawn on a request's arrival, before the simulator sees it. ``code2`` (the API's own
"temporarily unavailable"), ``http503`` and ``reset`` (a dropped connection) are never applied,
so a client that retries gets every item applied exactly once. ``stall`` is the other kind: the
request IS applied, and no answer comes; the connection is held until the client gives up and
closes it (or ``stall_seconds`` pass). It is how a lost answer looks to a client: a read
timeout after the server acted. ``mix`` draws among the first three only, so that "retries
apply each item once" stays true of a mix; ``any`` draws among all four.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

FAIL_MODES = ("code2", "http503", "reset", "stall")
MIX = ("code2", "http503", "reset")  # `mix` draws among these: never applied, never stalled
STALL_SECONDS = 60.0  # how long a stalled connection is held at most


@dataclass
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0  # the added latency is latency_ms ± uniform(jitter_ms), at least 0
    fail_rate: float = 0.0  # probability that an answer is replaced by a fault
    # code2 | http503 | reset | stall | mix (uniform: code2/503/reset) | any (all four)
    fail_mode: str = "mix"
    seed: int | None = None  # same seed, same order of arrival → same faults
    stall_seconds: float = STALL_SECONDS  # a stall holds the connection at most this long

    def __post_init__(self) -> None:
        if self.fail_mode not in (*FAIL_MODES, "mix", "any"):
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}, mix, any")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        if not self.stall_seconds > 0:
            raise ValueError("stall_seconds must be more than 0")

    def describe(self) -> str:
        parts = []
        if self.latency_ms or self.jitter_ms:
            parts.append(f"latency {self.latency_ms:g} ms ± {self.jitter_ms:g} ms")
        if self.fail_rate:
            parts.append(f"fail rate {self.fail_rate:g} ({self.fail_mode})")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts) or "none"


class FaultDraw:
    """The draws of one server, in order of arrival, and what was drawn: thread-safe."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()  # guards the RNG (arrival order) and the counters
        self._rng = random.Random(seed)
        self.requests = 0
        self.counts = dict.fromkeys(FAIL_MODES, 0)

    def plan(self, faults: Faults) -> tuple[float, str | None]:
        """On arrival: count the request, draw its delay (seconds) and its fault (or None) as
        FAULTS say, which may change while the server runs."""
        with self._lock:
            self.requests += 1
            delay_ms = faults.latency_ms
            if faults.jitter_ms:
                delay_ms += self._rng.uniform(-faults.jitter_ms, faults.jitter_ms)
            fault = None
            if faults.fail_rate and self._rng.random() < faults.fail_rate:
                fault = faults.fail_mode
                if fault == "mix":
                    fault = self._rng.choice(MIX)
                elif fault == "any":
                    fault = self._rng.choice(FAIL_MODES)
        return max(delay_ms, 0.0) / 1000.0, fault

    def count(self, kind: str) -> None:
        """A fault of KIND was served (a code2 the API cannot give is served as http503)."""
        with self._lock:
            self.counts[kind] += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {"requests": self.requests, "faults": dict(self.counts)}

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.counts = dict.fromkeys(FAIL_MODES, 0)
