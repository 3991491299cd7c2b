"""Global behaviour (docs/conventions.md: Global options, Output, Exit codes): version, help,
exit codes, errors without tracebacks."""

from __future__ import annotations

from shipctl import __version__


def test_version(cli):
    result = cli("--version")
    assert result.code == 0
    assert result.out == f"shipctl {__version__}\n"


def test_version_after_global_options(cli):
    assert cli("--profile", "x", "--version").out == f"shipctl {__version__}\n"


def test_help_documents_exit_codes(cli):
    result = cli("--help")
    assert result.code == 0
    for text in ("Exit codes", "130", "ewe", "config", "digest", "sandbox", "completions"):
        assert text in result.out


def test_no_arguments_shows_help(cli):
    result = cli()
    assert "Usage: shipctl" in result.out + result.err


def test_unknown_command_is_a_usage_error(cli):
    result = cli("nosuch")
    assert result.code == 2
    assert "No such command 'nosuch'" in result.err
    assert "Traceback" not in result.all


def test_bad_option_value_is_a_usage_error(cli):
    result = cli("ewe", "modify", "--jobs", "zero")
    assert result.code == 2
    assert "--jobs" in result.err


def test_internal_error_is_one_line_without_traceback(cli, monkeypatch):
    from shipctl.ewe import digest

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(digest, "compute", broken)
    result = cli("digest", "-u", "test", "--password-stdin", input="pw\n")
    assert result.code == 1
    assert result.err == "error: internal error: RuntimeError: boom\nrun with --debug for details\n"


def test_debug_shows_the_traceback(cli, monkeypatch):
    import pytest

    from shipctl.ewe import digest

    monkeypatch.setattr(digest, "compute", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli("--debug", "digest", "-u", "test", "--password-stdin", input="pw\n")


def test_python_dash_m_works(shipctl_proc):
    result = shipctl_proc("--version")
    assert result.code == 0
    assert result.out == f"shipctl {__version__}\n"


def test_console_script_is_declared():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert 'shipctl = "shipctl.cli:main"' in text


def test_sending_and_checking_commands_document_exit_codes(cli):
    for args in (["ewe", "modify", "--help"], ["ewe", "validate", "--help"], ["digest", "--help"]):
        result = cli(*args)
        assert result.code == 0
        assert "Exit codes: 0" in result.out and "130 interrupted" in result.out


def test_jsonl_is_offered_only_where_results_stream(cli):
    # config and digest print one document: -o jsonl would be JSON in name only
    assert cli("config", "show", "-o", "jsonl").code == 2
    digest = cli("digest", "-u", "test", "--password-stdin", "-o", "jsonl", input="123456\n")
    assert digest.code == 2
    assert "jsonl" in cli("ewe", "validate", "--help").out
