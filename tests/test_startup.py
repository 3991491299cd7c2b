"""Start-up guard: the commonest invocations must not import what they do not use.

Like Typer's own test that rich is not imported early. Wall-clock figures live in
benchmarks/startup.py; this test checks the cause (imports), which does not flake.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["requests", "pydantic", "rich", "yaml", "json5", "email_validator",
         "sqlite3", "urllib3", "shipctl.http", "shipctl.batch", "shipctl.ewe.models",
         "shipctl.sandbox", "shipctl.fynd.models", "shipctl.fynd.credentials", "uvicorn",
         "shipctl.ecom.receive.store", "shipctl.ecom.receive.listen"]

PROBE = """
import json, sys
from shipctl import cli
argv = json.loads(sys.argv[1])
try:
    cli.run(argv)
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded_modules(argv: list[str], stdin: bytes = b"", env: dict | None = None) -> set[str]:
    import os

    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], input=stdin,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=60)
    line = proc.stderr.decode().rsplit("MODULES ", 1)[1]
    return set(json.loads(line))


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["ewe", "--help"], ["ewe", "modify", "--help"],
     ["config", "--help"], ["completions", "bash"],
     ["ecom", "--help"], ["ecom", "validate", "--help"], ["ecom", "replay", "--help"],
     ["ecom", "codes", "--help"], ["ecom", "listen", "--help"], ["ecom", "export", "--help"],
     ["fynd", "--help"], ["fynd", "transition", "--help"],
     ["fynd", "apply", "--help"], ["fynd", "states"]],
)
def test_light_commands_import_nothing_heavy(argv):
    modules = loaded_modules(argv)
    assert not [m for m in HEAVY if m in modules]


def test_the_roots_help_builds_no_provider_group():
    # `shipctl --help` lists each group by the summary its provider declares: none of their
    # command modules (and their flags) is imported for it.
    modules = loaded_modules(["--help"])
    assert not [m for m in modules if m.endswith(".commands") and m.count(".") == 2
                and m.split(".")[1] in ("ewe", "fynd", "ecom")]
    assert "shipctl.fynd.flags" not in modules


def test_digest_needs_no_http_validation_or_rich():
    modules = loaded_modules(["digest", "-u", "test", "--password-stdin"], stdin=b"123456\n")
    assert "hashlib" in modules
    assert not [m for m in HEAVY if m in modules]


def test_version_does_not_build_the_command_tree(monkeypatch, capsys):
    import typer.main

    from shipctl import cli

    def forbidden(*args, **kwargs):
        raise AssertionError("the command tree was built for --version")

    monkeypatch.setattr(typer.main, "get_command", forbidden)
    assert cli.run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("shipctl ")


def test_tab_completion_imports_nothing_heavy(tmp_path):
    env = {"_SHIPCTL_COMPLETE": "complete_bash", "COMP_WORDS": "shipctl ewe ", "COMP_CWORD": "2"}
    modules = loaded_modules([], env=env)
    assert not [m for m in HEAVY if m in modules]


def test_tab_completion_of_fynd_states_imports_nothing_heavy():
    env = {"_SHIPCTL_COMPLETE": "complete_bash",
           "COMP_WORDS": "shipctl fynd transition 1 --to bag_", "COMP_CWORD": "5"}
    modules = loaded_modules([], env=env)
    assert "shipctl.fynd.states" in modules  # it did complete the states
    assert not [m for m in HEAVY if m in modules]


def test_version_does_not_even_import_typer():
    modules = loaded_modules(["--version"])
    assert "typer" not in modules and "shipctl.commands.root" not in modules
