"""`shipctl digest` (SPEC §4) against the check values of reference/ewe.md."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.ewe import digest


@pytest.mark.parametrize(
    ("username", "msg_type", "password", "count", "expected"),
    [
        ("test", "modifyShipment", "123456", None, "oNCmEhRuYMf62nPzLxGrjA=="),
        ("test", "cancelShipment", "123456", None, "1yL8YBCsG585SXnKLyLuSg=="),
        ("test", "pushUnCreatedShipments", "123456", 1, "Hf+Gw8Yl5KPtn047o9yzwQ=="),
    ],
)
def test_check_values(username, msg_type, password, count, expected):
    assert digest.compute(username, msg_type, password, count) == expected


def test_non_ascii_password_is_utf8():
    import base64
    import hashlib

    expected = base64.b64encode(hashlib.md5("testmodifyShipmentpäss€".encode()).digest()).decode()
    assert digest.compute("test", "modifyShipment", "päss€") == expected
    assert expected != base64.b64encode(
        hashlib.md5("testmodifyShipmentpäss€".encode("latin-1", "replace")).digest()).decode()


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text(), st.one_of(st.none(), st.integers(0, 10**6)))
def test_digest_is_24_chars_of_base64_and_verifies(username, msg_type, password, count):
    value = digest.compute(username, msg_type, password, count)
    assert len(value) == 24 and value.endswith("==")
    assert digest.matches(value, value)


def test_cli_password_stdin(cli):
    result = cli("digest", "--username", "test", "--password-stdin", input="123456\n")
    assert result.code == 0
    assert result.out == "oNCmEhRuYMf62nPzLxGrjA==\n"
    assert result.err == ""


def test_cli_crlf_password_line(cli):
    result = cli("digest", "-u", "test", "--password-stdin", input="123456\r\n")
    assert result.out == "oNCmEhRuYMf62nPzLxGrjA==\n"


def test_cli_count_variant(cli):
    result = cli("digest", "-u", "test", "--msg-type", "pushUnCreatedShipments", "--count", "1",
                 "--password-stdin", input="123456\n")
    assert result.out == "Hf+Gw8Yl5KPtn047o9yzwQ==\n"


def test_cli_non_ascii_password(cli):
    result = cli("digest", "-u", "test", "--password-stdin", input="päss€\n")
    assert result.out.strip() == digest.compute("test", "modifyShipment", "päss€")


def test_cli_json(cli):
    result = cli("digest", "-u", "test", "--password-stdin", "-o", "json", input="123456\n")
    assert json.loads(result.out) == {
        "username": "test", "msg_type": "modifyShipment", "digest": "oNCmEhRuYMf62nPzLxGrjA=="}


def test_cli_verify_match_and_mismatch(cli):
    ok = cli("digest", "-u", "test", "--password-stdin", "--verify", "oNCmEhRuYMf62nPzLxGrjA==",
             input="123456\n")
    assert (ok.code, ok.out) == (0, "")
    assert "matches" in ok.err
    bad = cli("digest", "-u", "test", "--password-stdin", "--verify", "AAAAAAAAAAAAAAAAAAAAAA==",
              input="wrong-password\n")
    assert bad.code == 1 and bad.out == ""
    assert "does not match" in bad.err and len(bad.err.strip().splitlines()) == 1
    # the password and the computed digest stay secret in the explanation
    assert "wrong-password" not in bad.all
    assert digest.compute("test", "modifyShipment", "wrong-password") not in bad.all


def test_cli_empty_stdin_is_usage_error(cli):
    result = cli("digest", "-u", "test", "--password-stdin", input="")
    assert result.code == 2
    assert "stdin was empty" in result.err


def test_cli_from_environment(cli, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "test")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "123456")
    result = cli("digest")
    assert result.out == "oNCmEhRuYMf62nPzLxGrjA==\n"


def test_cli_missing_password_names_key_and_env_var(cli):
    result = cli("digest", "-u", "test")
    assert result.code == 2
    assert "ewe.password" in result.err and "SHIPCTL_EWE_PASSWORD" in result.err


def test_cli_from_profile(cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[profiles.ops.ewe]\nusername = "test"\npassword = "123456"\n')
    config.chmod(0o600)
    result = cli("--config", str(config), "--profile", "ops", "digest")
    assert result.code == 0, result.err
    assert result.out == "oNCmEhRuYMf62nPzLxGrjA==\n"
