"""Help that reads like gh's: every command's --help at 80 columns."""

from __future__ import annotations

import re

import pytest
import typer.main

from shipctl.commands.root import root_group

GLOBAL_FLAGS = ("--profile", "--config", "--sandbox", "--debug", "--quiet", "--color")


def _commands(command=None, path=()) -> list[tuple[tuple[str, ...], bool]]:
    """Every command's words after `shipctl`, and whether it is a leaf (not a group)."""
    command = command or typer.main.get_command(root_group)
    found = [(path, not hasattr(command, "commands"))]
    if hasattr(command, "commands"):
        # list_commands/get_command, not .commands: the root builds provider groups on use
        for name in command.list_commands(None):
            sub = command.get_command(None, name)
            if not sub.hidden:
                found.extend(_commands(sub, (*path, name)))
    return found


COMMANDS = _commands()
IDS = [" ".join(path) or "shipctl" for path, _ in COMMANDS]


@pytest.fixture
def help_of(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    def run(path: tuple[str, ...]) -> str:
        result = cli(*path, "--help")
        assert result.code == 0, result.err
        return result.out

    return run


def test_the_walk_finds_the_commands():
    assert {("ewe", "modify"), ("config", "set"), ("digest",), ("sandbox",)} <= {
        path for path, _ in COMMANDS}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("path", "leaf"), COMMANDS, ids=IDS)
def test_no_flag_name_is_broken_across_lines(help_of, path, leaf):
    lines = help_of(path).splitlines()
    broken = [f"{line!r} / {after!r}" for line, after in zip(lines, lines[1:], strict=False)
              if re.search(r"(^|[\s(\[])-{1,2}[A-Za-z][\w-]*-$", line.rstrip())]
    assert not broken


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("path", "leaf"), COMMANDS, ids=IDS)
def test_examples_are_one_per_line(help_of, path, leaf):
    text = help_of(path)
    assert "Example:" not in text  # the old run-together form
    if not leaf:
        return
    assert "\n  Examples:\n" in text
    block = text.split("\n  Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block
    for line in block:
        assert line.startswith("    $ "), line
        assert line.count("$ ") == 1 and line.count("shipctl ") >= 1, line


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("path", "leaf"), COMMANDS, ids=IDS)
def test_metavars_read_as_a_person_writes_them(help_of, path, leaf):
    text = help_of(path)
    assert not re.search(r"<[a-z][a-z |]*>", text)  # <int range>, <file>, <str>, <text|json>
    assert not re.search(r"x\s*[<>]=|[<>]=\s*x", text)  # [x>=1], [0<=x<=65535]
    assert not re.search(r"\{[a-z]+\}", text)  # {key}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("path", "leaf"), [c for c in COMMANDS if c[0]],
                         ids=[i for i, c in zip(IDS, COMMANDS, strict=True) if c[0]])
def test_inherited_flags_are_listed(help_of, path, leaf):
    text = help_of(path)
    assert "\nInherited flags:\n" in text
    for flag in GLOBAL_FLAGS:
        assert re.search(rf"(^|[ ,]){flag}\b", text, re.M), flag
    inherited = text.split("\nInherited flags:\n", 1)[1]
    for flag in ("--sandbox", "--debug", "--config", "--quiet", "--color"):
        assert flag in inherited


@pytest.mark.timeout(60)
def test_shared_options_have_plain_metavars(help_of):
    text = help_of(("ewe", "modify"))
    for shown in ("-j, --jobs N", "--rate R", "--retries N", "--timeout S", "--journal FILE",
                  "--report FILE", "--ca-bundle FILE", "--shard K/N", "-p, --profile NAME",
                  "-o, --output text|", "Usage: shipctl ewe modify [OPTIONS] [PATHS]..."):
        assert shown in text
    assert "Usage: shipctl config set [OPTIONS] KEY [VALUE]" in help_of(("config", "set"))


@pytest.mark.timeout(60)
def test_digest_help_keeps_password_stdin_whole(help_of):
    text = help_of(("digest",))
    assert "--password-\n" not in text
    assert text.count("--password-stdin") >= 3
