"""`shipctl digest` against the check values of docs/ewe.md, Digest."""

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


# -- the digest to verify from stdin (`--verify -`) -------------------------------------------
GOOD = "oNCmEhRuYMf62nPzLxGrjA=="  # test / modifyShipment / 123456
HISTORY_WARNING = (
    "warning: a digest given on the command line may be kept in your shell history and seen in"
    " the process list; pipe it to --verify -: printf '%s\\n' \"$DIGEST\" | shipctl digest"
    " --verify -\n"
)


@pytest.fixture
def ewe_env(monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "test")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "123456")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("line_end", ["\n", "\r\n", ""])
def test_verify_dash_reads_the_digest_from_stdin(cli, ewe_env, line_end):
    ok = cli("digest", "--verify", "-", input=GOOD + line_end)
    assert (ok.code, ok.out) == (0, "")
    assert ok.err == "digest matches for username 'test' and msgType 'modifyShipment'\n"
    bad = cli("digest", "--verify", "-", input="AAAAAAAAAAAAAAAAAAAAAA==" + line_end)
    assert (bad.code, bad.out) == (1, "")
    assert "does not match" in bad.err and "warning" not in bad.err
    assert "AAAAAAAAAAAAAAAAAAAAAA==" not in bad.all  # nor echoed back


@pytest.mark.timeout(30)
def test_password_stdin_and_verify_dash_read_password_then_digest(cli):
    ok = cli("digest", "-u", "test", "--password-stdin", "--verify", "-",
             input=f"123456\n{GOOD}\n")
    assert (ok.code, ok.out, ok.err) == (
        0, "", "digest matches for username 'test' and msgType 'modifyShipment'\n")
    # the other way round is a different password and a different digest: no match
    swapped = cli("digest", "-u", "test", "--password-stdin", "--verify", "-",
                  input=f"{GOOD}\n123456\n")
    assert swapped.code == 1 and "does not match" in swapped.err
    assert "123456" not in swapped.all and GOOD not in swapped.all


@pytest.mark.timeout(30)
def test_verify_dash_with_password_stdin_but_one_line_is_a_usage_error(cli):
    result = cli("digest", "-u", "test", "--password-stdin", "--verify", "-", input="123456\n")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(
        "error: --verify - with --password-stdin reads two lines from stdin, the password and"
        " then the digest; the digest line is missing"
    )
    assert "123456" not in result.all


@pytest.mark.timeout(30)
@pytest.mark.parametrize("stdin", ["", "\n"])
def test_verify_dash_with_nothing_on_stdin_is_a_usage_error(cli, ewe_env, stdin):
    result = cli("digest", "--verify", "-", input=stdin)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: --verify -: no digest on stdin; pipe it in one line")


@pytest.mark.timeout(30)
def test_a_matching_digest_on_the_command_line_is_warned_about_and_not_echoed(cli, ewe_env):
    result = cli("digest", "--verify", GOOD)
    assert (result.code, result.out) == (0, "")
    assert result.err == (HISTORY_WARNING
                          + "digest matches for username 'test' and msgType 'modifyShipment'\n")
    assert GOOD not in result.all


@pytest.mark.timeout(30)
def test_the_warning_shows_the_two_line_pipe_when_the_password_comes_from_stdin(cli):
    result = cli("digest", "-u", "test", "--password-stdin", "--verify", GOOD, input="123456\n")
    assert result.code == 0
    assert result.err.startswith(
        "warning: a digest given on the command line may be kept in your shell history and seen"
        " in the process list; pipe it to --verify -: printf '%s\\n%s\\n' \"$PW\" \"$DIGEST\" |"
        " shipctl digest --password-stdin --verify -\n"
    )
