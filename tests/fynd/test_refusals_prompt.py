"""`fynd transition` asks before a cancellation, on a terminal only: the real command in a
subprocess whose standard input is a pseudo-terminal, answering as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import requests
from conftest import audit

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")

QUESTION_END = b"[y/N] "
PARTIAL_CANCEL = ["800001", "--to", "bag_not_confirmed", "--line", "1:5", "--reason",
                  "1:Product Not Available@1:5", "--exclude-next-state", "null"]


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def on_terminal(*args: str, answer: bytes | None = None, timeout: float = 60) -> Run:
    """`shipctl fynd transition ARGS` with a terminal as standard input (stdout and stderr
    are pipes). When the command asks (stderr ends with "[y/N] "), ANSWER is typed; without an
    ANSWER, a question fails the test rather than hang it."""
    controller, terminal = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "shipctl", "fynd", "transition", *args],
                            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(terminal)
    err = bytearray()

    def drain() -> None:
        while chunk := os.read(proc.stderr.fileno(), 4096):
            err.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not err.endswith(QUESTION_END):
            assert time.monotonic() < deadline, f"no answer and no question: {bytes(err)!r}"
            time.sleep(0.02)
        if proc.poll() is None:  # asked
            assert answer is not None, f"asked unexpectedly: {bytes(err)!r}"
            os.write(controller, answer)
        out = proc.stdout.read()
        code = proc.wait(timeout=timeout)
        reader.join(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
        proc.stdout.close()
        proc.stderr.close()
    run = Run(code, out.decode("utf-8", "replace"), bytes(err).decode("utf-8", "replace"))
    audit(run.out, run.err)
    return run


def test_declining_sends_nothing_and_exits_0(sandbox):
    server = sandbox()
    run = on_terminal(*PARTIAL_CANCEL, answer=b"n\n")
    assert run.err == "Cancel 5 units of shipment 800001? [y/N] declined: nothing was sent\n"
    assert run.code == 0 and run.out == ""
    assert stats(server)["requests"] == 0  # not even a token


@pytest.mark.parametrize("answer", [b"\n", b"no\n", b"yess\n", b"\x04"])  # \x04: Ctrl-D
def test_anything_but_yes_declines(sandbox, answer):
    server = sandbox()
    run = on_terminal(*PARTIAL_CANCEL, answer=answer)
    assert run.code == 0 and "declined: nothing was sent" in run.err
    assert stats(server)["fynd"]["transitions"] == {}


@pytest.mark.parametrize("answer", [b"y\n", b"YES\n", b" yes \n"])
def test_yes_sends_it_once(sandbox, answer):
    server = sandbox()
    run = on_terminal(*PARTIAL_CANCEL, answer=answer)
    assert run.code == 0, run.err
    assert run.err.startswith("Cancel 5 units of shipment 800001? [y/N] ")
    assert run.out == "800001  ok  5 → bag_not_confirmed, the rest stay\n"
    assert stats(server)["fynd"]["bags"]["800001"]["1"] == {"bag_not_confirmed": 5,
                                                            "placed": 5}


def test_the_rest_of_a_partial_move_sent_to_a_cancellation_is_asked_about(sandbox):
    server = sandbox()
    run = on_terminal("800002", "800003", "--to", "bag_confirmed", "--line", "1:5",
                      "--reason", "1:PNA", "--exclude-next-state", "bag_not_confirmed",
                      answer=b"n\n")
    assert run.err.startswith("Cancel every unit of each of 2 shipments (800002, 800003) "
                              "except the 5 units moving to bag_confirmed? [y/N] ")
    assert run.code == 0 and stats(server)["requests"] == 0


def test_a_whole_shipment_cancellation_is_asked_about(sandbox):
    sandbox()
    run = on_terminal("800004", "--to", "cancelled_customer", "--entity-reason", "3:Changed",
                      answer=b"n\n")
    assert run.err.startswith("Cancel every unit of shipment 800004? [y/N] ")


@pytest.mark.parametrize("flag", ["--yes", "-y"])
def test_yes_flag_asks_nothing(sandbox, flag):
    server = sandbox()
    run = on_terminal(*PARTIAL_CANCEL, flag)
    assert run.code == 0, run.err
    assert "[y/N]" not in run.err and stats(server)["fynd"]["transitions"] == {"800001": 1}


def test_a_dry_run_asks_nothing(sandbox):
    server = sandbox()
    run = on_terminal(*PARTIAL_CANCEL, "--dry-run")
    assert run.code == 0 and "[y/N]" not in run.err
    assert run.out.startswith("PUT ") and stats(server)["requests"] == 0


def test_a_move_that_cancels_nothing_asks_nothing(sandbox):
    server = sandbox()
    run = on_terminal("800005", "--to", "bag_confirmed", "--line", "1:5",
                      "--exclude-next-state", "null")
    assert run.code == 0 and "[y/N]" not in run.err
    assert stats(server)["fynd"]["transitions"] == {"800005": 1}


def test_declining_with_json_output_still_prints_a_document(sandbox):
    import json

    sandbox()
    run = on_terminal(*PARTIAL_CANCEL, "-o", "json", answer=b"n\n")
    document = json.loads(run.out)
    assert document["sent"] is False and document["declined"] is True
    assert document["shipments"] == [] and document["exit_code"] == 0 and run.code == 0


# -- without a terminal, never a question -------------------------------------------------------
def test_a_pipe_is_never_asked(sandbox, shipctl_proc):
    server = sandbox()
    result = shipctl_proc("fynd", "transition", *PARTIAL_CANCEL, input="n\n")
    assert result.code == 0, result.err
    assert "[y/N]" not in result.err and result.out.startswith("800001  ok  5 → ")
    assert stats(server)["fynd"]["transitions"] == {"800001": 1}


def test_in_process_without_a_terminal_is_never_asked(cli, sandbox):
    server = sandbox()
    result = cli("fynd", "transition", *PARTIAL_CANCEL, input="n\n")
    assert result.code == 0 and "[y/N]" not in result.err
    assert stats(server)["fynd"]["transitions"] == {"800001": 1}


# -- the question, for each kind of move --------------------------------------------------------
def question(*args: str) -> str | None:
    from shipctl.fynd.flags import build, parse_exclude_next_state
    from shipctl.fynd.move import Move

    words = list(args)
    ids = []
    options: dict = {"lines": []}
    while words:
        word = words.pop(0)
        if word == "--to":
            options["to"] = words.pop(0)
        elif word == "--line":
            options["lines"].append(words.pop(0))
        elif word == "--exclude-next-state":
            options["exclude_next_state"] = parse_exclude_next_state(words.pop(0))
        else:
            ids.append(word)
    return Move.of(build(ids, **options)).question()


@pytest.mark.parametrize(("args", "expected"), [
    ("1 --to bag_not_confirmed --line 1:1", "Cancel 1 unit of shipment 1? [y/N] "),
    ("1 --to cancelled_fynd --line 1:5 --line 2:3 --exclude-next-state null",
     "Cancel 8 units (lines 1:5, 2:3) of shipment 1? [y/N] "),
    ("1 2 3 4 --to cancelled_customer",
     "Cancel every unit of each of 4 shipments (1, 2, 3, …)? [y/N] "),
    ("1 --to cancelled_customer --line 1:5 --exclude-next-state bag_not_confirmed",
     "Cancel every unit of shipment 1? [y/N] "),
    ("1 --to bag_confirmed --line 1:5 --exclude-next-state cancelled_fynd",
     "Cancel every unit of shipment 1 except the 5 units moving to bag_confirmed? [y/N] "),
    ("1 --to cancelled_seller_custom", "Cancel every unit of shipment 1? [y/N] "),  # --force
    ("1 --to bag_confirmed --exclude-next-state bag_not_confirmed", None),  # no rest
    ("1 --to bag_confirmed --line 1:5 --exclude-next-state bag_packed", None),
    ("1 --to bag_confirmed --line 1:5", None),
    ("1 --to delivery_done", None),
])
def test_the_question_names_what_is_cancelled(args, expected):
    assert question(*args.split()) == expected
