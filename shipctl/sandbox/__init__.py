"""The embedded sandbox: the providers' simulators on a loopback HTTP server
(docs/conventions.md, Sandbox).

- ``contract``: what a provider's simulator implements (``Simulator``, ``SimRequest``,
  ``SimResponse``);
- ``faults``: latency, jitter and injected faults (``--fail-mode`` and friends);
- ``server``: ``SandboxServer`` and ``start_background`` (``--sandbox``), with ``handler``
  (one connection) and ``hosts`` (which Host names are answered);
- ``serve``: the `shipctl sandbox` command's foreground server and banner.
"""

from shipctl.loopback import is_loopback
from shipctl.sandbox.contract import (
    MAX_BODY,
    SimRequest,
    SimResponse,
    Simulator,
    default_simulators,
    error_response,
)
from shipctl.sandbox.faults import FAIL_MODES, MIX, STALL_SECONDS, Faults
from shipctl.sandbox.hosts import split_host_header
from shipctl.sandbox.serve import listening_on, serve_forever
from shipctl.sandbox.server import SandboxServer, start_background

__all__ = [
    "FAIL_MODES",
    "MAX_BODY",
    "MIX",
    "STALL_SECONDS",
    "Faults",
    "SandboxServer",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "default_simulators",
    "error_response",
    "is_loopback",
    "listening_on",
    "serve_forever",
    "split_host_header",
    "start_background",
]
