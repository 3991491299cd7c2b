"""Global options anywhere (docs/conventions.md, Global options): after the subcommand they
mean what they mean in front."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_completions import complete

SAMPLES = Path(__file__).parent.parent / "sample_payloads" / "ewe"
MODIFY = SAMPLES / "modify.yaml"
INVALID = SAMPLES / "invalid.yaml"


def _same(first, second) -> None:
    assert (first.code, first.out) == (second.code, second.out)


@pytest.mark.timeout(120)
def test_sandbox_after_the_subcommand_sends_to_the_sandbox(cli):
    after = cli("ewe", "modify", MODIFY, "--sandbox", "--rate", "0")
    assert after.code == 0, after.err
    assert "succeeded" in after.all
    assert "No such option" not in after.err
    before = cli("--sandbox", "ewe", "modify", MODIFY, "--rate", "0")
    assert before.code == 0


@pytest.mark.timeout(60)
def test_trailing_debug_is_accepted(cli):
    after = cli("ewe", "validate", INVALID, "--debug")
    _same(after, cli("--debug", "ewe", "validate", INVALID))
    assert after.code == 1
    assert "No such option" not in after.err


@pytest.mark.timeout(60)
def test_config_after_the_subcommand(cli, tmp_path):
    target = tmp_path / "elsewhere.toml"
    after = cli("config", "path", "--config", target)
    assert after.code == 0
    assert after.out == f"{target}\n"
    _same(after, cli("--config", target, "config", "path"))
    assert cli("config", "path", f"--config={target}").out == f"{target}\n"


def _profile_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text('[profiles.p.ewe]\nurl = "https://p.example.test/api"\n'
                      'username = "puser"\npassword = "profile-p-password"\n')
    config.chmod(0o600)
    return config


@pytest.mark.timeout(60)
def test_profile_after_the_subcommand(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIPCTL_CONFIG", str(_profile_config(tmp_path)))
    after = cli("ewe", "modify", MODIFY, "--dry-run", "--profile", "p")
    assert after.code == 0, after.err
    assert "Host: p.example.test" in after.out
    assert '"username":"puser"' in after.out
    _same(after, cli("--profile", "p", "ewe", "modify", MODIFY, "--dry-run"))
    # the command's own --profile still overrides the global one, wherever that is
    _same(after, cli("--profile", "nosuch", "ewe", "modify", MODIFY, "--dry-run", "-p", "p"))
    _same(after, cli("ewe", "modify", MODIFY, "--dry-run", "-p", "p", "--config",
                     tmp_path / "config.toml"))


@pytest.mark.timeout(60)
def test_config_after_a_command_without_its_own(cli, tmp_path):
    config = _profile_config(tmp_path)
    result = cli("ewe", "template", "--config", config, "--profile", "p", "--debug")
    assert result.code == 0
    assert "referenceNo" in result.out


@pytest.mark.timeout(60)
def test_words_that_are_not_global_options_are_left_alone(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # after --, a word is an argument (here a file that does not exist)
    result = cli("ewe", "validate", "--", "--debug")
    assert result.code == 2
    assert "--debug" in result.err
    assert "No such option" not in result.err
    # --report takes the next word, even one that looks like a flag
    result = cli("--sandbox", "ewe", "modify", "--report", "--debug", INVALID)
    assert result.code == 1
    assert (tmp_path / "--debug").is_file()


@pytest.mark.timeout(60)
def test_a_global_option_missing_its_value_says_so(cli):
    result = cli("ewe", "template", "--color")
    assert result.code == 2
    assert "'--color' requires an argument" in result.err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["front", "after"])
def test_quiet_and_color_are_global_options(cli, where):
    flags = ["--quiet", "--color", "never"]
    args = [*flags, "ewe", "template"] if where == "front" else ["ewe", "template", *flags]
    result = cli(*args)
    assert result.code == 0
    assert "referenceNo" in result.out
    assert cli("--color", "sometimes", "ewe", "template").code == 2


@pytest.mark.timeout(60)
def test_quiet_and_color_reach_the_output(monkeypatch):
    from typer.testing import CliRunner

    from shipctl.commands import root

    seen = {}
    import shipctl.ewe.template as template

    def render(fmt):
        seen["quiet"] = root.current.out.quiet
        seen["color"] = root.current.out.color_choice
        return ""

    monkeypatch.setattr(template, "render", render)
    runner = CliRunner()
    runner.invoke(root.root_group, ["ewe", "template", "--quiet", "--color=always"])
    assert seen == {"quiet": True, "color": "always"}
    runner.invoke(root.root_group, ["ewe", "template"])
    assert seen == {"quiet": False, "color": "auto"}


@pytest.mark.timeout(60)
def test_tab_offers_global_options_after_a_subcommand():
    offered = complete("shipctl ewe template --")
    assert {"--format", "--sandbox", "--debug", "--config", "--quiet", "--color",
            "--profile"} <= set(offered)
    # a global option already given after the subcommand does not upset completion
    assert {"--jobs", "--journal"} <= set(complete("shipctl ewe modify --sandbox --j"))
