"""shipctl.config: the key table, precedence, file format, atomic 0600 writes
(docs/conventions.md, Configuration)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipctl import config, secrets
from shipctl.errors import ConfigError, UsageError
from shipctl.output import Output

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


class Recorder(Output):
    """An Output that keeps warnings and info lines for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def info(self, text: str) -> None:
        self.infos.append(text)


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "config.toml"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


# -- the key table --------------------------------------------------------------------------
def test_key_table_matches_spec():
    assert list(config.KEYS) == [
        "ewe.url", "ewe.username", "ewe.password", "ewe.rate", "ewe.content_type",
        "ewe.postcodes",
        "fynd.url", "fynd.company_id", "fynd.client_id", "fynd.client_secret",
        "ecom.url", "ecom.username", "ecom.password",
    ]  # fmt: skip
    assert {k for k, s in config.KEYS.items() if s.secret} == {
        "ewe.password", "fynd.client_secret", "ecom.password"
    }
    assert config.KEYS["ewe.url"].default == "https://jerrytest.ewe.com.au/eweApi/ewe/api"
    assert config.KEYS["fynd.url"].default == "https://api.fynd.com"
    assert config.KEYS["ewe.rate"].default == 1.0
    assert config.KEYS["ewe.content_type"].default == "application/javascript"
    assert config.KEYS["fynd.client_secret"].env == "SHIPCTL_FYND_CLIENT_SECRET"


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("ewe.pasword", "ewe.password"), ("EWE.USERNAME", "ewe.username"),
     ("fynd.client-secret", "fynd.client_secret"), ("ecom.urll", "ecom.url")],
)
def test_unknown_key_suggests_nearest(typo, suggestion):
    with pytest.raises(UsageError) as info:
        config.key_spec(typo)
    assert str(info.value) == f"unknown config key {typo!r} (did you mean {suggestion}?)"
    assert info.value.exit_code == 2


def test_unknown_key_without_close_match_lists_keys():
    with pytest.raises(UsageError, match="keys: ewe.url, ewe.username"):
        config.key_spec("zzzzzz")


# -- loading --------------------------------------------------------------------------------
def test_default_path_is_per_user_config_dir(isolated_env):
    assert config.default_path() == isolated_env / ".config" / "shipctl" / "config.toml"


def test_missing_file_is_empty_and_not_created(cfg_path):
    cfg = config.load(cfg_path)
    assert cfg.profiles() == [] and not cfg.exists
    assert not cfg_path.exists() and not cfg_path.parent.exists()


def test_malformed_toml_names_file_line_and_column(cfg_path):
    write(cfg_path, '[profiles.default.ewe]\nusername = "a"\npassword = \n')
    with pytest.raises(ConfigError) as info:
        config.load(cfg_path)
    message = str(info.value)
    assert str(cfg_path) in message and "line 3, column 12" in message
    assert info.value.exit_code == 2


def test_malformed_file_is_never_replaced_by_edit(cfg_path):
    original = b'[profiles.default.ewe]\nusername = "unterminated\n'
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_bytes(original)
    with pytest.raises(ConfigError, match="line 2"):
        with config.edit(cfg_path) as cfg:
            cfg.set("default", "ewe.username", "x")
    assert cfg_path.read_bytes() == original


def test_not_utf8_names_line(cfg_path):
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_bytes(b'[profiles.default.ewe]\nusername = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text at line 2, column 16"):
        config.load(cfg_path)


def test_bom_is_tolerated(cfg_path):
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_bytes(b'\xef\xbb\xbf[profiles.default.ewe]\nusername = "a"\n')
    assert config.resolve(config.load(cfg_path), "default", "ewe.username").value == "a"


def test_directory_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        config.load(tmp_path)


@pytest.mark.skipif(ROOT or os.name == "nt", reason="root reads any file")
def test_unreadable_file_is_an_error(cfg_path):
    write(cfg_path, "", mode=0)
    with pytest.raises(ConfigError, match="cannot read config file .*ermission denied"):
        config.load(cfg_path)


def test_oversized_file_is_an_error(cfg_path):
    write(cfg_path, "# x\n" * 300_000)
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        config.load(cfg_path)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("profiles = 1\n", "'profiles' must be a table"),
        ("[profiles]\ndefault = 'x'\n", "profiles.default must be a table"),
        ("[profiles.default]\newe = 3\n", "profiles.default.ewe must be a table"),
    ],
)
def test_wrong_structure_is_an_error(cfg_path, text, complaint):
    write(cfg_path, text)
    with pytest.raises(ConfigError, match=complaint):
        config.load(cfg_path)


def test_unknown_keys_in_file_are_warned_with_suggestion(cfg_path):
    write(
        cfg_path,
        '[profiles.default.ewe]\npasword = "x"\n[profiles.default.fyn]\nurl = "x"\n'
        '[profiles.default]\newe_password = "y"\n',
    )
    out = Recorder()
    config.load(cfg_path, out)
    assert any("profiles.default.ewe.pasword" in w and "did you mean ewe.password" in w
               for w in out.warnings)
    assert any("[profiles.default.fynd]" in w for w in out.warnings)
    assert any("ewe_password" in w and "did you mean ewe.password" in w for w in out.warnings)


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_readable_by_others_warns_once(cfg_path, mode):
    write(cfg_path, "", mode=mode)
    out = Recorder()
    config.load(cfg_path, out)
    assert out.warnings == [
        f"{cfg_path} is readable by other users; run chmod 600 {cfg_path}"
    ]


def test_private_file_does_not_warn(cfg_path):
    write(cfg_path, '[profiles.default.ewe]\nusername = "a"\n')
    out = Recorder()
    config.load(cfg_path, out)
    assert out.warnings == []


# -- precedence -----------------------------------------------------------------------------
FILE = """\
[profiles.default.ewe]
username = "file-user"
password = "file-password"
rate = 2.5
postcodes = "data/postcodes.csv"

[profiles.staging.fynd]
company_id = 42
"""


@pytest.fixture
def cfg(cfg_path):
    write(cfg_path, FILE)
    return config.load(cfg_path)


def test_flag_beats_everything(cfg, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "env-user")
    got = config.resolve(cfg, "default", "ewe.username", flag="flag-user",
                         overrides={"ewe.username": "sandbox"})
    assert (got.value, got.source) == ("flag-user", "flag")


def test_sandbox_beats_env(cfg, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "env-user")
    got = config.resolve(cfg, "default", "ewe.username", overrides={"ewe.username": "sandbox"})
    assert (got.value, got.source) == ("sandbox", "sandbox")


def test_env_beats_file(cfg, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "env-user")
    got = config.resolve(cfg, "default", "ewe.username")
    assert (got.value, got.source) == ("env-user", "SHIPCTL_EWE_USERNAME")


def test_file_beats_default(cfg, cfg_path):
    got = config.resolve(cfg, "default", "ewe.rate")
    assert (got.value, got.source) == (2.5, str(cfg_path))


def test_default_then_unset(cfg):
    assert config.resolve(cfg, "default", "fynd.url").source == "default"
    got = config.resolve(cfg, "default", "ecom.url")
    assert (got.value, got.source) == (None, "unset")


def test_empty_env_counts_as_not_given(cfg, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_URL", "")
    assert config.resolve(cfg, "default", "ewe.url").source == "default"


def test_integer_in_file_is_a_string_value(cfg):
    got = config.resolve(cfg, "staging", "fynd.company_id")
    assert got.value == "42"


def test_relative_postcodes_path_is_relative_to_the_file(cfg, cfg_path):
    got = config.resolve(cfg, "default", "ewe.postcodes")
    assert got.value == str(cfg_path.parent / "data" / "postcodes.csv")


def test_profiles_are_separate(cfg):
    assert config.resolve(cfg, "staging", "ewe.username").value is None


def test_secrets_are_registered_for_redaction(cfg, monkeypatch):
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "env-client-secret")
    got = config.resolve(cfg, "default", "ewe.password")
    assert got.secret and got.value == "file-password"
    assert secrets.redact("x file-password y") == f"x {secrets.MASK} y"
    config.resolve(cfg, "default", "fynd.client_secret")
    assert "env-client-secret" not in secrets.redact("env-client-secret")
    assert got.as_dict() == {"key": "ewe.password", "value": secrets.MASK,
                             "source": got.source, "secret": True}
    assert got.as_dict(show_secrets=True)["value"] == "file-password"


@pytest.mark.parametrize("bad", ["fast", "-1", "nan", "inf", "1e999"])
def test_bad_rate_in_env_names_the_variable(cfg, monkeypatch, bad):
    monkeypatch.setenv("SHIPCTL_EWE_RATE", bad)
    with pytest.raises(ConfigError) as info:
        config.resolve(cfg, "default", "ewe.rate")
    assert str(info.value).startswith("SHIPCTL_EWE_RATE: ewe.rate must be a number ≥ 0")


def test_bad_rate_in_file_names_file_and_line(cfg_path):
    write(cfg_path, '[profiles.default.ewe]\nusername = "a"\nrate = "fast"\n')
    with pytest.raises(ConfigError) as info:
        config.resolve(config.load(cfg_path), "default", "ewe.rate")
    assert str(info.value) == (
        f"{cfg_path}:3: ewe.rate (profile 'default') must be a number ≥ 0, got 'fast'"
    )


def test_wrong_toml_type_for_secret_does_not_echo_it(cfg_path):
    write(cfg_path, '[profiles.default.ewe]\npassword = ["topsecret1"]\n')
    with pytest.raises(ConfigError) as info:
        config.resolve(config.load(cfg_path), "default", "ewe.password")
    assert "must be a string, not a TOML array" in str(info.value)
    assert "topsecret1" not in str(info.value)


def test_bad_flag_is_a_usage_error(cfg):
    with pytest.raises(UsageError, match="command line: ewe.url must be an http"):
        config.resolve(cfg, "default", "ewe.url", flag="ftp://example.com")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.fynd.com", "https://api.fynd.com"),
        ("http://127.0.0.1:8765/ewe/", "http://127.0.0.1:8765/ewe"),
        ("ftp://host", None), ("https://", None), ("api.fynd.com", None),
        ("https://u:p@host", None), ("https://host:port", None), ("https://a b", None),
    ],
)
def test_url_values(url, ok):
    spec = config.KEYS["fynd.url"]
    if ok is None:
        with pytest.raises(UsageError, match="fynd.url"):
            config.parse_value(spec, url)
    else:
        assert config.parse_value(spec, url) == ok


def test_credentials_in_url_are_not_echoed():
    with pytest.raises(UsageError) as info:
        config.parse_value(config.KEYS["ecom.url"], "https://user:hunter2x@host")
    assert "hunter2x" not in str(info.value)


@given(st.text(max_size=40))
@settings(max_examples=150, deadline=None)
def test_any_value_is_parsed_or_rejected_cleanly(text):
    for spec in config.KEYS.values():
        try:
            value = config.parse_value(spec, text)
        except UsageError:
            continue
        if spec.type == "float":
            assert value >= 0
        elif spec.type == "url":
            assert value.lower().startswith(("http://", "https://"))


# -- unknown profile and missing values -----------------------------------------------------
def test_unknown_profile_lists_profiles(cfg, cfg_path):
    with pytest.raises(ConfigError) as info:
        config.resolve(cfg, "prod", "ewe.username")
    assert str(info.value) == f"unknown profile 'prod' in {cfg_path} (profiles: default, staging)"
    assert info.value.exit_code == 2


def test_unknown_profile_is_fine_when_the_file_is_not_needed(cfg, monkeypatch):
    assert config.resolve(cfg, "prod", "ewe.username", flag="u").value == "u"
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "env-password")
    assert config.resolve(cfg, "prod", "ewe.password").value == "env-password"


def test_default_profile_need_not_exist(cfg_path):
    assert config.resolve(config.load(cfg_path), "default", "fynd.url").source == "default"


def test_unknown_profile_without_file(cfg_path):
    with pytest.raises(ConfigError, match="does not exist yet.*config set --profile prod"):
        config.resolve(config.load(cfg_path), "prod", "ewe.url")


def test_missing_error_message():
    error = config.missing_error("ewe.password", "default", "/x/config.toml")
    assert str(error) == (
        "ewe.password is not set for profile 'default': run `shipctl config set ewe.password`"
        " or set SHIPCTL_EWE_PASSWORD"
    )
    assert error.exit_code == 2
    other = config.missing_error("fynd.client_secret", "prod", "/x/config.toml")
    assert "`shipctl config set --profile prod fynd.client_secret`" in str(other)
    assert "SHIPCTL_FYND_CLIENT_SECRET" in str(other)


# -- writing --------------------------------------------------------------------------------
@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_edit_creates_0600_file_in_0700_directory(cfg_path):
    old = os.umask(0o022)
    try:
        with config.edit(cfg_path) as cfg:
            cfg.set("default", "ewe.username", "a")
    finally:
        os.umask(old)
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg_path.parent.stat().st_mode) == 0o700
    assert cfg_path.read_text() == '[profiles.default.ewe]\nusername = "a"\n'


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_existing_open_directory_is_warned_about_not_changed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    out = Recorder()
    with config.edit(shared / "config.toml", out) as cfg:
        cfg.set("default", "ewe.username", "a")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777
    assert out.warnings == [
        f"directory {shared} is accessible by other users (mode 0777); run chmod 700 {shared}"
    ]


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_edit_tightens_an_open_file(cfg_path):
    write(cfg_path, '[profiles.default.ewe]\nusername = "a"\n', mode=0o644)
    out = Recorder()
    with config.edit(cfg_path, out) as cfg:
        cfg.set("default", "ewe.rate", 3.0)
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    assert out.infos == [f"{cfg_path} is now mode 0600 (was 0644)"]


def test_failed_replace_leaves_old_file_and_no_temp(cfg_path, monkeypatch):
    original = '[profiles.default.ewe]\nusername = "old"\n'
    write(cfg_path, original)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError) as info:
        with config.edit(cfg_path) as cfg:
            cfg.set("default", "ewe.username", "new")
    assert "No space left on device" in str(info.value) and str(cfg_path) in str(info.value)
    assert cfg_path.read_text() == original
    assert sorted(p.name for p in cfg_path.parent.iterdir()) == ["config.toml"]


def test_failed_write_midway_leaves_old_file(cfg_path, monkeypatch):
    original = '[profiles.default.ewe]\nusername = "old"\n'
    write(cfg_path, original)
    real_fsync = os.fsync

    def crash(fd):
        real_fsync(fd)
        raise KeyboardInterrupt  # Ctrl-C between write and rename

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        with config.edit(cfg_path) as cfg:
            cfg.set("default", "ewe.username", "new")
    assert cfg_path.read_text() == original
    assert sorted(p.name for p in cfg_path.parent.iterdir()) == ["config.toml"]


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_write_goes_through_a_symlink(tmp_path):
    real = write(tmp_path / "dotfiles" / "shipctl.toml", "")
    link = tmp_path / "conf" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    with config.edit(link) as cfg:
        cfg.set("default", "ewe.username", "a")
    assert link.is_symlink()
    assert 'username = "a"' in real.read_text()


def test_unset_removes_key_and_empty_section(cfg_path):
    write(cfg_path, "[profiles.default.ewe]\nusername = \"a\"\n"
                    "[profiles.default.fynd]\nclient_id = \"c\"\n")
    with config.edit(cfg_path) as cfg:
        assert cfg.unset("default", "ewe.username") is True
        assert cfg.unset("default", "ewe.username") is False
    assert cfg_path.read_text() == '[profiles.default.fynd]\nclient_id = "c"\n'


def test_unknown_top_level_tables_are_kept(cfg_path):
    write(cfg_path, '[future]\nx = 1\n')
    with config.edit(cfg_path) as cfg:
        cfg.set("default", "ewe.username", "a")
    assert config.load(cfg_path).data["future"] == {"x": 1}


def test_concurrent_writers_lose_nothing(cfg_path):
    keys = [k for k, s in config.KEYS.items() if s.type == "str"]
    errors: list[BaseException] = []

    def writer(profile: str) -> None:
        try:
            for key in keys:
                with config.edit(cfg_path) as cfg:
                    cfg.set(profile, key, f"{profile}-{key}")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"p{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = config.load(cfg_path)
    for i in range(4):
        for key in keys:
            assert config.resolve(final, f"p{i}", key).value == f"p{i}-{key}"


@given(st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_string_round_trips_through_the_file(cfg_path, value):
    try:
        config.parse_value(config.KEYS["ewe.password"], value)
    except UsageError:  # lone surrogates cannot be stored as UTF-8
        return
    with config.edit(cfg_path) as cfg:
        cfg.set("default", "ewe.password", value)
    assert config.resolve(config.load(cfg_path), "default", "ewe.password").value == value


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))))
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_file_content_loads_or_fails_cleanly(cfg_path, text):
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text("[profiles.default.ewe]\n" + text, encoding="utf-8")
    try:
        cfg = config.load(cfg_path, Recorder())
        for profile in ["default", *cfg.profiles()]:
            for key in config.KEYS:
                config.resolve(cfg, profile, key)
    except ConfigError as error:
        assert str(cfg_path) in str(error) or "SHIPCTL_" in str(error)
