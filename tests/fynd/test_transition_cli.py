"""`shipctl fynd transition` end to end against the sandbox on 127.0.0.1 (docs/fynd.md)."""

from __future__ import annotations

import json

import pytest
import requests
from factories import fynd_sample

from . import same

EXAMPLE_4 = ["12345383008471878029", "--to", "bag_confirmed", "--line", "1:5", "--line", "2:10",
             "--reason", "1:Product Not Available@1:3,2:4",
             "--reason", "2:Defective Product@1:2,2:1",
             "--exclude-next-state", "bag_not_confirmed"]


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


def transition(cli, *args):
    return cli("fynd", "transition", *args)


def test_confirm_invoice_pack(cli, sandbox):
    server = sandbox()
    confirmed = transition(cli, "SHP-1", "SHP-2", "--to", "bag_confirmed")
    assert confirmed.code == 0, confirmed.err
    assert confirmed.out.splitlines() == ["SHP-1  ok  bag_confirmed", "SHP-2  ok  bag_confirmed"]
    invoiced = transition(cli, "SHP-1", "--to", "bag_invoiced", "--invoice-id", "INV-1",
                          "--exclude-next-state", "null")
    assert invoiced.code == 0, invoiced.err
    assert invoiced.out == "SHP-1  ok  bag_invoiced → dp_assigned\n"  # the system moved on
    packed = transition(cli, "SHP-1", "--to", "bag_packed")
    assert packed.code == 0 and packed.out == "SHP-1  ok  bag_packed\n"
    fynd = stats(server)["fynd"]
    assert fynd["transitions"] == {"SHP-1": 3, "SHP-2": 1}
    assert fynd["bags"]["SHP-1"] == {"1": {"bag_packed": 10}, "2": {"bag_packed": 10}}
    assert fynd["tokens_issued"] == 1  # one token, cached for the later commands


def test_an_invalid_transition_inside_http_200_exits_1(cli, sandbox):
    sandbox()
    result = transition(cli, "SHP-9", "--to", "bag_packed")
    assert result.code == 1
    assert result.out == ("SHP-9  FAILED  Invalid State Transition bag_packed detected for given"
                          " entity (ValidationError, status 400)\n")
    assert "1 of 1 shipment(s) failed" in result.err


def test_json_keeps_the_servers_fields(cli, sandbox):
    sandbox()
    transition(cli, "SHP-5", "--to", "bag_confirmed")
    result = transition(cli, "SHP-5", "SHP-6", "--to", "bag_invoiced", "-o", "json")
    assert result.code == 1  # SHP-6 was never confirmed
    document = json.loads(result.out)
    assert document["http_status"] == 200 and document["exit_code"] == 1
    assert document["ok"] is False and document["error"] is None
    first, second = document["shipments"]
    assert first["result"] == "ok" and first["reached"] == ["dp_assigned"]
    assert first["response"]["final_state"] == {"bag_invoiced": "dp_assigned",
                                                "shipment_id": "SHP-5"}
    assert second["result"] == "failed" and second["response"]["status"] == 400
    assert second["response"]["exception"] == "ValidationError"


def test_partial_confirmation_splits_the_quantities(cli, sandbox):
    server = sandbox()
    result = transition(cli, *EXAMPLE_4)
    assert result.code == 0, result.err
    # both sides: the units the request names, and where the shipment's other units went
    assert result.out == ("12345383008471878029  ok  15 (lines 1:5, 2:10) → bag_confirmed, "
                          "the rest → bag_not_confirmed\n")
    assert stats(server)["fynd"]["bags"]["12345383008471878029"] == {
        "1": {"bag_confirmed": 5, "bag_not_confirmed": 5}, "2": {"bag_confirmed": 10}}


@pytest.mark.parametrize(("extra", "shown"), [
    (["--exclude-next-state", "bag_not_confirmed", "--reason", "1:PNA"],
     "5 → bag_confirmed, the rest → bag_not_confirmed"),
    (["--exclude-next-state", "null"], "5 → bag_confirmed, the rest stay"),
    (["--exclude-next-state", ""], "5 → bag_confirmed, the rest stay"),
    ([], "5 → bag_confirmed"),  # the key not sent: shipctl does not guess what Fynd does
])
def test_a_partial_move_prints_both_sides(cli, sandbox, extra, shown):
    sandbox()
    result = transition(cli, "800001", "--to", "bag_confirmed", "--line", "1:5", *extra)
    assert result.code == 0, result.err
    assert result.out == f"800001  ok  {shown}\n"


def test_a_partial_move_that_moves_on_shows_where_it_went(cli, sandbox):
    sandbox()
    assert transition(cli, "P1", "P2", "--to", "bag_confirmed").code == 0
    result = transition(cli, "P1", "P2", "--to", "bag_invoiced", "--line", "1:1",
                        "--exclude-next-state", "null")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["P1  ok  1 → bag_invoiced → dp_assigned, the rest stay",
                                       "P2  ok  1 → bag_invoiced → dp_assigned, the rest stay"]


def test_a_failed_partial_move_claims_no_units(cli, sandbox):
    sandbox()
    result = transition(cli, "800009", "--to", "bag_packed", "--line", "1:5",
                        "--exclude-next-state", "null")
    assert result.code == 1
    assert result.out == ("800009  FAILED  Invalid State Transition bag_packed detected for "
                          "given entity (ValidationError, status 400)\n")


def test_example_4_dry_run_json_is_the_documented_request(cli, sandbox):
    server = sandbox()
    result = transition(cli, *EXAMPLE_4, "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["method"] == "PUT"
    assert document["url"] == (server.base_url + "/fynd/service/platform/order-manage/v1.0/"
                               "company/1/shipment/status-internal")
    assert json.dumps(document["body"]) == json.dumps(fynd_sample(4))  # values and key order
    assert document["headers"]["Authorization"] == "Bearer ********"
    assert stats(server)["requests"] == 0  # no token fetched, nothing sent


def test_dry_run_needs_no_credentials(cli):
    result = transition(cli, "1", "--to", "bag_confirmed", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.startswith("PUT /service/platform/order-manage/v1.0/company/COMPANY_ID/"
                                 "shipment/status-internal HTTP/1.1\nHost: api.fynd.com\n")
    assert "Authorization: Bearer ********" in result.out
    assert "fynd.company_id is not set" in result.err


@pytest.mark.parametrize(("flag", "value", "shown"), [
    (None, None, "absent"), ("--exclude-next-state", "null", None),
    ("--exclude-next-state", "", ""), ("--exclude-next-state", "bag_not_confirmed",
                                       "bag_not_confirmed")])
def test_null_empty_and_absent_from_the_command_line(cli, flag, value, shown):
    extra = [flag, value] if flag else []
    result = transition(cli, "1", "--to", "bag_confirmed", *extra, "--dry-run", "-o", "json")
    entry = json.loads(result.out)["body"]["statuses"][0]
    if shown == "absent":
        assert "exclude_bags_next_state" not in entry
    else:
        assert entry["exclude_bags_next_state"] == shown


def test_example_6_from_a_data_file(cli, tmp_path):
    updates = fynd_sample(6)["statuses"][0]["shipments"][0]["data_updates"]
    path = tmp_path / "dp.yaml"
    path.write_text(json.dumps(updates))
    result = transition(cli, "17564650712821463339", "--to", "bag_packed",
                        "--exclude-next-state", "", "--data-file", path, "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    assert same(json.loads(result.out)["body"], fynd_sample(6))


def test_data_and_switches_reach_the_body(cli):
    result = transition(cli, "1", "--to", "bag_packed", "--awb", "AWB1",
                        "--data", "order.meta.priority:=1", "--data", "entities.note=x",
                        "--comment", "Packed:at 5pm", "--force-transition", "--task",
                        "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    body = json.loads(result.out)["body"]
    shipment = body["statuses"][0]["shipments"][0]
    assert shipment["data_updates"]["order"] == [{"data": {"meta": {"priority": 1}}}]
    assert shipment["data_updates"]["entities"][0]["data"] == {"delivery_awb_number": "AWB1",
                                                               "note": "x"}
    assert shipment["transition_comments"] == [{"title": "Packed", "message": "at 5pm"}]
    assert [k for k in body if k != "statuses"] == ["force_transition", "task"]


# -- usage errors: exit 2, the flag named, nothing sent ----------------------------------------
@pytest.mark.parametrize(("args", "expected"), [
    (["--line", "one:five"], "--line one:five: expected LINE:QTY"),
    (["--line", "1:0"], "--line 1:0: expected LINE:QTY with positive integers"),
    (["--reason", "3"], "--reason 3: expected ID:TEXT[@LINE:QTY[,LINE:QTY…]]"),
    (["--reason", "1:x@1:a"], "--reason 1:x@1:a: expected ID:TEXT"),
    (["--entity-reason", "why"], "--entity-reason why: expected ID:TEXT"),
    (["--comment", "no colon"], "--comment no colon: expected TITLE:MESSAGE"),
    (["--data", "nowhere=1"], "--data nowhere=1: expected TARGET.PATH=TEXT"),
    (["--data", "order.x:={bad"], "--data order.x:={bad: expected TARGET.PATH=TEXT"),
])
def test_a_malformed_flag_value_is_a_usage_error(cli, sandbox, args, expected):
    server = sandbox()
    result = transition(cli, "1", "--to", "bag_confirmed", *args)
    assert result.code == 2
    assert f"error: {expected}" in result.err
    assert "Traceback" not in result.all
    assert stats(server)["requests"] == 0


def test_missing_to_is_a_usage_error(cli):
    result = transition(cli, "1")
    assert result.code == 2 and "--to" in result.err


def test_an_unknown_state_needs_force(cli, sandbox):
    server = sandbox()
    result = transition(cli, "1", "--to", "bag_confirmd")
    assert result.code == 2
    assert 'error: --to: unknown state "bag_confirmd" (did you mean bag_confirmed?)' in result.err
    assert "--force" in result.err and stats(server)["requests"] == 0
    forced = transition(cli, "1", "--to", "custom_state", "--force")
    assert forced.code == 1  # sent; the sandbox's map does not know it either
    assert "Invalid State Transition custom_state" in forced.out


def test_a_cancellation_needs_a_reason(cli, sandbox):
    server = sandbox()
    result = transition(cli, "1", "--to", "cancelled_customer")
    assert result.code == 2
    assert "cancelled_customer is a cancellation and needs a reason" in result.err
    assert stats(server)["requests"] == 0
    ok = transition(cli, "1", "--to", "cancelled_customer", "--entity-reason", "3:Changed mind")
    assert ok.code == 0, ok.err


def test_a_reason_on_a_line_not_moved_is_a_warning(cli, sandbox):
    sandbox()
    result = transition(cli, "1", "--to", "bag_confirmed", "--line", "1:5",
                        "--reason", "1:Product Not Available@2:1",
                        "--exclude-next-state", "bag_not_confirmed")
    assert result.code == 0, result.err
    assert "warning: " in result.err and "line 2 is not among this shipment's products" in (
        result.err)


def test_wrong_credentials_exit_2_with_one_token_request(cli, sandbox, monkeypatch):
    server = sandbox()
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "not-the-secret")
    result = transition(cli, "1", "--to", "bag_confirmed")
    assert result.code == 2
    assert "check fynd.client_id / fynd.client_secret" in result.err
    assert "not-the-secret" not in result.all
    fynd = stats(server)["fynd"]
    assert fynd["unauthorized"] == 1 and fynd["tokens_issued"] == 0
    assert stats(server)["requests"] == 1 and fynd["transitions"] == {}


def test_a_revoked_cached_token_is_renewed_once(cli, sandbox):
    server = sandbox()
    assert transition(cli, "R1", "--to", "bag_confirmed").code == 0
    (simulator,) = [s for s in server.simulators if s.name == "fynd"]
    simulator.revoke_tokens()  # the cached token is now refused: 401, renew, resend
    result = transition(cli, "R1", "--to", "bag_invoiced")
    assert result.code == 0, result.err
    fynd = stats(server)["fynd"]
    assert fynd["tokens_issued"] == 2 and fynd["unauthorized"] == 1
    assert fynd["transitions"] == {"R1": 2}


def test_unreachable_api_exits_1_in_one_line(cli, monkeypatch):
    import shipctl.http

    monkeypatch.setattr(shipctl.http, "sleep", lambda seconds: None)
    for key, value in {"URL": "http://127.0.0.1:9", "COMPANY_ID": "1", "CLIENT_ID": "c",
                       "CLIENT_SECRET": "unreachable-secret"}.items():
        monkeypatch.setenv(f"SHIPCTL_FYND_{key}", value)
    result = transition(cli, "1", "--to", "bag_confirmed", "--retries", "0")
    assert result.code == 1
    assert result.err.startswith("error: no Fynd access token: ")
    assert "Traceback" not in result.all


def test_the_embedded_sandbox_leaves_no_token_in_the_users_cache(cli):
    from shipctl.fynd.token_cache import cache_dir

    # each --sandbox run has its own simulator on a new port: a cached token is of no use later
    for _ in range(2):
        result = cli("--sandbox", "fynd", "transition", "E1", "--to", "bag_confirmed")
        assert result.code == 0, result.err
        assert cli("--sandbox", "fynd", "auth").code == 0
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_a_sandbox_given_by_url_keeps_its_token_across_runs(cli, sandbox):
    from shipctl.fynd.token_cache import cache_dir

    server = sandbox()
    for shipment in ("U1", "U2"):
        assert transition(cli, shipment, "--to", "bag_confirmed").code == 0
    assert len(list(cache_dir().iterdir())) == 1
    assert stats(server)["fynd"]["tokens_issued"] == 1


def test_a_data_file_problem_names_the_file_line_and_field(cli, tmp_path):
    path = tmp_path / "dp.yaml"
    path.write_text("entities:\n  - filters: [{}]\n    data: {a: 1}\n"
                    "order_item_status:\n  - filters: [{}]\n    dta: {}\n")
    result = transition(cli, "A", "B", "--to", "dp_assigned", "--data-file", path, "--dry-run")
    assert result.code == 2
    # once, though both shipments carry it, and where the user wrote it, not in the built body
    assert result.err.count("dta") == 1, result.err
    assert f"error: --data-file {path}:6 item 1 order_item_status.0.dta: unknown key (did you " \
           "mean data?)" in result.err
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text('{\n "data_updates": {\n  "entities": "x"\n }\n}\n')
    result = transition(cli, "A", "--to", "dp_assigned", "--data-file", wrapped, "--dry-run")
    assert result.code == 2
    assert (f"error: --data-file {wrapped}:3 item 1 data_updates.entities: expected a list, "
            "got text") in result.err


def test_a_missing_data_file_names_the_flag(cli, tmp_path):
    result = transition(cli, "A", "--to", "dp_assigned", "--data-file", tmp_path / "no.yaml")
    assert result.code == 2
    assert result.err.startswith(f"error: --data-file {tmp_path / 'no.yaml'}: ")


def test_a_reason_warning_names_the_reason_flag_once_for_all_shipments(cli):
    result = transition(cli, "A", "B", "--to", "bag_not_confirmed", "--line", "1:5",
                        "--reason", "1:Gone@1:2,3:1", "--dry-run")
    assert result.code == 0, result.err
    assert result.err.splitlines()[0] == (
        "warning: --reason 1:Gone@1:2,3:1: line 3 is not among this shipment's products "
        "(lines 1): the reason may apply to nothing")
    assert result.err.count("line 3 is not among") == 1


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_the_documented_examples_from_the_real_command_line(cli, number, tmp_path):
    # the flag lines of test_flags, through typer and the command itself (not a re-parse)
    import shlex

    from . import EXAMPLE_4_GAP, EXAMPLE_4_MENDED, pasted_examples, read_leniently
    from .test_flags import FLAG_LINES

    words = [w for w in shlex.split(FLAG_LINES[number]) if w not in ("--dry-run", "-o", "json")]
    result = transition(cli, *words, "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    body = json.loads(result.out)["body"]
    assert json.dumps(body) == json.dumps(fynd_sample(number))  # values, types and key order
    docs = pasted_examples()[number].replace(EXAMPLE_4_GAP, EXAMPLE_4_MENDED)
    assert same(body, read_leniently(docs, tmp_path))  # and the docs as pasted


def test_a_refused_renewal_after_a_401_says_the_credentials_are_wrong(cli, sandbox,
                                                                      monkeypatch):
    server = sandbox()
    assert transition(cli, "X1", "--to", "bag_confirmed").code == 0  # a token is cached
    (simulator,) = [s for s in server.simulators if s.name == "fynd"]
    simulator.revoke_tokens()
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "rotated-away-secret")
    result = transition(cli, "X1", "--to", "bag_invoiced")
    assert result.code == 2
    assert result.err.startswith("error: Fynd refused the client credentials of profile "
                                 "'default' (HTTP 401: invalid client credentials): check "
                                 "fynd.client_id / fynd.client_secret")
    assert stats(server)["fynd"]["transitions"] == {"X1": 1}
