"""shipctl.commands.bulk: one declaration of the bulk flags, in one order, for every bulk
command; the RunOptions it builds are the flags' values."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest
import typer
import typer.main

from shipctl.commands import bulk
from shipctl.commands.groups import command_group

SHARED = ["paths", "recursive", "profile", "jobs", "rate", "journal", "wait", "report",
          "fail_fast", "strict", "shard", "timeout", "retries", "ca_bundle", "dry_run",
          "show_secrets", "output"]


def test_the_shared_flags_go_around_the_commands_own():
    def command(ctx: typer.Context, before: int = 1, *, run: bulk.Bulk, after: int = 2) -> None:
        pass

    names = list(inspect.signature(bulk.flags(rate_default=None)(command)).parameters)
    assert names == ["ctx", "paths", "recursive", "profile", "before", "jobs", "rate",
                     "journal", "wait", "report", "fail_fast", "strict", "shard", "timeout",
                     "retries", "ca_bundle", "after", "dry_run", "show_secrets", "output"]


@pytest.mark.parametrize(("path", "own"), [
    (("ewe", "modify"), ["content_type"]),
    (("ecom", "replay"), ["to", "username", "password_stdin", "auth", "header", "no_dedupe"]),
    (("fynd", "apply"), ["force", "resend_unknown"]),
])
def test_the_bulk_commands_declare_only_their_own_options(path, own):
    from shipctl.commands.root import root_group

    command = typer.main.get_command(root_group)
    for name in path:
        command = command.get_command(None, name)
    names = [param.name for param in command.params]
    assert sorted(names) == sorted([*SHARED, *own])
    assert isinstance(command, bulk.BulkCommand)


def test_rate_help_names_the_providers_default():
    def rate_help(default):
        return bulk.rate_option(default).__metadata__[0].help

    assert rate_help("ewe.rate, 1.0").endswith("Default: the profile's ewe.rate (1.0).")
    assert rate_help(bulk.UNLIMITED).endswith("Default: unlimited.")
    assert "EWE" not in rate_help(bulk.UNLIMITED)


def test_the_run_options_are_the_flags_values(cli, monkeypatch):
    from shipctl import runner

    seen = {}

    def fake_run(app, provider, options):
        seen["options"] = options
        return 0

    monkeypatch.setattr(runner, "run", fake_run)
    group = command_group("test")

    @group.command(cls=bulk.BulkCommand)
    @bulk.flags(rate_default=bulk.UNLIMITED)
    def go(ctx: typer.Context, *, run: bulk.Bulk) -> None:
        raise typer.Exit(runner.run(run.app, None, run.options(resend_unknown=True)))

    @group.command()
    def other() -> None:
        pass

    from typer.testing import CliRunner

    from shipctl.app import Application

    result = CliRunner().invoke(
        group, ["go", "a.jsonl", "-R", "-j", "8", "--rate", "2.5", "--journal", "j.db",
                "--wait", "--report", "r.csv", "--fail-fast", "--strict", "--shard", "0/2",
                "--timeout", "5", "--retries", "1", "--dry-run"],
        obj=Application(profile="default", config_path=None, sandbox=False, debug=False))
    assert result.exit_code == 0, result.output
    assert seen["options"] == runner.RunOptions(
        paths=["a.jsonl"], recursive=True, jobs=8, rate=2.5, journal=Path("j.db"),
        wait=math.inf, report=Path("r.csv"), fail_fast=True, strict=True, shard="0/2",
        timeout=5.0, retries=1, ca_bundle=None, dry_run=True, resend_unknown=True)
