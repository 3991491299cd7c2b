"""What a provider's simulator is to the sandbox (docs/conventions.md, Sandbox).

Each provider's simulator lives beside its code (``shipctl/<provider>/simulator.py``), exposes
``create() -> Simulator`` and is named by its ``Provider.simulator``. The server gives it every
request under its ``prefix`` as a ``SimRequest``, once the sandbox's own checks (host, body
size) passed and no fault was drawn for it, and sends back the ``SimResponse`` it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

MAX_BODY = 1024 * 1024  # larger request bodies are refused with 413 without being read
_JSON = "application/json"


@dataclass
class SimRequest:
    method: str  # "POST"
    path: str  # the full request path, prefix included: "/eweApi/ewe/api/modifyShipment"
    query: dict[str, list[str]]  # parsed query string (blank values kept)
    headers: dict[str, str]  # names lower-cased; the last value wins for repeated headers
    body: bytes  # at most MAX_BODY bytes


@dataclass
class SimResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(
        cls, document: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> SimResponse:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, {"Content-Type": _JSON, **(headers or {})}, body)


def error_response(status: int, message: str, **extra: str) -> SimResponse:
    """The sandbox's own (non-provider) answers: ``{"error": message}`` as JSON."""
    return SimResponse.json({"error": message}, status, headers=extra or None)


@runtime_checkable
class Simulator(Protocol):
    """One provider's API in the sandbox. Called from many server threads at once: it guards
    its own state."""

    name: str  # key in /_sandbox/stats and the provider's name: "ewe"
    prefix: str  # path prefix it owns, no trailing slash: "/eweApi/ewe/api"

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer REQUEST as the real API would, applying it when the API would."""
        ...

    def transient_fault(self, request: SimRequest) -> SimResponse | None:
        """This API's own "temporarily unavailable" answer (``--fail-mode code2``), or None to
        get an HTTP 503. Nothing is applied."""
        ...

    def stats(self) -> dict[str, Any]:
        """What it applied and refused, as JSON, for ``GET /_sandbox/stats``."""
        ...

    def reset(self) -> None:
        """Forget everything applied and counted (``POST /_sandbox/reset``)."""
        ...


def default_simulators() -> list[Simulator]:
    """A new simulator of every provider that has one, in the order of the registry."""
    from shipctl.provider import providers

    hooks = (provider.simulator_hook() for provider in providers())
    return [hook.create() for hook in hooks if hook is not None]
