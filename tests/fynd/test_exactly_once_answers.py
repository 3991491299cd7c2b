"""Fynd exactly once, the answers shipctl cannot read: a 2xx answer that accounts for none of
the shipments sent (an empty ``statuses``, a gateway's HTML page with 200) says the request
arrived, and Fynd may have applied it. It is read back, never taken as a failure that a re-run
would send again. Black-box through the proxy of ``test_exactly_once``."""

from __future__ import annotations

import json

import pytest

from fynd.test_exactly_once import apply, fynd_state, line_units, partial, proxied, write

__all__ = ["proxied"]  # the fixture, imported for the tests below


@pytest.mark.timeout(120)
def test_an_answer_that_lists_no_shipment_is_verified_and_a_rerun_sends_nothing_twice(
        cli, proxied, tmp_path):
    server, proxy = proxied
    proxy.drop_from_answer = {"800031"}  # 200 {"statuses": [{"shipments": []}]}: applied
    journal = tmp_path / "fynd.db"
    path = write(tmp_path, partial("800031"))
    first = apply(cli, path, "--journal", journal, "-o", "json")
    proxy.drop_from_answer = set()
    second = apply(cli, path, "--journal", journal)
    # moved once: 5 units, not 10
    assert line_units(server, "800031") == {"bag_confirmed": 5, "placed": 5}
    assert fynd_state(server)["transitions"] == {"800031": 1} and proxy.puts == 1
    assert first.code == 0, first.err
    assert json.loads(first.out)["results"][0]["status"] == "succeeded"
    assert second.code == 0, second.err


@pytest.mark.timeout(120)
def test_fynd_transition_verifies_an_answer_that_lists_no_shipment(cli, proxied):
    server, proxy = proxied
    proxy.drop_from_answer = {"800032"}
    result = cli("fynd", "transition", "800032", "--to", "bag_confirmed", "--line", "1:5",
                 "--exclude-next-state", "null", "--timeout", "1", "-o", "json")
    assert result.code == 0, result.all
    assert json.loads(result.out)["status"] == "succeeded"
    assert proxy.puts == 1 and fynd_state(server)["transitions"] == {"800032": 1}


@pytest.mark.parametrize("body", [b'{"statuses": []}', b"<html><title>OK</title></html>",
                                  b"", b'{"success": true}'])
def test_a_2xx_answer_naming_no_shipment_is_unknown_for_every_shipment(body):
    from shipctl import batch
    from shipctl.fynd.apply import outcome

    job = batch.Job(id="b", keys=("1", "2"), parts={"b/1": "1", "b/2": "2"})
    result = outcome(200, body, job)
    assert result.unknown and not result.ok
    assert {p.status for p in result.parts.values()} == {batch.UNKNOWN}
    assert "Fynd may have applied them" in result.message


def test_a_2xx_answer_that_says_it_failed_stays_failed():
    from shipctl import batch
    from shipctl.fynd.apply import outcome

    job = batch.Job(id="b", keys=("1",), parts={"b/1": "1"})
    result = outcome(200, b'{"success": false, "message": "Company not found"}', job)
    assert not result.ok and not result.unknown


class _StaleReads:
    """Shipment-details reads of the shipments in ``proxy.stale`` answered with the first
    read of each (Fynd's reads may trail its writes): the shipment as it was before."""

    def __init__(self, proxy) -> None:
        from fynd.test_exactly_once import _ProxyHandler

        cache: dict[str, tuple[int, bytes]] = {}
        proxy.stale = set()

        class Handler(_ProxyHandler):
            def _answer(self, status: int, content: bytes) -> None:
                if self.command == "GET" and "shipment-details" in self.path:
                    shipment = self.path.rsplit("shipment_id=", 1)[-1]
                    first = cache.setdefault(shipment, (status, content))
                    if shipment in proxy.stale:
                        status, content = first
                super()._answer(status, content)

        proxy.RequestHandlerClass = Handler


@pytest.mark.timeout(120)
def test_a_shipment_fynd_answered_for_is_not_read_back_nor_sent_again(cli, proxied, tmp_path):
    """A body of two partial moves whose answer leaves out 800042: only 800042 is read back.
    800041 was answered ok; even when a read of it trails Fynd's write (it shows nothing
    moved), it is not sent again."""
    server, proxy = proxied
    _StaleReads(proxy)
    assert cli("fynd", "show", "800041").code == 0  # the first read: before the move
    proxy.stale = {"800041"}
    proxy.drop_from_answer = {"800042"}
    body = {"statuses": [{"status": "bag_confirmed", "exclude_bags_next_state": None,
                          "shipments": [
                              {"identifier": "800041",
                               "products": [{"line_number": 1, "quantity": 5}]},
                              {"identifier": "800042",
                               "products": [{"line_number": 1, "quantity": 5}]}]}]}
    result = apply(cli, write(tmp_path, body), "-o", "json")
    assert line_units(server, "800041") == {"bag_confirmed": 5, "placed": 5}
    assert fynd_state(server)["transitions"] == {"800041": 1, "800042": 1}
    assert proxy.puts == 1
    assert result.code == 0, result.err
    assert json.loads(result.out)["results"][0]["status"] == "succeeded"


@pytest.mark.timeout(120)
def test_a_shipment_verified_applied_stays_succeeded_when_another_cannot_tell(cli, proxied,
                                                                              tmp_path):
    """Both shipments left out of the answer; 800051 reads back applied, 800052 (a partial
    cancellation read before it showed) cannot tell. 800051 is journaled succeeded, so even
    --resend-unknown sends only 800052 again."""
    import sqlite3

    server, proxy = proxied
    _StaleReads(proxy)
    assert cli("fynd", "show", "800052").code == 0
    proxy.stale = {"800052"}
    proxy.drop_from_answer = {"800051", "800052"}
    body = {"statuses": [
        {"status": "bag_confirmed", "exclude_bags_next_state": None, "shipments": [
            {"identifier": "800051", "products": [{"line_number": 1, "quantity": 5}]}]},
        {"status": "bag_not_confirmed", "exclude_bags_next_state": None, "shipments": [
            {"identifier": "800052", "products": [{"line_number": 1, "quantity": 5}],
             "reasons": {"products": [{"filters": [{"line_number": 1, "quantity": 5}],
                                       "data": {"reason_id": 1,
                                                "reason_text": "Product Not Available"}}]}}]}]}
    journal = tmp_path / "fynd.db"
    path = write(tmp_path, body)
    first = apply(cli, path, "--journal", journal)
    assert first.code == 1
    with sqlite3.connect(journal) as conn:
        rows = dict(conn.execute("SELECT key, status FROM items WHERE id LIKE '%/%'"))
    assert rows == {"800051": "succeeded", "800052": "unknown"}
    proxy.drop_from_answer = set()
    apply(cli, path, "--journal", journal, "--resend-unknown")
    assert line_units(server, "800051") == {"bag_confirmed": 5, "placed": 5}
    assert fynd_state(server)["transitions"]["800051"] == 1


@pytest.mark.timeout(60)
def test_ctrl_c_while_a_transition_waits_for_its_answer_says_it_may_have_been_applied(
        proxied):
    """Ctrl-C on a `fynd transition` that hangs (a natural thing to do) comes after the
    request went out: it says Fynd may have applied it, and to look before sending it again,
    so that the user does not just run it again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this test run, and so in its children")
    server, proxy = proxied
    proxy.stall_puts = 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipctl", "fynd", "transition", "800061", "--to",
         "bag_confirmed", "--timeout", "30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while proxy.puts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    err_text = err.decode()
    assert proc.returncode == 130, err_text
    assert fynd_state(server)["transitions"] == {"800061": 1}
    assert "Fynd may have applied it" in err_text, err_text
    assert "fynd show 800061" in err_text
    assert "Traceback" not in err_text


@pytest.mark.parametrize("failed_first", [True, False])
def test_a_shipment_answered_twice_with_one_failure_is_failed_not_succeeded(failed_first):
    """Its part is journaled failed: a re-run must not take the body as already done."""
    from shipctl import batch
    from shipctl.fynd.apply import outcome

    entries = [{"identifier": "1", "status": 400,
                "message": "Invalid State Transition bag_confirmed detected"},
               {"identifier": "1", "status": 200,
                "final_state": {"bag_confirmed": "bag_confirmed"}}]
    answer = {"statuses": [{"shipments": entries if failed_first else entries[::-1]}]}
    job = batch.Job(id="b", keys=("1",), parts={"b/1": "1"})
    result = outcome(200, json.dumps(answer).encode(), job)
    assert not result.ok
    assert result.parts["b/1"].status == batch.FAILED


@pytest.mark.timeout(90)
def test_a_run_killed_while_a_transition_is_in_flight_leaves_it_to_be_verified(
        cli, proxied, tmp_path):
    """kill -9 (the OOM killer, a power cut) while a transition waits for its answer: the
    journal already says it was sent, so the re-run reads it back and does not move the
    units a second time."""
    import os
    import subprocess
    import sys
    import time

    server, proxy = proxied
    proxy.stall_puts = 1
    journal = tmp_path / "fynd.db"
    path = write(tmp_path, partial("800071"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipctl", "fynd", "apply", path, "--journal", str(journal),
         "--timeout", "30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        while fynd_state(server)["transitions"] != {"800071": 1}:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    again = apply(cli, path, "--journal", journal)
    assert line_units(server, "800071") == {"bag_confirmed": 5, "placed": 5}
    assert fynd_state(server)["transitions"] == {"800071": 1} and proxy.puts == 1
    assert again.code == 0, again.err
    assert "applied in an earlier run (verified" in again.err
