"""Completions (README "Completions"): committed scripts are fresh; dynamic values complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).parents[2] / "completions"
FILES = {"bash": "shipctl.bash", "zsh": "shipctl.zsh", "fish": "shipctl.fish",
         "powershell": "shipctl.ps1"}


@pytest.mark.parametrize("shell", sorted(FILES))
def test_committed_script_is_fresh(cli, shell):
    result = cli("completions", shell)
    assert result.code == 0
    committed = (COMPLETIONS / FILES[shell]).read_text()
    assert result.out == committed, (
        f"completions/{FILES[shell]} is stale: run "
        f"'shipctl completions {shell} > completions/{FILES[shell]}'")


def test_unknown_shell_is_usage_error(cli):
    result = cli("completions", "tcsh")
    assert result.code == 2


def complete(words: str, env: dict | None = None) -> list[str]:
    """What bash would offer after `words` (the last word may be partial)."""
    parts = words.split(" ")
    full_env = {**os.environ, "_SHIPCTL_COMPLETE": "complete_bash", "COMP_WORDS": words,
                "COMP_CWORD": str(len(parts) - 1), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "shipctl"], capture_output=True, text=True,
                          env=full_env, timeout=30)
    return proc.stdout.split()


def test_subcommands_complete():
    assert {"config", "digest", "ewe", "sandbox", "completions"} <= set(complete("shipctl "))
    assert set(complete("shipctl ewe ")) == {"modify", "validate", "template"}


def test_flags_complete():
    assert "--dry-run" in complete("shipctl ewe modify --d")
    assert "--journal" in complete("shipctl ewe modify --j")


def test_profile_names_complete(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[profiles.default.ewe]\nusername = "a"\n[profiles.prod.ewe]\n'
                      'username = "b"\n[profiles.preprod.ewe]\nusername = "c"\n')
    config.chmod(0o600)
    offered = complete("shipctl --profile p", {"SHIPCTL_CONFIG": str(config)})
    assert set(offered) == {"prod", "preprod"}


def test_config_keys_complete():
    offered = complete("shipctl config get ewe.")
    assert {"ewe.url", "ewe.username", "ewe.password", "ewe.rate", "ewe.postcodes"} <= set(offered)
