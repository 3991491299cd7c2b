"""Ecom's push receiver in the sandbox (docs/conventions.md, Sandbox).

The same rules and answers as `ecom listen` (``shipctl.ecom.receive.receiver``) and the same
store (``shipctl.ecom.receive.store``), in memory unless a file is given, behind the
sandbox's server at ``{base}/ecom`` with the sandbox credentials. So `shipctl --sandbox ecom
replay FILE` works with no configuration, and tests read from ``GET /_sandbox/stats`` how many
times each status_update_number was applied: 1 for a stored push, never 2 — a duplicate is
answered 200 and counted under ``duplicates`` instead.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from shipctl.ecom import SANDBOX_PASSWORD, SANDBOX_PATH, SANDBOX_USERNAME
from shipctl.ecom.receive.receiver import Receiver, failure
from shipctl.ecom.receive.store import MEMORY, Store, StoreError
from shipctl.sandbox import SimRequest, SimResponse


def _response(answer: Any) -> SimResponse:
    return SimResponse(answer.status, {"Content-Type": "application/json"}, answer.body)


class EcomSimulator:
    name = "ecom"
    prefix = SANDBOX_PATH

    def __init__(self, username: str = SANDBOX_USERNAME, password: str = SANDBOX_PASSWORD,
                 store: str | Path = MEMORY) -> None:
        self.receiver = Receiver(username, password)
        self.store = Store(store)
        self._lock = threading.Lock()
        self._applied: Counter[str] = Counter()  # status_update_number → times stored (0/1)
        self._duplicates: Counter[str] = Counter()  # → times answered as already stored
        self._refused: Counter[int] = Counter()  # HTTP status → times
        self._order: list[list[str]] = []  # [awb, status_update_number] as stored

    # -- the simulator contract (shipctl.sandbox.Simulator) -------------------------------------
    def handle(self, request: SimRequest) -> SimResponse:
        if request.path.rstrip("/") != self.prefix:
            return _response(failure(404, f"no receiver here: POST to {self.prefix}"))
        if request.method != "POST":
            response = _response(failure(405, "use POST"))
            response.headers["Allow"] = "POST"
            return response
        answer = self.receiver.receive(request.headers, request.body)
        push = answer.push
        if push is None:
            with self._lock:
                self._refused[answer.status] += 1
            return _response(answer)
        try:
            stored = self.store.add(push).result()
        except StoreError as error:
            return _response(failure(503, f"could not store the push: {error}"))
        with self._lock:
            if stored:
                self._applied[push.status_update_number] += 1
                self._order.append([push.awb, push.status_update_number])
            else:
                self._duplicates[push.status_update_number] += 1
        return _response(answer)

    def transient_fault(self, request: SimRequest) -> SimResponse | None:
        # Ecom's push API has no "temporarily unavailable" answer of its own: an HTTP 503.
        return None

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "applied": dict(self._applied),
                "duplicates": dict(self._duplicates),
                "refused": {str(status): n for status, n in self._refused.items()},
                "order": [list(pair) for pair in self._order],
                "stored": self.store.count(),
            }

    def reset(self) -> None:
        with self._lock:
            self._applied.clear()
            self._duplicates.clear()
            self._refused.clear()
            self._order.clear()
            self.store.clear()


def create() -> EcomSimulator:
    return EcomSimulator()
