"""`shipctl sandbox`: a sandbox in the foreground, with its URLs and credentials printed
(docs/conventions.md, Sandbox)."""

from __future__ import annotations

import sys
import threading
from typing import Any

from shipctl.errors import UsageError
from shipctl.loopback import is_loopback
from shipctl.provider import display_name
from shipctl.sandbox.faults import Faults
from shipctl.sandbox.hosts import plain_host
from shipctl.sandbox.server import SandboxServer


def serve_forever(out: Any, *, host: str, port: int, faults: Faults) -> int:
    """Print URLs and credentials, serve until SIGINT/SIGTERM, return 0."""
    from shipctl.stopping import on_stop_signals

    server = _bind(host, port, faults)
    if not is_loopback(server.server_address[0]):
        out.warn(
            f"listening on {listening_on(server)}, which is not a loopback address: anyone who"
            " can reach this machine can use the sandbox"
        )
    print_banner(server)
    stopping = threading.Event()
    server.start()
    try:
        with on_stop_signals(stopping):
            while not stopping.wait(0.5):
                pass
    except KeyboardInterrupt:  # embedded outside the main thread: Ctrl-C still stops it
        pass
    finally:
        server.stop()
    stats = server.stats()
    faults_seen = ", ".join(f"{kind} {n}" for kind, n in stats["faults"].items())
    out.info(f"sandbox stopped after {stats['requests']} requests (faults: {faults_seen})")
    return 0


def listening_on(server: SandboxServer) -> str:
    """Where the server really listens, in words: "0.0.0.0 (every IPv4 interface)", "::1",
    "myhost (192.168.1.5)"."""
    address = server.server_address[0]
    if address == "0.0.0.0":
        return "0.0.0.0 (every IPv4 interface)"
    if address == "::":
        return ":: (every interface)"
    if plain_host(server.host) != address:
        return f"{server.host} ({address})"
    return address


def _bind(host: str, port: int, faults: Faults) -> SandboxServer:
    import errno

    if not host.strip():
        # The socket layer reads "" as "every interface": say so with 0.0.0.0 if that is meant.
        raise UsageError(
            "--host is empty; give the address to listen on: 127.0.0.1 (the default), or"
            " 0.0.0.0 for every IPv4 interface"
        )
    try:
        return SandboxServer(host, port, faults)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use; pass --port 0 for any free port") from None
        reason = error.strerror or str(error)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None


def print_banner(server: SandboxServer) -> None:
    # Straight to stdout, not through Output: the sandbox credentials are public test values
    # and printing them is the point, while Output would mask any registered as secrets.
    base = server.base_url
    settings = server.settings()
    port = server.server_address[1]
    if server.wildcard:
        # base is this machine's loopback URL; other machines use one of its addresses
        lines = [f"shipctl sandbox listening on {listening_on(server)}, port {port}",
                 f"From this machine: {base}", ""]
    else:
        lines = [f"shipctl sandbox listening on {base}", ""]
    for simulator in server.simulators:
        lines.append(f"{display_name(simulator.name)} simulator:")
        for key, value in settings.items():
            if key.startswith(simulator.name + "."):
                lines.append(f"  {key:<20} {value}")
        lines.append("")
    lines += [
        f"faults: {server.faults.describe()}",
        f"stats:  GET {base}/_sandbox/stats   (POST {base}/_sandbox/reset clears them)",
        "Use these as a profile's settings, or run any command with --sandbox. Ctrl-C stops.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
