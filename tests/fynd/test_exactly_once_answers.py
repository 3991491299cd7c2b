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
