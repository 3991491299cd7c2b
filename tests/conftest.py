"""Shared fixtures: an isolated user environment and a way to run the real CLI.

Every test gets its own config/cache/data directories, no SHIPCTL_* variables from the
developer's shell, NO_COLOR and a fixed terminal width, so output is deterministic.

Where tests live: a provider's in tests/<provider>/, a package (its modules import one another,
``from ecom.test_listen import …``); the core's in folders that mirror shipctl/ (tests/batch,
tests/http, tests/inputs, …), which are not packages, since tests/http/__init__.py would shadow
the standard library's http: their file names must be unique across them and tests/. What tests
build (requests, pushes, stand-in servers) is in tests/factories.py, a section per provider.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import SANDBOX_DIGEST

import shipctl.ecom
import shipctl.ewe
import shipctl.fynd
from shipctl import secrets

if TYPE_CHECKING:
    from shipctl.sandbox import SandboxServer

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_payloads"

# -- the secrets audit ---------------------------------------------------------------------
# Every output a test produces through `cli`/`run_shipctl` (or hands to `audit`) and every file
# it leaves in its tmp_path (reports, journals, configs excepted) is searched for these values
# and for every secret shipctl registered during the test. Tests that print secrets on purpose
# (--show-secrets, the sandbox banner) are marked `shows_secrets`.
ALWAYS_SECRET = {
    shipctl.ewe.SANDBOX_PASSWORD,
    shipctl.fynd.SANDBOX_CLIENT_SECRET,
    shipctl.ecom.SANDBOX_PASSWORD,
    SANDBOX_DIGEST,
}
_seen_outputs: list[str] = []
_seen_secrets: set[str] = set()


def audit(*texts: str | bytes) -> None:
    """Hand output produced outside the fixtures (e.g. a Popen) to the secrets audit."""
    for text in texts:
        _seen_outputs.append(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)


def pytest_configure(config):
    config.addinivalue_line("markers", "shows_secrets: the test prints secrets on purpose")


@pytest.fixture(autouse=True)
def secrets_audit(request):
    _seen_outputs.clear()
    _seen_secrets.clear()
    yield
    if request.node.get_closest_marker("shows_secrets"):
        return
    _seen_secrets.update(secrets._secrets)
    needles = {s for s in ALWAYS_SECRET | _seen_secrets if len(s) >= 6}
    places = [("output", text) for text in _seen_outputs]
    tmp = request.node.funcargs.get("tmp_path")
    if tmp is not None:
        for path in Path(tmp).rglob("*"):
            # config files hold secrets by design (0600); everything else must not
            if path.is_file() and path.suffix != ".toml" and path.stat().st_size < 50_000_000:
                places.append((str(path), path.read_bytes().decode("utf-8", "replace")))
    leaks = [f"{secret!r} in {where}" for where, text in places for secret in needles
             if secret in text]
    assert not leaks, "secret leaked: " + "; ".join(leaks[:5])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("SHIPCTL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    secrets.clear()
    yield home
    secrets.clear()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `shipctl ARGS` in-process: returns Result(code, out, err)."""
    from shipctl import cli as cli_module

    def run(*args: str, input: str | bytes | None = None) -> Result:
        data = input.encode() if isinstance(input, str) else (input or b"")
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        capsys.readouterr()
        code = cli_module.run([str(a) for a in args])
        captured = capsys.readouterr()
        _seen_secrets.update(secrets._secrets)
        secrets.clear()
        audit(captured.out, captured.err)
        return Result(int(code), captured.out, captured.err)

    return run


def run_shipctl(*args: str, input: str | bytes | None = None, env: dict | None = None,
                timeout: float = 120, cwd: Path | None = None) -> Result:
    """Run the installed command in a subprocess, as a user's shell would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(
        [sys.executable, "-m", "shipctl", *[str(a) for a in args]],
        input=data if data is not None else b"",
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )
    result = Result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                    proc.stderr.decode("utf-8", "replace"))
    audit(result.out, result.err)
    return result


@pytest.fixture
def shipctl_proc():
    return run_shipctl


# -- the sandbox -----------------------------------------------------------------------------
def point_settings_at(server: SandboxServer, monkeypatch) -> None:
    """Point every provider's settings at ``server`` the way a user would: SHIPCTL_* env."""
    from shipctl.provider import providers

    env_names = {spec.name: spec.env for p in providers() for spec in p.keys}
    for key, value in server.settings().items():
        monkeypatch.setenv(env_names[key], value)


@pytest.fixture
def sandbox(monkeypatch):
    """``sandbox(**faults)``: a started sandbox on a free loopback port, with
    ``Faults(**faults)`` if given (``sandbox(latency_ms=20)``, ``sandbox(fail_rate=0.2,
    fail_mode="mix", seed=11)``); every provider's settings point at it through SHIPCTL_* env
    (a later call re-points them at the newer one). Stopped when the test ends."""
    from shipctl.sandbox import Faults, start_background

    servers: list[SandboxServer] = []

    def start(**faults) -> SandboxServer:
        server = start_background(faults=Faults(**faults) if faults else None)
        servers.append(server)
        point_settings_at(server, monkeypatch)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def _module_sandbox():
    from shipctl.sandbox import start_background

    with start_background() as server:
        yield server


@pytest.fixture
def shared_sandbox(_module_sandbox):
    """One fault-free sandbox per test module, its counters reset for each test, for tests that
    only send it requests: no env is set (post to ``shared_sandbox.base_url``)."""
    _module_sandbox.reset()
    return _module_sandbox
