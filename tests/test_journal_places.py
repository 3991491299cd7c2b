"""Journal and report errors that name the real cause (docs/conventions.md, Bulk engine:
--journal, --report).

- a healthy journal in a read-only directory is not "damaged": SQLite cannot create its -wal
  file there;
- a report that cannot be opened stops the run before a journal is created (no `runs` row
  claiming exit 0 for a run that exited 2), and a refused journal leaves the report alone.

This machine's tests run as root, which ignores permission bits: the read-only directory is a
read-only bind mount, made in a private mount namespace (`unshare -m`) of the one command that
needs it, so nothing outside that process ever sees it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import audit
from factories import ewe_request

from shipctl.batch import BulkOptions, Job, Outcome, run
from shipctl.errors import UsageError
from shipctl.output import Output


def _read_only_run(directory: Path, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``directory`` mounted read-only for that process alone."""
    d = shlex.quote(str(directory))
    script = (f"mount --make-rprivate / && mount --bind {d} {d} && "
              f"mount -o remount,bind,ro {d} && exec {shlex.join(argv)}")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          timeout=60, env=dict(os.environ))


def _read_only_mounts_work(tmp_path: Path) -> str | None:
    """None when a private read-only bind mount can be made here; else why not."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare(1) or mount(8) is not installed"
    probe = tmp_path / "probe"
    probe.mkdir()
    result = _read_only_run(probe, ["sh", "-c", f"! touch {shlex.quote(str(probe / 'x'))}"])
    if result.returncode != 0:
        return ("cannot make a read-only bind mount in a private mount namespace here: "
                + result.stderr.decode(errors="replace").strip()[:200])
    return None


@pytest.fixture
def read_only(tmp_path):
    why = _read_only_mounts_work(tmp_path)
    if why is not None:
        pytest.skip(why)
    return _read_only_run


def shipctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "shipctl", *args]


def make_journal(path: Path) -> None:
    summary = run([Job(id="id-1", label="TEST0001")], lambda job: Outcome(True, "ok"),
                  BulkOptions(journal=path), Output())
    assert summary.counts["succeeded"] == 1


def runs(path: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT id, counts FROM runs").fetchall()


@pytest.mark.timeout(120)
def test_a_healthy_journal_in_a_read_only_directory_is_not_called_damaged(
    read_only, sandbox, tmp_path, capsys
):
    sandbox()  # credentials and URL: the run would get as far as sending
    directory = tmp_path / "ro"
    directory.mkdir()
    journal = directory / "nightly.db"
    make_journal(journal)
    before = journal.read_bytes()
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ewe_request("RO0001")) + "\n")

    result = read_only(directory, shipctl("ewe", "modify", str(items), "--journal",
                                          str(journal)))

    err = result.stderr.decode()
    audit(result.stdout, err)
    assert result.returncode == 2, err
    assert (f"--journal {journal}: cannot write in {directory} "
            "(SQLite needs its -wal file beside the journal)") in err
    assert "damaged" not in err
    assert result.stdout == b""
    assert journal.read_bytes() == before


@pytest.mark.timeout(120)
def test_the_journal_itself_names_the_directory_when_sqlite_cannot_write_there(
    read_only, tmp_path
):
    """Journal.open, past the lock (as when the lock is held elsewhere): the SQLite error that
    comes from the read-only directory is named as such, not as damage."""
    directory = tmp_path / "ro"
    directory.mkdir()
    journal = directory / "nightly.db"
    make_journal(journal)
    probe = ("import sys\n"
             "from shipctl.journal import Journal\n"
             "from shipctl.errors import UsageError\n"
             "try:\n"
             "    Journal._open(__import__('pathlib').Path(sys.argv[1]), 'test', None)\n"
             "except UsageError as exc:\n"
             "    print(exc.message)\n")
    result = read_only(directory, [sys.executable, "-c", probe, str(journal)])
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert (f"cannot write in {directory} (SQLite needs its -wal file beside the journal)"
            in out), out
    assert "damaged" not in out


@pytest.mark.timeout(120)
def test_a_new_journal_in_a_read_only_directory(read_only, sandbox, tmp_path):
    sandbox()
    directory = tmp_path / "ro"
    directory.mkdir()
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ewe_request("RO0002")) + "\n")
    result = read_only(directory, shipctl("ewe", "modify", str(items), "--journal",
                                          str(directory / "new.db")))
    err = result.stderr.decode()
    audit(result.stdout, err)
    assert result.returncode == 2
    assert f"cannot write in {directory} (SQLite needs its -wal file" in err
    assert list(directory.iterdir()) == []


@pytest.mark.timeout(60)
def test_a_report_that_cannot_be_opened_leaves_no_journal_behind(cli, sandbox, tmp_path):
    sandbox()
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ewe_request("REP0001")) + "\n")
    not_a_dir = tmp_path / "notes.txt"
    not_a_dir.write_text("a file, not a directory")
    journal = tmp_path / "nightly.db"

    result = cli("ewe", "modify", str(items), "--journal", str(journal),
                 "--report", str(not_a_dir / "report.csv"))

    assert result.code == 2
    assert f"--report {not_a_dir / 'report.csv'}: directory {not_a_dir} does not exist" \
        in result.err
    assert not journal.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.jsonl", "notes.txt"]


@pytest.mark.timeout(60)
def test_a_report_refused_after_an_existing_journal_records_no_run(cli, sandbox, tmp_path):
    sandbox()
    journal = tmp_path / "nightly.db"
    make_journal(journal)
    assert len(runs(journal)) == 1
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ewe_request("REP0002")) + "\n")

    result = cli("ewe", "modify", str(items), "--journal", str(journal),
                 "--report", str(tmp_path / "missing" / "report.jsonl"))

    assert result.code == 2
    assert len(runs(journal)) == 1  # no row for the run that exited 2


@pytest.mark.timeout(60)
def test_a_refused_journal_leaves_the_report_as_it_was(tmp_path, capsys):
    journal = tmp_path / "nightly.db"
    journal.write_text("index,where\n1,a.jsonl:1\n")  # a CSV given as the journal
    old_report = tmp_path / "yesterday.csv"
    old_report.write_text("yesterday's report\n")
    new_report = tmp_path / "today.jsonl"
    for report in (old_report, new_report):
        with pytest.raises(UsageError) as info:
            run([Job(id="a")], lambda job: Outcome(True, "ok"),
                BulkOptions(journal=journal, report=report), Output())
        assert "not a shipctl journal" in str(info.value)
    assert old_report.read_text() == "yesterday's report\n"
    assert not new_report.exists()
    assert not (tmp_path / "nightly.db.lock").exists()


@pytest.mark.timeout(60)
def test_a_run_stopped_by_unreadable_input_records_the_exit_code_it_exits_with(
    tmp_path, capsys
):
    from shipctl.errors import InputError

    journal = tmp_path / "nightly.db"

    def jobs():
        yield Job(id="a", label="A")
        yield Job(id="b", label="B")
        raise InputError("bulk.jsonl:3: unexpected end of input")

    with pytest.raises(InputError):
        run(jobs(), lambda job: Outcome(True, "ok"), BulkOptions(journal=journal, jobs=1),
            Output(json_mode=True))
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["exit_code"] == 2  # as the process: cli maps InputError to 2
    ((_, counts),) = runs(journal)
    assert json.loads(counts)["exit_code"] == 2
