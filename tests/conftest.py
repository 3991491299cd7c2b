"""Shared fixtures: an isolated user environment and a way to run the real CLI.

Every test gets its own config/cache/data directories, no SHIPCTL_* variables from the
developer's shell, NO_COLOR and a fixed terminal width, so output is deterministic.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipctl import secrets

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_payloads"


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
        secrets.clear()
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
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                  proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def shipctl_proc():
    return run_shipctl
