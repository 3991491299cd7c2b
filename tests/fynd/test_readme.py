"""The README's Fynd examples run as written against the sandbox, and print what it shows."""

from __future__ import annotations

import re
import shlex

from factories import REPO


def fynd_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Fynd")
    return text[start: text.index("\n## ", start + 1)]


def examples() -> list[tuple[str, list[str]]]:
    """(command, the lines the README shows it print), in the README's order: each
    `$ shipctl …` line of a block with what follows it, and a ```sh block of one command
    followed at once by a block of its output."""
    blocks = re.findall(r"```(\w*)\n(.*?)```\n", fynd_section(), flags=re.DOTALL)
    found: list[tuple[str, list[str]]] = []
    for n, (language, body) in enumerate(blocks):
        lines = body.splitlines()
        if any(line.startswith("$ shipctl ") for line in lines):
            for line in lines:
                if line.startswith("$ "):
                    found.append((line[2:], []))
                elif found:
                    found[-1][1].append(line)
        elif language == "sh" and n + 1 < len(blocks) and not blocks[n + 1][0]:
            commands = body.replace("\\\n", " ").splitlines()
            commands = [c for c in commands if c.strip() and not c.lstrip().startswith("#")]
            if len(commands) == 1 and commands[0].startswith("shipctl fynd transition"):
                found.append((commands[0], blocks[n + 1][1].splitlines()))
    return found


def test_the_readme_shows_its_examples():
    commands = [command for command, _ in examples()]
    assert any("--line 1:5 --line 2:10" in c for c in commands)  # the partial confirmation
    assert any("--to bag_invoiced" in c for c in commands)
    assert len(commands) >= 4


def test_the_readme_examples_run_as_written_against_the_sandbox(cli, sandbox):
    sandbox()
    for command, shown in examples():
        words = shlex.split(command)
        assert words[0] == "shipctl"
        result = cli(*words[1:])
        printed = result.err if shown and shown[0].startswith("error:") else result.out
        assert printed.splitlines()[: len(shown)] == shown, (command, result.all)
        assert result.code == (1 if any("FAILED" in line for line in shown) else 0), command


def test_the_help_examples_run_against_the_sandbox(cli, sandbox, monkeypatch):
    sandbox()
    monkeypatch.chdir(REPO)  # the examples name sample_payloads/ relative to the repository
    ran = 0
    for command in ("transition", "apply", "states", "reasons", "auth"):
        shown = cli("fynd", command, "--help").out
        for line in shown.splitlines():
            if not line.strip().startswith("$ shipctl fynd "):
                continue
            words = shlex.split(line.strip()[2:])[1:]
            if any(w.endswith((".jsonl", ".db", ".csv")) and not (REPO / w).exists()
                   for w in words):
                continue  # a file of the user's own (transitions.jsonl)
            result = cli(*words)
            assert result.code == 0, (line, result.all)
            ran += 1
    assert ran >= 10
