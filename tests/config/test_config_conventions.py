"""The config file itself: an explicit file that is missing, and `config show` on a terminal."""

from __future__ import annotations

import pytest

from shipctl.output import Output

LONG_PATH = "/srv/shipping/reference-data/australia/postcodes/suburbs-postcodes-states-2026.csv"


# -- an explicit --config / SHIPCTL_CONFIG that does not exist ------------------------------
@pytest.mark.timeout(60)
def test_missing_explicit_config_is_an_error_naming_it(cli, tmp_path):
    missing = tmp_path / "typo.toml"
    result = cli("--config", missing, "digest", "--password-stdin", input="123456\n")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: config file {missing} does not exist")
    assert "--config" in result.err
    assert "ewe.username" not in result.err  # not the key the user did set, in the file meant
    assert result.err.count("\n") == 1


@pytest.mark.timeout(60)
def test_missing_shipctl_config_is_an_error_naming_the_variable(cli, tmp_path, monkeypatch):
    missing = tmp_path / "gone.toml"
    monkeypatch.setenv("SHIPCTL_CONFIG", str(missing))
    for argv in (["config", "show"], ["config", "get", "ewe.url"], ["config", "profiles"],
                 ["config", "unset", "ewe.username"]):
        result = cli(*argv)
        assert result.code == 2, argv
        assert f"config file {missing} does not exist" in result.err, argv
        assert f"SHIPCTL_CONFIG={missing}" in result.err, argv
    assert not missing.exists()


@pytest.mark.timeout(60)
def test_config_set_creates_the_explicit_file_and_path_prints_it(cli, tmp_path):
    new = tmp_path / "new.toml"
    assert cli("--config", new, "config", "path").out == f"{new}\n"
    assert cli("--config", new, "config", "set", "ewe.username", "acme").code == 0
    assert cli("--config", new, "config", "get", "ewe.username").out == "acme\n"


@pytest.mark.timeout(60)
def test_missing_per_user_file_is_still_fine(cli):
    result = cli("config", "get", "ewe.url")
    assert result.code == 0 and result.out.startswith("https://")


# -- config show on a terminal --------------------------------------------------------------
@pytest.fixture
def terminal(monkeypatch):
    """stdout is an 80-column terminal."""
    monkeypatch.setattr(Output, "stdout_is_tty", property(lambda self: True))
    monkeypatch.setenv("COLUMNS", "80")


@pytest.mark.timeout(60)
def test_show_on_80_columns_prints_path_once_and_values_whole(cli, terminal, tmp_path,
                                                             monkeypatch):
    config = tmp_path / "config.toml"
    cli("--config", config, "config", "set", "ewe.username", "acme")
    cli("--config", config, "config", "set", "ewe.postcodes", LONG_PATH)
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "not-shown")
    result = cli("--config", config, "config", "show")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert all(len(line) <= 80 for line in lines[1:])  # the path line may wrap on its own
    assert "…" not in result.out
    assert result.out.count(str(config)) == 1  # once, above the table
    assert "profile 'default'" in lines[0] and str(config) in lines[0]
    row = next(line for line in lines if line.startswith("ewe.username"))
    assert row.split() == ["ewe.username", "acme", "file"]
    url = next(line for line in lines if line.startswith("ewe.url"))
    assert "https://jerrytest.ewe.com.au/eweApi/ewe/api" in url  # on one line, copyable
    # the long path wraps but every character is there
    joined = "".join(line[21:].split("  ")[0].strip() for line in lines
                     if line.startswith(("ewe.postcodes", " " * 21)))
    assert LONG_PATH in joined
    assert "not-shown" not in result.out


@pytest.mark.timeout(60)
def test_show_prints_brackets_as_they_are(cli, terminal, tmp_path):
    config = tmp_path / "config.toml"
    cli("--config", config, "config", "set", "ewe.username", "[bold]team[/bold]")
    result = cli("--config", config, "config", "show")
    assert "[bold]team[/bold]" in result.out
