"""Ctrl-C and SIGTERM from the first moment (docs/conventions.md, Exit codes 130 and Bulk engine).

Before anything is sent — in the first pass over a large input, or while ``-`` reads a stdin
that never closes — SIGINT and SIGTERM alike end the command with exit 130, "interrupted" on
stderr, no traceback, nothing on stdout, and no report or journal written. Each test waits
until the process really is in that phase (it reads the input: /proc/PID/fdinfo, or it is
blocked reading stdin: /proc/PID/syscall) before it sends the signal. The bulk engine's own
handling while it sends is tested in tests/batch/test_batch_signals.py.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import audit
from factories import ewe_request

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/fdinfo"),
                                reason="needs Linux /proc to see what the process is doing")

LINES = 200_000
SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]


@pytest.fixture(autouse=True)
def _sigint_can_reach_the_child(request):
    # a child inherits an ignored SIGINT (a test run started in the background), and then
    # Python rightly leaves it ignored
    callspec = getattr(request.node, "callspec", None)
    if (callspec and callspec.params.get("signum") == signal.SIGINT
            and signal.getsignal(signal.SIGINT) == signal.SIG_IGN):
        pytest.skip("SIGINT is ignored in this test run, and so in its children")


@pytest.fixture(scope="module")
def big_input(tmp_path_factory) -> Path:
    """200,000 valid requests as JSON Lines (about 100 MB): seconds of parsing."""
    path = tmp_path_factory.mktemp("big") / "requests.jsonl"
    template = json.dumps(ewe_request("TEST@@@@@@@@"))
    with path.open("w", encoding="utf-8") as f:
        for i in range(LINES):
            f.write(template.replace("TEST@@@@@@@@", f"TEST{i:08d}") + "\n")
    return path


def start(*args: str, cwd: Path, stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shipctl", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"still running 60 s after the signal; stderr: {err[-2000:]!r}") from None
    audit(out, err)
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def wait_reading(proc: subprocess.Popen, path: Path, timeout: float = 60) -> None:
    """Until ``proc`` has begun reading ``path`` (its offset in the file is past 0)."""
    target = str(path.resolve())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, finish(proc)
        try:
            for fd in os.listdir(f"/proc/{proc.pid}/fd"):
                if os.readlink(f"/proc/{proc.pid}/fd/{fd}") != target:
                    continue
                info = Path(f"/proc/{proc.pid}/fdinfo/{fd}").read_text()
                if int(re.search(r"^pos:\s*(\d+)", info, re.M).group(1)) > 0:
                    return
        except OSError:  # a descriptor closed while we looked
            pass
        time.sleep(0.005)
    raise AssertionError(f"{path} was never read")


_READ = {"x86_64": "0", "amd64": "0", "aarch64": "63", "arm64": "63"}


def wait_blocked_on_stdin(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until ``proc``'s main thread waits in read(0, …) (or, failing /proc, a while)."""
    read_nr = _READ.get(platform.machine().lower())
    deadline = time.monotonic() + timeout
    unknown_since = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, finish(proc)
        try:
            fields = Path(f"/proc/{proc.pid}/syscall").read_text().split()
            if fields[:2] == [read_nr, "0x0"]:
                return
            known = True
        except (OSError, IndexError):
            known = False
        try:
            if "pipe_read" in Path(f"/proc/{proc.pid}/wchan").read_text():
                return
        except OSError:
            pass
        if not known:  # no way to look: give it ample time to get there
            unknown_since = unknown_since or time.monotonic()
            if time.monotonic() - unknown_since > 5:
                return
        time.sleep(0.01)
    raise AssertionError("never blocked reading stdin")


def assert_interrupted(code: int, out: str, err: str, *, streamed: bool = False) -> None:
    assert code == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in err and "internal error" not in err
    if not streamed:
        assert out == ""  # nothing half-written: the first pass prints nothing
    elif out:
        # validate streams its records: nothing half-written means one whole document that
        # says it was interrupted (when Python swallowed the KeyboardInterrupt inside a
        # __del__, the interruption is acted on only once the document is done)
        assert json.loads(out)["summary"]["interrupted"] is True


# -- the first pass over a large file ----------------------------------------------------------
@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_while_validate_reads_a_large_file(tmp_path, big_input, signum):
    proc = start("ewe", "validate", "-o", "json", str(big_input), cwd=tmp_path)
    wait_reading(proc, big_input)
    proc.send_signal(signum)
    assert_interrupted(*finish(proc), streamed=True)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_in_the_parse_pass_of_a_dry_run(tmp_path, big_input, sandbox, signum):
    sandbox()  # the credentials the dry run would show
    proc = start("ewe", "modify", "--dry-run", str(big_input), cwd=tmp_path)
    wait_reading(proc, big_input)
    proc.send_signal(signum)
    assert_interrupted(*finish(proc))  # no request printed: still in the parse pass


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_in_the_parse_pass_sends_nothing_and_writes_no_report_or_journal(
        tmp_path, big_input, sandbox, signum):
    server = sandbox()
    report, journal = tmp_path / "report.jsonl", tmp_path / "journal.db"
    proc = start("ewe", "modify", "--rate", "0", "--report", str(report),
                 "--journal", str(journal), str(big_input), cwd=tmp_path)
    wait_reading(proc, big_input)
    proc.send_signal(signum)

    assert_interrupted(*finish(proc))
    assert server.stats()["requests"] == 0
    assert not report.exists() and not journal.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left either


# -- a stdin that never closes -----------------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", SIGNALS)
@pytest.mark.parametrize("args", [
    pytest.param(["ewe", "validate", "-"], id="validate"),
    pytest.param(["ewe", "modify", "-"], id="modify"),
    pytest.param(["ewe", "modify", "--dry-run", "-"], id="modify-dry-run"),
    pytest.param(["digest", "-u", "test", "--password-stdin"], id="digest"),
])
def test_signal_while_reading_a_stdin_that_never_closes(tmp_path, sandbox, args, signum):
    sandbox()
    proc = start(*args, cwd=tmp_path, stdin=subprocess.PIPE)  # never written, never closed
    try:
        wait_blocked_on_stdin(proc)
        proc.send_signal(signum)
        assert_interrupted(*finish(proc))
    finally:
        proc.stdin.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", SIGNALS)
def test_signal_after_some_items_arrived_on_stdin(tmp_path, sandbox, signum):
    """Items already read do not change it: the spooling pass is still reading."""
    server = sandbox()
    report = tmp_path / "report.jsonl"
    proc = start("ewe", "modify", "--report", str(report), "-", cwd=tmp_path,
                 stdin=subprocess.PIPE)
    try:
        for i in range(3):
            proc.stdin.write((json.dumps(ewe_request(f"TEST{i:08d}")) + "\n").encode())
        proc.stdin.flush()
        wait_blocked_on_stdin(proc)
        proc.send_signal(signum)
        assert_interrupted(*finish(proc))
    finally:
        proc.stdin.close()
    assert server.stats()["requests"] == 0
    assert not report.exists()


# -- in-process: cli.run leaves the signal handlers as it found them ---------------------------
@pytest.mark.timeout(60)
def test_run_restores_the_handlers_it_found(cli):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    result = cli("digest", "-u", "test", "--password-stdin", input="123456\n")
    assert result.code == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_one_handler_helper_sets_and_puts_back_only_its_own():
    import threading

    from shipctl.stopping import handle

    def mine(signum, frame):
        pass

    def theirs(signum, frame):
        pass

    found = signal.getsignal(signal.SIGUSR1)
    restore = handle(mine, [signal.SIGUSR1])
    assert signal.getsignal(signal.SIGUSR1) is mine
    restore()
    assert signal.getsignal(signal.SIGUSR1) is found
    restore = handle(mine, [signal.SIGUSR1])
    signal.signal(signal.SIGUSR1, theirs)  # set meanwhile by someone else: it stays
    restore()
    assert signal.getsignal(signal.SIGUSR1) is theirs
    # over: only where the handler in place is the one named
    restore = handle(mine, [signal.SIGUSR1], over={signal.SIGUSR1: found})
    assert signal.getsignal(signal.SIGUSR1) is theirs
    restore()
    signal.signal(signal.SIGUSR1, found)
    # outside the main thread nothing is set, and the undo does nothing
    undo = []
    worker = threading.Thread(target=lambda: undo.append(handle(mine, [signal.SIGUSR1])))
    worker.start()
    worker.join()
    assert signal.getsignal(signal.SIGUSR1) is found
    undo[0]()
    assert signal.getsignal(signal.SIGUSR1) is found


@pytest.mark.timeout(60)
def test_an_interruption_wrapped_by_a_library_is_still_an_interruption(cli, tmp_path,
                                                                       monkeypatch):
    """pydantic turns a KeyboardInterrupt raised in a serializer into its own error."""
    import shipctl.ewe.validate

    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        pytest.skip("this test run handles SIGTERM itself")

    def run(*args, **kwargs):
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            raise AssertionError("no SIGTERM handler: the signal would end the test run")
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except KeyboardInterrupt as error:
            raise RuntimeError("Error calling function `<lambda>`: KeyboardInterrupt") from error
        raise AssertionError("SIGTERM did not interrupt")

    monkeypatch.setattr(shipctl.ewe.validate, "run", run)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(ewe_request()), encoding="utf-8")

    result = cli("ewe", "validate", str(path))

    assert result.code == 130
    assert result.err.strip().splitlines()[-1] == "interrupted"
    assert "internal error" not in result.err
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.mark.timeout(60)
def test_an_error_wrapping_the_bulk_engines_signal_is_an_interruption(cli, tmp_path,
                                                                      monkeypatch):
    """While the bulk engine reads the input, its handler raises its own BaseException to stop
    the read; wrapped by pydantic it must still end as an interruption, not an internal error."""
    import shipctl.ewe.validate

    class StopPulling(BaseException):  # as the engine's: not an Exception
        pass

    def run(*args, **kwargs):
        try:
            raise StopPulling
        except StopPulling as error:
            raise RuntimeError("Error calling function `<lambda>`: _StopPulling") from error

    monkeypatch.setattr(shipctl.ewe.validate, "run", run)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(ewe_request()), encoding="utf-8")

    result = cli("ewe", "validate", str(path))

    assert result.code == 130
    assert result.err.strip().splitlines()[-1] == "interrupted"
    assert "internal error" not in result.err


def test_a_swallowed_interruption_never_finishes_a_results_document(capsys):
    """A KeyboardInterrupt raised inside a __del__ is swallowed ("Exception ignored in");
    the command runs on to its end, and `-o json` must not then print its document as whole
    (seen once: ewe validate exited 130 with all 200,000 results printed)."""
    from shipctl import output

    out = output.Output()
    out.json_mode = True
    results = out.results()
    results.add({"where": "a.json:1 item 1"})
    output.signalled = True  # what the command line's handler marks besides raising
    try:
        with pytest.raises(KeyboardInterrupt):
            results.finish({"total": 1})
    finally:
        output.signalled = False
    assert '"summary"' not in capsys.readouterr().out  # streamed records, never closed
    results.finish({"total": 1})  # no signal: the document as ever
    assert '"total": 1' in capsys.readouterr().out
