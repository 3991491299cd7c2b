"""`shipctl config …` through the real CLI (docs/conventions.md, Configuration and Output)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipctl import secrets
from shipctl.commands.options import complete_key, complete_profile

PASSWORD = "s3cr3t-Pa55word!"


@pytest.fixture
def user_config(isolated_env) -> Path:
    """The per-user file under the isolated XDG_CONFIG_HOME."""
    return isolated_env / ".config" / "shipctl" / "config.toml"


# -- set / get / files ----------------------------------------------------------------------
@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_set_creates_private_file_in_private_dir(cli, user_config):
    result = cli("config", "set", "ewe.username", "acme")
    assert result.code == 0
    assert result.out == ""
    assert result.err == f"set ewe.username for profile 'default' in {user_config}\n"
    assert stat.S_IMODE(user_config.stat().st_mode) == 0o600
    assert stat.S_IMODE(user_config.parent.stat().st_mode) == 0o700
    assert user_config.read_text() == '[profiles.default.ewe]\nusername = "acme"\n'


def test_get_prints_value_and_json(cli):
    cli("config", "set", "ewe.username", "acme")
    assert cli("config", "get", "ewe.username").out == "acme\n"
    doc = json.loads(cli("config", "get", "ewe.rate", "-o", "json").out)
    assert doc == {"key": "ewe.rate", "value": 1.0, "source": "default", "secret": False}


def test_get_unset_exits_1_with_one_line(cli, user_config):
    result = cli("config", "get", "ecom.url")
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1
    assert "ecom.url is not set for profile 'default'" in result.err
    assert "SHIPCTL_ECOM_URL" in result.err and str(user_config) in result.err
    as_json = cli("config", "get", "ecom.url", "-o", "json")
    assert as_json.code == 1
    assert json.loads(as_json.out) == {
        "key": "ecom.url", "value": None, "source": "unset", "secret": False
    }


def test_set_rate_is_typed_and_checked(cli, user_config):
    assert cli("config", "set", "ewe.rate", "0.5").code == 0
    assert "rate = 0.5\n" in user_config.read_text()
    bad = cli("config", "set", "ewe.rate", "fast")
    assert bad.code == 2
    assert bad.err == "error: ewe.rate must be a number ≥ 0, got 'fast'\n"
    assert "rate = 0.5\n" in user_config.read_text()


def test_set_url_is_checked(cli):
    result = cli("config", "set", "fynd.url", "api.fynd.com")
    assert result.code == 2 and "must be an http:// or https:// URL" in result.err


def test_set_empty_value_is_refused(cli, user_config):
    result = cli("config", "set", "ewe.username", "")
    assert result.code == 2 and "config unset ewe.username" in result.err
    assert not user_config.exists()


def test_unset_present_and_absent(cli, user_config):
    cli("config", "set", "ewe.username", "acme")
    cli("config", "set", "fynd.client_id", "cid")
    removed = cli("config", "unset", "ewe.username")
    assert removed.code == 0
    assert removed.err == f"unset ewe.username for profile 'default' in {user_config}\n"
    assert user_config.read_text() == '[profiles.default.fynd]\nclient_id = "cid"\n'
    again = cli("config", "unset", "ewe.username")
    assert again.code == 0 and "was not set" in again.err and "nothing to do" in again.err


def test_unset_without_file_creates_nothing(cli, user_config):
    assert cli("config", "unset", "ewe.username").code == 0
    assert not user_config.parent.exists()


def test_value_starting_with_dash_after_double_dash(cli):
    assert cli("config", "set", "ewe.username", "--", "-odd-").code == 0
    assert cli("config", "get", "ewe.username").out == "-odd-\n"


# -- secrets --------------------------------------------------------------------------------
@pytest.mark.shows_secrets  # checks --show-secrets reveals the value
def test_secret_from_stdin_never_printed(cli, user_config):
    result = cli("config", "set", "ewe.password", input=PASSWORD + "\n")
    assert result.code == 0 and PASSWORD not in result.all
    assert f'password = "{PASSWORD}"' in user_config.read_text()

    runs = [
        cli("config", "get", "ewe.password"),
        cli("config", "get", "ewe.password", "-o", "json"),
        cli("config", "show"),
        cli("config", "show", "-o", "json"),
        cli("config", "profiles"),
        cli("config", "profiles", "-o", "json"),
        cli("config", "path"),
        cli("config", "path", "-o", "json"),
        cli("config", "get", "ewe.pasword"),  # an error path
    ]
    for run in runs:
        assert PASSWORD not in run.all
    assert runs[0].out == f"{secrets.MASK}\n"
    assert json.loads(runs[1].out)["value"] == secrets.MASK
    assert f"ewe.password\t{secrets.MASK}\t{user_config}\n" in runs[2].out

    shown = cli("config", "get", "ewe.password", "--show-secrets")
    assert shown.out == PASSWORD + "\n"
    table = cli("config", "show", "--show-secrets")
    assert f"ewe.password\t{PASSWORD}\t{user_config}\n" in table.out
    doc = json.loads(cli("config", "show", "-o", "json", "--show-secrets").out)
    assert {"key": "ewe.password", "value": PASSWORD, "source": str(user_config),
            "secret": True} in doc["settings"]


def test_secret_from_env_is_masked(cli, monkeypatch):
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", PASSWORD)
    result = cli("config", "show")
    assert PASSWORD not in result.all
    assert f"fynd.client_secret\t{secrets.MASK}\tSHIPCTL_FYND_CLIENT_SECRET\n" in result.out


@pytest.mark.shows_secrets  # checks --show-secrets reveals the value
def test_secret_with_crlf_from_stdin(cli):
    cli("config", "set", "ecom.password", input=PASSWORD + "\r\n")
    assert cli("config", "get", "ecom.password", "--show-secrets").out == PASSWORD + "\n"


def test_secret_as_argument_warns_about_history(cli):
    result = cli("config", "set", "fynd.client_secret", PASSWORD)
    assert result.code == 0
    assert "shell history" in result.err and PASSWORD not in result.all


def test_secret_empty_stdin_is_usage_error(cli, user_config):
    result = cli("config", "set", "ewe.password", input="\n")
    assert result.code == 2 and "no value for ewe.password on stdin" in result.err
    assert not user_config.exists()


def test_secret_prompted_without_echo_on_a_terminal(cli, monkeypatch, user_config):
    from shipctl.output import Output

    asked = {}

    def fake_prompt(text, **kwargs):
        asked.update(kwargs, text=text)
        return PASSWORD

    monkeypatch.setattr(Output, "stdin_is_tty", property(lambda self: True))
    monkeypatch.setattr("typer.prompt", fake_prompt)
    result = cli("config", "set", "ewe.password")
    assert result.code == 0 and PASSWORD not in result.all
    assert asked["hide_input"] is True and asked["confirmation_prompt"] is True
    assert asked["err"] is True  # the prompt is not a result: never on stdout
    assert f'password = "{PASSWORD}"' in user_config.read_text()


def test_env_override_is_pointed_out_on_set(cli, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "from-env")
    result = cli("config", "set", "ewe.username", "acme")
    assert "SHIPCTL_EWE_USERNAME is set in the environment and takes precedence" in result.err


# -- show: value and source -----------------------------------------------------------------
def rows(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    assert lines[0] == "key\tvalue\tsource"
    return {line.split("\t")[0]: line.split("\t")[1:] for line in lines[1:]}


def test_show_sources_env_file_default_unset(cli, monkeypatch, user_config):
    cli("config", "set", "ewe.username", "file-user")
    cli("config", "set", "fynd.company_id", "7")
    monkeypatch.setenv("SHIPCTL_FYND_COMPANY_ID", "99")
    table = rows(cli("config", "show").out)
    assert table["ewe.username"] == ["file-user", str(user_config)]
    assert table["fynd.company_id"] == ["99", "SHIPCTL_FYND_COMPANY_ID"]
    assert table["ewe.url"] == ["https://jerrytest.ewe.com.au/eweApi/ewe/api", "default"]
    assert table["ewe.rate"] == ["1.0", "default"]
    assert table["ecom.url"] == ["", "unset"]
    assert len(table) == 13


def test_flag_beats_env_and_file_in_digest(cli, monkeypatch):
    cli("config", "set", "ewe.username", "file-user")
    cli("config", "set", "ewe.password", input="123456\n")
    from_file = json.loads(cli("digest", "-o", "json").out)
    assert from_file["username"] == "file-user"
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "env-user")
    assert json.loads(cli("digest", "-o", "json").out)["username"] == "env-user"
    flagged = cli("digest", "--username", "test", "-o", "json")
    # docs/ewe.md, Digest: check value of test + modifyShipment + 123456
    assert json.loads(flagged.out) == {
        "username": "test", "msg_type": "modifyShipment", "digest": "oNCmEhRuYMf62nPzLxGrjA=="
    }


def test_sandbox_values_outrank_env_and_file(cli, monkeypatch):
    cli("config", "set", "ewe.username", "file-user")
    monkeypatch.setenv("SHIPCTL_EWE_URL", "https://env.example.com")
    result = cli("--sandbox", "config", "show", "-o", "json")
    assert result.code == 0
    settings_ = {s["key"]: s for s in json.loads(result.out)["settings"]}
    assert settings_["ewe.url"]["source"] == "sandbox"
    assert settings_["ewe.url"]["value"].startswith("http://127.0.0.1:")
    assert settings_["ewe.username"] == {
        "key": "ewe.username", "value": "sandbox", "source": "sandbox", "secret": False
    }
    assert settings_["ewe.password"]["value"] == secrets.MASK
    assert settings_["ewe.rate"]["source"] == "default"
    assert "sandbox-password" not in result.all


def test_show_json_is_one_document(cli, user_config):
    result = cli("config", "show", "-o", "json")
    assert result.code == 0
    doc = json.loads(result.out)  # raises if anything else is on stdout
    assert doc["profile"] == "default" and doc["config"] == str(user_config)
    assert [s["key"] for s in doc["settings"]][:3] == ["ewe.url", "ewe.username", "ewe.password"]
    assert all(set(s) == {"key", "value", "source", "secret"} for s in doc["settings"])


# -- profiles -------------------------------------------------------------------------------
def test_profiles_listed_with_active_marked(cli):
    cli("config", "set", "ewe.username", "a")
    cli("config", "set", "--profile", "staging", "ewe.username", "b")
    assert cli("config", "profiles").out == "* default\n  staging\n"
    assert cli("--profile", "staging", "config", "profiles").out == "  default\n* staging\n"
    assert json.loads(cli("config", "profiles", "-o", "json").out) == ["default", "staging"]


def test_profiles_empty_says_so(cli):
    result = cli("config", "profiles")
    assert result.code == 0 and result.out == "" and "no profiles" in result.err


def test_command_profile_overrides_global(cli):
    cli("config", "set", "-p", "staging", "ewe.username", "stage-user")
    cli("config", "set", "ewe.username", "default-user")
    assert cli("-p", "default", "config", "get", "-p", "staging", "ewe.username").out == (
        "stage-user\n"
    )
    assert cli("config", "get", "ewe.username").out == "default-user\n"


def test_env_profile(cli, monkeypatch):
    cli("config", "set", "-p", "staging", "ewe.username", "stage-user")
    monkeypatch.setenv("SHIPCTL_PROFILE", "staging")
    assert cli("config", "get", "ewe.username").out == "stage-user\n"


def test_bad_profile_name_refused(cli, user_config):
    result = cli("config", "set", "-p", "../x", "ewe.username", "a")
    assert result.code == 2 and "invalid profile name" in result.err
    assert not user_config.exists()


# -- unknown key / profile ------------------------------------------------------------------
@pytest.mark.parametrize("command", [["get"], ["set"], ["unset"]])
def test_unknown_key_suggests(cli, command, user_config):
    args = ["config", *command, "ewe.pasword"] + (["x"] if command == ["set"] else [])
    result = cli(*args)
    assert result.code == 2
    assert result.err == "error: unknown config key 'ewe.pasword' (did you mean ewe.password?)\n"
    assert not user_config.exists()


def test_unknown_profile(cli, user_config):
    cli("config", "set", "ewe.username", "a")
    cli("config", "set", "-p", "staging", "ewe.username", "b")
    for args in (["config", "show"], ["config", "get", "ewe.url"]):
        result = cli("--profile", "prod", *args)
        assert result.code == 2
        assert result.err == (
            f"error: unknown profile 'prod' in {user_config} (profiles: default, staging)\n"
        )


def test_set_creates_unknown_profile(cli):
    assert cli("-p", "prod", "config", "set", "ewe.username", "p").code == 0
    assert cli("-p", "prod", "config", "get", "ewe.username").out == "p\n"


def test_digest_with_unknown_profile_fails_when_file_needed(cli):
    result = cli("--profile", "nosuch", "digest", "--password-stdin", input="123456\n")
    assert result.code == 2
    assert "unknown profile 'nosuch'" in result.err and result.out == ""


def test_digest_with_unknown_profile_ok_when_all_given(cli):
    result = cli(
        "--profile", "nosuch", "digest", "--username", "test", "--password-stdin",
        input="123456\n",
    )
    assert result.code == 0 and result.out == "oNCmEhRuYMf62nPzLxGrjA==\n"


def test_missing_credentials_in_digest(cli):
    result = cli("digest", "--password-stdin", input="123456\n")
    assert result.code == 2
    assert result.err == (
        "error: ewe.username is not set for profile 'default': run `shipctl config set"
        " ewe.username` or set SHIPCTL_EWE_USERNAME\n"
    )


# -- broken files ---------------------------------------------------------------------------
def test_malformed_config_exit_2_and_untouched(cli, user_config):
    user_config.parent.mkdir(parents=True, mode=0o700)
    original = b'[profiles.default.ewe]\nusername = "a"\npassword = "oops\n'
    user_config.write_bytes(original)
    for args in (["config", "set", "ewe.username", "b"], ["config", "show"],
                 ["config", "unset", "ewe.username"], ["digest", "--password-stdin"]):
        result = cli(*args, input="x\n")
        assert result.code == 2, args
        assert str(user_config) in result.err and "line 3" in result.err
        assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert user_config.read_bytes() == original
    assert cli("config", "path").out == f"{user_config}\n"  # still tells where the file is


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_group_readable_warning(cli, user_config):
    cli("config", "set", "ewe.username", "a")
    os.chmod(user_config, 0o640)
    result = cli("config", "show", "-o", "json")
    warning = f"warning: {user_config} is readable by other users; run chmod 600 {user_config}\n"
    assert result.err == warning  # once, on stderr; stdout stays one JSON document
    json.loads(result.out)


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_open_user_config_dir_is_warned_about(cli, user_config):
    user_config.parent.mkdir(parents=True)
    os.chmod(user_config.parent, 0o755)
    result = cli("config", "set", "ewe.username", "a")
    assert result.code == 0
    assert f"warning: directory {user_config.parent} is accessible by other users" in result.err
    assert stat.S_IMODE(user_config.parent.stat().st_mode) == 0o755  # not ours to change


def test_config_is_a_directory(cli, tmp_path):
    result = cli("--config", str(tmp_path), "config", "show")
    assert result.code == 2 and result.out == ""
    assert str(tmp_path) in result.err and "directory" in result.err


# -- --config and SHIPCTL_CONFIG ------------------------------------------------------------
def test_global_config_option(cli, tmp_path, user_config):
    other = tmp_path / "elsewhere.toml"
    assert cli("--config", other, "config", "set", "ewe.username", "x").code == 0
    assert 'username = "x"' in other.read_text() and not user_config.exists()
    assert cli("--config", other, "config", "path").out == f"{other}\n"
    table = rows(cli("--config", other, "config", "show").out)
    assert table["ewe.username"] == ["x", str(other)]


def test_shipctl_config_env(cli, tmp_path, monkeypatch, user_config):
    other = tmp_path / "env.toml"
    monkeypatch.setenv("SHIPCTL_CONFIG", str(other))
    assert cli("config", "set", "ewe.username", "y").code == 0
    assert 'username = "y"' in other.read_text() and not user_config.exists()
    assert cli("config", "path").out == f"{other}\n"
    assert json.loads(cli("config", "path", "-o", "json").out) == {
        "path": str(other), "exists": True
    }


def test_default_path(cli, user_config):
    assert cli("config", "path").out == f"{user_config}\n"


# -- completion -----------------------------------------------------------------------------
def test_complete_key():
    assert complete_key("ewe.p") == ["ewe.password", "ewe.postcodes"]
    assert complete_key("fynd.c") == ["fynd.company_id", "fynd.client_id", "fynd.client_secret"]
    assert complete_key("zz") == []


def test_complete_profile(cli, tmp_path, monkeypatch):
    cli("config", "set", "-p", "staging", "ewe.username", "a")
    cli("config", "set", "-p", "stage2", "ewe.username", "a")
    assert complete_profile("sta") == ["staging", "stage2"]
    assert complete_profile("") == ["default", "staging", "stage2"]
    other = tmp_path / "c.toml"
    other.write_text("[profiles.ci.ewe]\nusername = 'x'\n")
    monkeypatch.setenv("SHIPCTL_CONFIG", str(other))
    assert complete_profile("") == ["default", "ci"]
    other.write_text("[profiles.ci.ewe\n")  # broken: never an exception at TAB
    assert complete_profile("") == []


# -- property: any printable value round-trips exactly --------------------------------------
printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)


@pytest.mark.shows_secrets  # checks --show-secrets reveals the value
@given(value=printable)
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_printable_value_round_trips(cli, value):
    assert cli("config", "set", "ewe.username", "--", value).code == 0
    assert cli("config", "get", "ewe.username").out == value + "\n"
    assert cli("config", "set", "ewe.password", input=value + "\n").code == 0
    got = cli("config", "get", "ewe.password", "--show-secrets")
    assert got.code == 0 and got.out == value + "\n"


def test_tricky_values_round_trip(cli):
    for value in ['a"b', "back\\slash", "# not a comment", "k = v", "ünï 🚚", "'single'",
                  '"""', "  spaced  ", "[profiles.x]"]:
        assert cli("config", "set", "ewe.username", "--", value).code == 0
        assert cli("config", "get", "ewe.username").out == value + "\n", value


def test_setting_a_missing_postcodes_file_warns(cli, tmp_path):
    missing = tmp_path / "nowhere.csv"
    result = cli("config", "set", "ewe.postcodes", str(missing))
    assert result.code == 0
    assert f"warning: {missing} is not a readable file yet" in result.err
    present = tmp_path / "postcodes.csv"
    present.write_text("suburb,postcode,state\nGreenacre,2190,NSW\n")
    assert "warning" not in cli("config", "set", "ewe.postcodes", str(present)).err


# -- a hand-edited file keeps its comments and layout (docs/conventions.md, Configuration) ----
HAND_EDITED = """\
# shipctl — managed by ops (ticket OPS-1234)
# Do not commit this file.

[profiles.default.ewe]
# the account from onboarding
username   = 'acme'        # the EWE user
password = "old-Pa55word"

rate = 2.5   # agreed with EWE, do not raise


# staging uses the test endpoint
[profiles.staging.ewe]
url = "https://jerrytest.ewe.com.au/eweApi/ewe/api"
username = "acme-staging"

[profiles.staging.fynd]    # Fynd sandbox company
company_id = 42
"""


@pytest.fixture
def hand_edited(tmp_path) -> Path:
    path = tmp_path / "conf" / "shipctl.toml"
    path.parent.mkdir(mode=0o700)
    path.write_text(HAND_EDITED)
    os.chmod(path, 0o600)
    return path


def with_username(text: str, value: str) -> set[str]:
    """TEXT with the default profile's EWE username set to VALUE, in either quote style: tomlkit
    0.12–0.14 writes a replaced string as "…", 0.15 keeps the old value's '…'. Both are the
    same TOML; everything else on the line and in the file is the same byte for byte."""
    line = "username   = 'acme'        # the EWE user"
    assert line in text
    return {text.replace(line, f"username   = {q}{value}{q}        # the EWE user")
            for q in "\"'"}


@pytest.mark.timeout(60)
def test_set_changes_only_the_value_in_a_hand_edited_file(cli, hand_edited):
    result = cli("--config", hand_edited, "config", "set", "ewe.username", "globex")
    assert result.code == 0, result.err
    assert hand_edited.read_text() in with_username(HAND_EDITED, "globex")
    result = cli("--config", hand_edited, "config", "set", "--profile", "staging", "ewe.rate", "1")
    assert result.code == 0, result.err
    staging_rate = HAND_EDITED.replace('username = "acme-staging"\n',
                                       'username = "acme-staging"\nrate = 1.0\n')
    assert hand_edited.read_text() in with_username(staging_rate, "globex")
    if os.name != "nt":
        assert stat.S_IMODE(hand_edited.stat().st_mode) == 0o600
    assert cli("--config", hand_edited, "config", "get", "ewe.username").out == "globex\n"


@pytest.mark.timeout(60)
def test_secret_set_from_stdin_changes_only_that_line(cli, hand_edited):
    result = cli("--config", hand_edited, "config", "set", "ewe.password", input=PASSWORD + "\n")
    assert result.code == 0, result.err
    assert hand_edited.read_text() == HAND_EDITED.replace("old-Pa55word", PASSWORD)


@pytest.mark.timeout(60)
def test_unset_removes_only_that_line_from_a_hand_edited_file(cli, hand_edited):
    result = cli("--config", hand_edited, "config", "unset", "ewe.rate")
    assert result.code == 0, result.err
    assert hand_edited.read_text() == HAND_EDITED.replace(
        "rate = 2.5   # agreed with EWE, do not raise\n", ""
    )
    result = cli("--config", hand_edited, "config", "unset", "--profile", "staging", "ewe.url")
    assert result.code == 0, result.err
    assert hand_edited.read_text() == HAND_EDITED.replace(
        "rate = 2.5   # agreed with EWE, do not raise\n", ""
    ).replace('url = "https://jerrytest.ewe.com.au/eweApi/ewe/api"\n', "")


@pytest.mark.timeout(60)
def test_a_new_section_goes_into_its_profile_and_the_rest_stays(cli, hand_edited):
    result = cli("--config", hand_edited, "config", "set", "fynd.client_id", "cid")
    assert result.code == 0, result.err
    # right after the profile's last section, above the comment on the next profile's header
    assert hand_edited.read_text() == HAND_EDITED.replace(
        "# staging uses the test endpoint\n",
        '[profiles.default.fynd]\nclient_id = "cid"\n\n# staging uses the test endpoint\n',
    )
    result = cli("--config", hand_edited, "config", "set", "--profile", "prod", "ewe.username", "p")
    assert result.code == 0, result.err
    assert hand_edited.read_text().endswith(
        'company_id = 42\n\n[profiles.prod.ewe]\nusername = "p"\n'
    )
    assert cli("--config", hand_edited, "config", "profiles").out == (
        "* default\n  staging\n  prod\n"
    )


@pytest.mark.timeout(60)
def test_an_emptied_section_keeps_its_header_when_it_holds_comments(cli, hand_edited):
    for key in ("ewe.username", "ewe.password", "ewe.rate"):
        assert cli("--config", hand_edited, "config", "unset", key).code == 0
    text = hand_edited.read_text()
    # the section held the user's notes: its header stays with them
    assert text.startswith(HAND_EDITED[: HAND_EDITED.index("username   =")])
    assert "# the account from onboarding\n" in text and "\n# staging uses" in text
    for key in ("fynd.company_id",):
        assert cli("--config", hand_edited, "config", "unset", "-p", "staging", key).code == 0
    text = hand_edited.read_text()
    assert "[profiles.staging.fynd]    # Fynd sandbox company\n" in text  # its own comment
    assert cli("--config", hand_edited, "config", "profiles").out == "* default\n  staging\n"


@pytest.mark.timeout(60)
def test_the_last_key_of_a_profile_unset_leaves_the_profile(cli, tmp_path):
    path = tmp_path / "c.toml"
    assert cli("--config", path, "config", "set", "-p", "prod", "ewe.username", "u").code == 0
    assert cli("--config", path, "config", "unset", "-p", "prod", "ewe.username").code == 0
    assert path.read_text() == "[profiles.prod]\n"
    assert cli("--config", path, "config", "profiles").out == "  prod\n"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "before, after",
    [
        ('[profiles.default]\newe.username = "a"  # dotted\newe.rate = 2.0\n',
         '[profiles.default]\newe.username = "b"  # dotted\newe.rate = 2.0\n'),
        ('profiles = { default = { ewe = { username = "a" } } }  # one line\n',
         'profiles = { default = { ewe = { username = "b" } } }  # one line\n'),
        ('# windows\r\n[profiles.default.ewe]\r\nusername = "a"\r\n\r\n',
         '# windows\r\n[profiles.default.ewe]\r\nusername = "b"\r\n\r\n'),
        ('[profiles.default.ewe]\nusername = "a"', '[profiles.default.ewe]\nusername = "b"'),
    ],
    ids=["dotted-keys", "inline-tables", "crlf", "no-final-newline"],
)
def test_other_layouts_keep_their_style(cli, tmp_path, before, after):
    path = tmp_path / "c.toml"
    path.write_bytes(before.encode())
    assert cli("--config", path, "config", "set", "ewe.username", "b").code == 0
    assert path.read_bytes() == after.encode()


@pytest.mark.timeout(60)
def test_a_change_that_would_mean_more_is_refused_and_the_file_kept(cli, hand_edited,
                                                                   monkeypatch):
    import tomlkit

    real = tomlkit.dumps
    monkeypatch.setattr(tomlkit, "dumps", lambda doc: real(doc).replace("acme-staging", "x"))
    result = cli("--config", hand_edited, "config", "set", "ewe.username", "globex")
    assert result.code == 2
    assert result.err == (
        f"error: cannot change ewe.username in {hand_edited} while keeping the rest of the file"
        " as it is (the result would mean more than that change); edit the file by hand (it was"
        " not changed)\n"
    )
    assert hand_edited.read_text() == HAND_EDITED
    assert [p.name for p in hand_edited.parent.iterdir()] == ["shipctl.toml"]


@pytest.mark.timeout(120)
def test_reading_the_config_does_not_import_the_toml_writer(tmp_path):
    from test_startup import loaded_modules

    path = tmp_path / "c.toml"
    path.write_text(HAND_EDITED)
    os.chmod(path, 0o600)
    modules = loaded_modules(["--config", str(path), "config", "get", "ewe.username"])
    assert "shipctl.config" in modules and "tomlkit" not in modules


@pytest.mark.timeout(120)
@given(value=printable)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_value_set_into_a_hand_edited_file_changes_only_its_line(cli, tmp_path, value):
    path = tmp_path / "hand.toml"
    path.write_text(HAND_EDITED)
    assert cli("--config", path, "config", "set", "-p", "staging", "ewe.username", "--",
               value).code == 0
    before, after = HAND_EDITED.splitlines(), path.read_text().splitlines()
    assert len(before) == len(after)
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert len(changed) == 1
    assert changed[0][0] == 'username = "acme-staging"' and changed[0][1].startswith("username = ")
    assert cli("--config", path, "config", "get", "-p", "staging", "ewe.username").out == (
        value + "\n"
    )


# -- permissions are checked on every read (docs/conventions.md, Configuration) -------------
@pytest.mark.timeout(60)
@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_directory_others_can_write_is_warned_about_on_every_read(cli, tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    path = shared / "config.toml"
    path.write_text('[profiles.default.ewe]\nusername = "a"\n')
    os.chmod(path, 0o600)
    os.chmod(shared, mode)
    warning = (f"warning: directory {shared} is writable by other users (mode {mode:04o}), who"
               f" could replace {path}; run chmod 700 {shared}\n")
    for argv in (["config", "get", "ewe.username"], ["config", "show", "-o", "json"],
                 ["digest", "--password-stdin"]):
        result = cli("--config", path, *argv, input="pw\n")
        assert result.code == 0, result.err
        assert result.err == warning, argv  # once, on stderr; stdout stays the result
    os.chmod(shared, 0o700)


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
@pytest.mark.parametrize("mode", [0o755, 0o1777, 0o700])
def test_a_directory_others_cannot_write_or_a_sticky_one_is_not_warned_about(cli, tmp_path,
                                                                            mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    path = shared / "config.toml"
    path.write_text('[profiles.default.ewe]\nusername = "a"\n')
    os.chmod(path, 0o600)
    os.chmod(shared, mode)
    result = cli("--config", path, "config", "get", "ewe.username")
    assert (result.code, result.out, result.err) == (0, "a\n", "")
    os.chmod(shared, 0o700)
