"""docs/design.md's example provider, as a newcomer would add it: its files copied out of the
page into a package ``shipctl.acme``, one line added to the registry, and its commands run
end to end against the sandbox. If the contracts change, the page must change with them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DESIGN = Path(__file__).resolve().parent.parent / "docs" / "design.md"
FILES = re.compile(r"^`shipctl/acme/(\w+\.py)`:\n\n```python\n(.*?)^```$", re.M | re.S)

# The newcomer's one registry line, made from outside the tree: the example package is found
# under shipctl (``__path__``) and named in provider.PACKAGES before anything reads it.
DRIVER = textwrap.dedent("""
    import sys
    import shipctl
    shipctl.__path__.append(sys.argv[1])
    import shipctl.provider as provider
    provider.PACKAGES = (*provider.PACKAGES, "shipctl.acme")
    if sys.argv[2] == "hooks":
        from shipctl.sandbox.contract import Simulator
        acme = [p for p in provider.providers() if p.name == "acme"][0]
        problems = [f"{name}: not a {hook.__name__}" for name, hook in provider.HOOKS.items()
                    if getattr(acme, name) and not isinstance(getattr(acme, f"{name}_hook")(),
                                                              hook)]
        if not isinstance(acme.simulator_hook().create(), Simulator):
            problems.append("its simulator is not a sandbox Simulator")
        from shipctl.acme.send import SetStatus
        SetStatus()  # every abstract method of BulkProvider is there
        print(problems)
    else:
        from shipctl.cli import main
        main(sys.argv[2:])
""")


@pytest.fixture
def acme(tmp_path):
    files = dict(FILES.findall(DESIGN.read_text(encoding="utf-8")))
    assert sorted(files) == ["__init__.py", "commands.py", "models.py", "send.py",
                             "simulator.py", "validate.py"]
    package = tmp_path / "ext" / "acme"
    package.mkdir(parents=True)
    for name, code in files.items():
        (package / name).write_text(code, encoding="utf-8")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path / "ext"), *args],
                              input=stdin, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)

    return run


def test_the_example_provider_meets_every_hook_protocol(acme):
    result = acme("hooks")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_example_provider_is_listed_by_the_roots_help(acme):
    result = acme("--help")
    assert result.returncode == 0, result.stderr
    assert "acme         Acme Parcels: validate and send status updates." in result.stdout


def test_the_example_provider_validates_offline(acme, tmp_path):
    updates = tmp_path / "updates.jsonl"
    updates.write_text('{"parcel": "P1", "status": "picked_up"}\n'
                       '{"parcel": "P2", "status": "lost"}\n')
    result = acme("acme", "validate", str(updates))
    assert result.returncode == 1, result.stderr
    assert "status: must be one of picked_up, in_transit, delivered" in result.stdout
    assert "Traceback" not in result.stderr


def test_the_example_provider_sends_in_bulk_through_the_sandbox(acme, tmp_path):
    updates = tmp_path / "updates.jsonl"
    updates.write_text("".join(json.dumps({"parcel": f"P{n}", "status": "in_transit"}) + "\n"
                               for n in range(3)))
    dry = acme("--sandbox", "acme", "send", str(updates), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("POST /acme/status HTTP/1.1") == 3
    assert "Authorization: Bearer ********" in dry.stdout  # masked, as every secret
    assert "sandbox-key" not in dry.stdout + dry.stderr

    sent = acme("--sandbox", "acme", "send", str(updates), "-o", "json")
    assert sent.returncode == 0, sent.stderr
    summary = json.loads(sent.stdout)["summary"]
    assert summary["succeeded"] == 3 and summary["failed"] == 0
