"""What `fynd transition` and `fynd reasons` refuse before sending anything: what Fynd would
refuse, or what cannot mean what the user meant. Each is exit 2, one message naming the flag,
and no request reaches the sandbox."""

from __future__ import annotations

import json

import pytest
import requests


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


def transition(cli, *args):
    return cli("fynd", "transition", *args)


def refused(cli, server, *args) -> str:
    """The last error line of a refused command line, after checking nothing was sent."""
    result = transition(cli, *args)
    assert result.code == 2, result.all
    assert "Traceback" not in result.all
    assert "hint: nothing was sent" in result.err
    assert stats(server)["requests"] == 0
    return [line for line in result.err.splitlines() if line.startswith("error: ")][-1]


# -- a line given twice ------------------------------------------------------------------------
def test_a_line_given_twice_is_refused_and_nothing_moves(cli, sandbox):
    server = sandbox()
    error = refused(cli, server, "800001", "--to", "bag_not_confirmed", "--line", "1:5",
                    "--line", "1:3", "--reason", "1:PNA", "--exclude-next-state", "null")
    assert error == ("error: --line 1:3: line 1 given twice (--line 1:5 too): Fynd would move "
                     "both quantities; give each line once, with all its units")
    assert stats(server)["fynd"]["bags"] == {}


def test_each_line_once_is_sent(cli, sandbox):
    server = sandbox()
    result = transition(cli, "800001", "--to", "bag_confirmed", "--line", "1:5", "--line", "2:3",
                        "--exclude-next-state", "null")
    assert result.code == 0, result.err
    assert stats(server)["fynd"]["bags"]["800001"] == {
        "1": {"bag_confirmed": 5, "placed": 5}, "2": {"bag_confirmed": 3, "placed": 7}}


def test_the_same_line_written_differently_is_still_twice(cli, sandbox):
    server = sandbox()
    error = refused(cli, server, "8", "--to", "bag_confirmed", "--line", "1:5", "--line",
                    "2:1", "--line", " 01 : 5")
    assert error.startswith("error: --line  01 : 5: line 1 given twice (--line 1:5 too)")


def test_every_refusal_is_listed_before_exiting(cli, sandbox):
    server = sandbox()
    result = transition(cli, "8", "--to", "bag_confirmed", "--line", "1:5", "--line", "1:3",
                        "--awb", "")
    assert result.code == 2 and stats(server)["requests"] == 0
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert [e.split(":")[1] for e in errors] == [" --line 1", " --awb"]


# -- one key, two values ------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["products.store_invoice_id=INV-2",
                                  "entities.store_invoice_id=INV-2"])
def test_invoice_id_and_a_different_data_invoice_id_are_refused(cli, sandbox, data):
    server = sandbox()
    error = refused(cli, server, "8", "--to", "bag_invoiced", "--invoice-id", "INV-1",
                    "--data", data)
    target = data.partition(".")[0]
    assert error == (f"error: --data {data}: {target}.store_invoice_id is also set by "
                     "--invoice-id INV-1, to another value; give each key one value")


def test_invoice_id_and_the_same_data_invoice_id_are_one_value(cli):
    result = transition(cli, "8", "--to", "bag_invoiced", "--invoice-id", "INV-1",
                        "--data", "products.store_invoice_id=INV-1", "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    updates = json.loads(result.out)["body"]["statuses"][0]["shipments"][0]["data_updates"]
    assert updates["products"] == [{"filters": [{}], "data": {"store_invoice_id": "INV-1"}}]


def test_awb_and_a_different_data_awb_are_refused(cli, sandbox):
    server = sandbox()
    error = refused(cli, server, "8", "--to", "bag_packed", "--awb", "AWB1",
                    "--data", "entities.delivery_awb_number=AWB2")
    assert "entities.delivery_awb_number is also set by --awb AWB1" in error


def test_two_data_values_for_one_key_are_refused(cli, sandbox):
    server = sandbox()
    error = refused(cli, server, "8", "--to", "bag_packed", "--data", "order.meta.b=2",
                    "--data", 'order.meta:={"a": 1}')
    assert error == ('error: --data order.meta:={"a": 1}: replaces order.meta, which holds '
                     "order.meta.b from --data order.meta.b=2; give each key one value")


def test_data_adding_to_an_object_given_earlier_is_not_a_clash(cli):
    result = transition(cli, "8", "--to", "bag_packed", "--data", 'order.meta:={"a": 1}',
                        "--data", "order.meta.b:=2", "--data", "order.meta.a:=1",
                        "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    updates = json.loads(result.out)["body"]["statuses"][0]["shipments"][0]["data_updates"]
    assert updates == {"order": [{"data": {"meta": {"a": 1, "b": 2}}}]}


def test_a_flag_may_fill_in_a_data_file(cli, tmp_path):
    # the file is a template: a flag's value replaces the file's, as documented
    path = tmp_path / "updates.json"
    path.write_text('{"products": [{"filters": [{}], "data": {"store_invoice_id": "TODO"}}]}')
    result = transition(cli, "8", "--to", "bag_invoiced", "--data-file", path,
                        "--invoice-id", "INV-7", "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    updates = json.loads(result.out)["body"]["statuses"][0]["shipments"][0]["data_updates"]
    assert updates["products"][0]["data"] == {"store_invoice_id": "INV-7"}


# -- empty values -------------------------------------------------------------------------------
@pytest.mark.parametrize(("flag", "key"), [("--awb", "delivery_awb_number"),
                                           ("--invoice-id", "store_invoice_id")])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_awb_or_invoice_id_is_refused(cli, sandbox, flag, key, value):
    server = sandbox()
    error = refused(cli, server, "8", "--to", "bag_packed", flag, value)
    assert error.startswith(f"error: {flag}: must not be empty")
    assert f"--data products.{key}=" in error  # how to send "" on purpose


# -- order and order_item_status carry no filters ------------------------------------------------
def test_data_on_order_and_order_item_status_adds_no_filters(cli, sandbox):
    server = sandbox()
    args = ["8", "--to", "bag_confirmed", "--data", "order.meta.priority:=1",
            "--data", "order_item_status.meta.note=fragile", "--data", "products.x=1"]
    preview = transition(cli, *args, "--dry-run", "-o", "json")
    updates = json.loads(preview.out)["body"]["statuses"][0]["shipments"][0]["data_updates"]
    assert json.dumps(updates) == json.dumps({
        "products": [{"filters": [{}], "data": {"x": "1"}}],
        "order_item_status": [{"data": {"meta": {"note": "fragile"}}}],
        "order": [{"data": {"meta": {"priority": 1}}}],
    })
    sent = transition(cli, *args)
    assert sent.code == 0, sent.err  # the sandbox (and the request model) take them as they are
    assert stats(server)["fynd"]["transitions"] == {"8": 1}


# -- fynd reasons --state ---------------------------------------------------------------------
def test_reasons_refuses_an_unknown_state_with_a_suggestion(cli, sandbox):
    server = sandbox()
    result = cli("fynd", "reasons", "8", "--bag", "1", "--state", "bag_not_confimed")
    assert result.code == 2
    assert result.err == ("error: --state bag_not_confimed: unknown state (did you mean "
                          "bag_not_confirmed?)\n"
                          "hint: `shipctl fynd states` lists them; nothing was sent\n")
    assert stats(server)["requests"] == 0


def test_reasons_refuses_an_unknown_state_without_config(cli):
    # offline, before settings are read: the state is wrong whatever the profile
    result = cli("fynd", "reasons", "8", "--bag", "1", "--state", "\x1b[2Jzzz")
    assert result.code == 2
    assert result.err.startswith("error: --state \\u001b[2Jzzz: unknown state\n")


def test_reasons_takes_a_known_state(cli, sandbox):
    server = sandbox()
    result = cli("fynd", "reasons", "8", "--bag", "1", "--state", "cancelled_customer")
    assert result.code == 0, result.err
    assert stats(server)["requests"] >= 1
