"""What a Fynd answer means (docs/fynd.md, Responses), and the exact requests `fynd
transition` sends, with `responses`: the body, the bearer token, one refresh on a 401."""

from __future__ import annotations

import json

import pytest
import responses
from factories import fynd_sample
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.fynd import client

BASE = "https://fynd.test"
STATUS_URL = client.status_url(BASE, "7")
TOKEN_URL = client.token_url(BASE, "7")
SECRET = "s3cret-Client-Value"
# the failed entry inside a 200 that docs/fynd.md quotes
REFUSED = {"status": 400, "message": "Invalid State Transition bag_confirmed detected for given "
           "entity", "code": "", "exception": "ValidationError", "stack_trace": "", "meta": {},
           "identifier": "16836279770211860494"}
INVOICED = {"status": 200, "final_state": {"bag_invoiced": "dp_assigned",
                                           "shipment_id": "12345634657861443427"},
            "identifier": "12345634657861443427"}


def sdk(*shipments) -> bytes:
    return json.dumps({"statuses": [{"shipments": list(shipments)}]}).encode()


def answering(identifier: str, shipment: dict) -> dict:
    """SHIPMENT's answer, for the shipment IDENTIFIER: every shipment sent must be answered
    for (one the answer leaves out is read back, not taken as a success)."""
    return {**shipment, "identifier": identifier}


def test_endpoints():
    assert STATUS_URL == ("https://fynd.test/service/platform/order-manage/v1.0/company/7/"
                          "shipment/status-internal")
    assert TOKEN_URL == "https://fynd.test/service/panel/authentication/v1.0/company/7/oauth/token"
    assert client.reasons_url(BASE + "/", "7", "S 1", "B/2", "bag_not_confirmed") == (
        "https://fynd.test/service/platform/order/v1.0/company/7/shipments/S%201/bags/B%2F2/"
        "state/bag_not_confirmed/reasons")
    # the SDK's getShipmentById: the shipment in the query string, escaped
    assert client.details_url(BASE + "/", "7", "800001&x=1") == (
        "https://fynd.test/service/platform/order/v1.0/company/7/shipment-details"
        "?shipment_id=800001%26x%3D1")


def test_the_system_moving_on_is_shown_as_requested_and_reached():
    answer = client.parse_answer(200, sdk(INVOICED))
    assert answer.ok
    (shipment,) = answer.shipments
    assert shipment.states == "bag_invoiced → dp_assigned"
    assert shipment.line() == "12345634657861443427  ok  bag_invoiced → dp_assigned"
    record = shipment.record()
    assert record["requested"] == ["bag_invoiced"] and record["reached"] == ["dp_assigned"]
    assert record["response"] == INVOICED  # the server's fields, untouched


def test_a_failure_inside_http_200_fails_that_shipment_only():
    answer = client.parse_answer(200, sdk(INVOICED, REFUSED))
    assert not answer.ok
    assert [s.ok for s in answer.shipments] == [True, False]
    failed = answer.failed[0]
    assert failed.identifier == "16836279770211860494"
    assert failed.message == ("Invalid State Transition bag_confirmed detected for given entity"
                              " (ValidationError, status 400)")
    assert failed.line().startswith("16836279770211860494  FAILED  Invalid State Transition")
    assert answer.text().startswith("1 of 2 shipment(s) failed: 16836279770211860494: Invalid")


@pytest.mark.parametrize("entry", [
    {"status": 200, "exception": "LockError", "message": "Entity is under complete lock",
     "identifier": "A"},
    {"status": 500, "identifier": "A"},
    {"status": "404", "identifier": "A"},
    {"status": 199, "identifier": "A"},
])
def test_status_outside_2xx_or_an_exception_is_a_failure(entry):
    (shipment,) = client.parse_answer(200, sdk(entry)).shipments
    assert not shipment.ok and shipment.message


@pytest.mark.parametrize("entry, shown", [
    # status: null with Fynd's refusal text: refused, whatever the missing status suggests
    ({"status": None, "message": "Invalid State Transition bag_confirmed detected for given"
      " entity", "identifier": "A"},
     "A  FAILED  Invalid State Transition bag_confirmed detected for given entity (no status)"),
    ({"status": None, "identifier": "A", "final_state": {"bag_confirmed": "bag_confirmed"}},
     "A  FAILED  bag_confirmed  no status"),
    ({"identifier": "A", "exception": "ValidationError"},
     "A  FAILED  ValidationError, no status"),
    # a 2xx status does not make one of Fynd's documented refusals a success
    ({"status": 200, "message": "Not found bag_ids [3] against shipment_id A",
      "identifier": "A"}, "A  FAILED  Not found bag_ids [3] against shipment_id A"),
    ({"status": 200, "message": "ReasonError: Reason is missing for shipments A",
      "identifier": "A"}, "A  FAILED  ReasonError: Reason is missing for shipments A"),
    ({"status": True, "identifier": "A"}, "A  FAILED  status True"),
])
def test_a_success_needs_a_2xx_status_and_no_exception_or_error_message(entry, shown):
    answer = client.parse_answer(200, sdk(entry))
    (shipment,) = answer.shipments
    assert not answer.ok and not shipment.ok
    assert shipment.line() == shown
    assert shipment.record()["result"] == "failed"


@pytest.mark.parametrize("message", ["", "Success", "Shipment status updated", None])
def test_a_2xx_entry_with_a_plain_message_is_a_success(message):
    (shipment,) = client.parse_answer(200, sdk({**INVOICED, "message": message})).shipments
    assert shipment.ok


def test_every_transition_of_the_answer_is_walked():
    body = json.dumps({"statuses": [{"shipments": [INVOICED]}, {"shipments": [REFUSED]},
                                    {"shipments": []}]}).encode()
    answer = client.parse_answer(200, body)
    assert [s.identifier for s in answer.shipments] == ["12345634657861443427",
                                                        "16836279770211860494"]
    assert not answer.ok


def test_the_bare_per_shipment_object_of_the_documented_examples_is_read():
    bare = {"status": 200, "final_state": {"bag_not_confirmed": "bag_not_confirmed",
                                           "shipment_id": "12345648882371728210"},
            "identifier": "12345643769771400691"}
    answer = client.parse_answer(200, json.dumps(bare).encode())
    assert answer.ok and answer.shipments[0].states == "bag_not_confirmed"
    assert answer.shipments[0].identifier == "12345643769771400691"


def test_transport_errors_show_fynds_message():
    body = json.dumps({"success": False, "message": "statuses.0.status: required"}).encode()
    answer = client.parse_answer(400, body)
    assert not answer.ok and answer.error == "HTTP 400: statuses.0.status: required"


def test_a_gateway_html_page_is_its_status_and_first_line():
    page = ("<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\n<center><h1>"
            "504 Gateway Time-out</h1></center>\n" + "<p>padding</p>\n" * 2000 + "</body></html>")
    answer = client.parse_answer(504, page.encode())
    assert answer.error == "HTTP 504: 504 Gateway Time-out"
    untitled = client.parse_answer(502, b"\n\n  <h1>Bad   gateway</h1>\n<p>more</p>")
    assert untitled.error == "HTTP 502: Bad gateway"


@pytest.mark.parametrize("body", [b"", b"not json", b'{"statuses": []}', b"[]", b'{"x": 1}',
                                  b'{"success": false}'])
def test_a_200_without_results_is_a_failure(body):
    answer = client.parse_answer(200, body)
    assert not answer.ok and answer.error and answer.error.startswith("HTTP 200")


def test_401_and_403_refuse_the_credentials():
    assert client.parse_answer(401, b'{"success": false, "message": "expired"}'
                               ).refused_credentials
    assert client.parse_answer(403, b"").refused_credentials
    assert not client.parse_answer(400, b"").refused_credentials


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["statuses", "shipments", "status", "final_state",
                                       "identifier", "exception", "message", "x"]),
                      children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(status=st.sampled_from([200, 201, 400, 401, 500, 502]), document=json_values)
def test_parse_answer_never_raises_and_never_calls_a_failure_ok(status, document):
    answer = client.parse_answer(status, json.dumps(document).encode())
    if answer.ok:
        assert 200 <= status < 300 and answer.shipments
        assert all(s.ok for s in answer.shipments)
        assert all(isinstance(s.status, int) and 200 <= s.status < 300
                   and not s.response.get("exception") for s in answer.shipments)
    else:
        assert answer.error or answer.failed
    answer.text()


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300))
def test_parse_answer_takes_any_bytes(body):
    answer = client.parse_answer(200, body)
    assert "\n" not in answer.text()


# -- the request `fynd transition` sends --------------------------------------------------------
@pytest.fixture
def fynd_env(monkeypatch):
    for key, value in {"URL": BASE, "COMPANY_ID": "7", "CLIENT_ID": "acme",
                       "CLIENT_SECRET": SECRET}.items():
        monkeypatch.setenv(f"SHIPCTL_FYND_{key}", value)


@responses.activate
def test_transition_sends_exactly_the_built_body_with_the_bearer_token(cli, fynd_env):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-One-1111",
                                                   "expires_in": 3600})
    responses.add(responses.PUT, STATUS_URL,
                  body=sdk(answering("12345383008471878029", INVOICED)))
    result = cli("fynd", "transition", "12345383008471878029", "--to", "bag_confirmed",
                 "--line", "1:5", "--line", "2:10",
                 "--reason", "1:Product Not Available@1:3,2:4",
                 "--reason", "2:Defective Product@1:2,2:1",
                 "--exclude-next-state", "bag_not_confirmed")
    assert result.code == 0, result.err
    token_call, put = responses.calls
    assert put.request.method == "PUT"
    assert put.request.headers["Authorization"] == "Bearer tok-One-1111"
    assert put.request.headers["Content-Type"] == "application/json"
    # example 4 of Fynd's example page, byte for byte in its key order
    assert json.loads(put.request.body) == fynd_sample(4)
    assert list(json.loads(put.request.body)["statuses"][0]) == [
        "shipments", "status", "exclude_bags_next_state"]
    # a partial move's line names its units (fynd transition); the answer's state as given
    assert "12345383008471878029  ok  15 (lines 1:5, 2:10) → bag_invoiced → dp_assigned" in (
        result.out)
    assert "tok-One-1111" not in result.all and SECRET not in result.all


@responses.activate
def test_transition_renews_the_token_once_on_a_401(cli, fynd_env):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-Old-1111",
                                                   "expires_in": 3600})
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-New-2222",
                                                   "expires_in": 3600})
    responses.add(responses.PUT, STATUS_URL, status=401,
                  json={"success": False, "message": "token expired"})
    responses.add(responses.PUT, STATUS_URL, body=sdk(answering("1", INVOICED)))
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed")
    assert result.code == 0, result.err
    puts = [c.request for c in responses.calls if c.request.method == "PUT"]
    assert [p.headers["Authorization"] for p in puts] == ["Bearer tok-Old-1111",
                                                          "Bearer tok-New-2222"]
    # and the next run reuses the renewed token from the cache
    responses.add(responses.PUT, STATUS_URL, body=sdk(answering("1", INVOICED)))
    assert cli("fynd", "transition", "1", "--to", "bag_confirmed").code == 0
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer tok-New-2222"
    assert sum(c.request.method == "POST" for c in responses.calls) == 2


@responses.activate
def test_a_second_401_stands(cli, fynd_env):
    for n in range(2):
        responses.add(responses.POST, TOKEN_URL, json={"access_token": f"tok-{n}-xxxx",
                                                       "expires_in": 3600})
    responses.add(responses.PUT, STATUS_URL, status=401,
                  json={"success": False, "message": "no access to company 7"})
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed")
    assert result.code == 1
    # the token endpoint accepted the client (twice): the secret is not what to check
    assert ("error: HTTP 401: no access to company 7 (the token endpoint accepted the client "
            "but the API refused the token: check fynd.company_id and the app's permissions)"
            ) in result.err and "client_secret" not in result.err
    assert len([c for c in responses.calls if c.request.method == "PUT"]) == 2


@responses.activate
def test_a_gateway_page_from_status_internal(cli, fynd_env, monkeypatch):
    import shipctl.http

    monkeypatch.setattr(shipctl.http, "sleep", lambda seconds: None)
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-One-1111",
                                                   "expires_in": 3600})
    page = "<html><head><title>500 Internal Server Error</title></head><body>" + "z" * 9000
    responses.add(responses.PUT, STATUS_URL, status=500, body=page)
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed")
    assert result.code == 1
    assert "error: HTTP 500: 500 Internal Server Error" in result.err
    assert "zzzz" not in result.all and "<html" not in result.all


# -- a bulk record (fynd apply) -----------------------------------------------------------------
def test_a_bulk_outcome_keeps_each_shipment_and_fails_on_any():
    from shipctl.fynd.apply import outcome

    good = outcome(200, sdk(INVOICED))
    assert good.ok and good.code is None and not good.fatal
    assert good.message == "12345634657861443427: bag_invoiced → dp_assigned"
    assert good.detail == {"shipments": [client.parse_answer(200, sdk(INVOICED)).shipments[0]
                                         .record()]}
    mixed = outcome(200, sdk(INVOICED, REFUSED))
    assert not mixed.ok and mixed.code == 400 and not mixed.fatal
    assert [s["result"] for s in mixed.detail["shipments"]] == ["ok", "failed"]
    assert mixed.detail["shipments"][1]["response"] == REFUSED


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_stops_a_bulk_run(status):
    from shipctl.fynd.apply import outcome

    refused = outcome(status, b'{"success": false, "message": "token expired"}')
    assert not refused.ok and refused.fatal and refused.code == status
    assert refused.check == "fynd.company_id and the app's permissions"
    assert refused.message == (f"HTTP {status}: token expired (the token endpoint accepted the "
                               "client but the API refused the token: check fynd.company_id "
                               "and the app's permissions)")


# -- a hostile or broken server ------------------------------------------------------------------
DEEP = "[" * 200_000 + "]" * 200_000  # past the interpreter's own recursion limit


@pytest.mark.parametrize("message", ["\x1b[31mred\x1b[0m", "bell\x07", "two\rlines", "nul\x00"])
def test_a_servers_control_characters_never_reach_the_terminal(message):
    # a hostile answer could otherwise repaint the screen or hide what it says
    answer = client.parse_answer(200, sdk({"identifier": "A\x1b[2J", "status": 400,
                                           "message": message}))
    (shipment,) = answer.shipments
    for text in (shipment.line(), answer.text()):
        assert text.isprintable(), text
    assert "\\u001b" in shipment.line() or "\\u0007" in shipment.line() or (
        "\\r" in shipment.line() or "\\u0000" in shipment.line())
    page = client.parse_answer(502, b"<title>Bad \x1b[2J Gateway</title>")
    assert page.error is not None and page.error.isprintable()
    assert client.parse_answer(200, b"\x00\xff garbage").error.isprintable()


@responses.activate
def test_a_deeply_nested_reasons_answer_is_an_error_not_a_crash(cli, fynd_env):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-One-1111",
                                                   "expires_in": 3600})
    reasons_url = client.reasons_url(BASE, "7", "S", "B", "bag_not_confirmed")
    responses.add(responses.GET, reasons_url, body='{"reasons": ' + DEEP + "}")
    result = cli("fynd", "reasons", "S", "--bag", "B", "--state", "bag_not_confirmed")
    assert result.code == 1
    assert result.err.startswith("error: Fynd reasons: HTTP 200, an answer without a reasons")
    assert "internal error" not in result.err


@responses.activate
def test_reasons_without_a_name_show_an_empty_cell(cli, fynd_env):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-One-1111",
                                                   "expires_in": 3600})
    responses.add(responses.GET, client.reasons_url(BASE, "7", "S", "B", "bag_not_confirmed"),
                  json={"success": True, "reasons": [{"id": 4, "display_name": None}, 7,
                                                     {"id": 5, "display_name": "Late\x1b[2J"}]})
    result = cli("fynd", "reasons", "S", "--bag", "B", "--state", "bag_not_confirmed")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["ID\tREASON", "4\t", "5\tLate\\u001b[2J"]


@pytest.mark.parametrize("status", ["9" * 5000, "²", "٤٠٠", " 200 "])
def test_a_status_written_as_odd_text_never_breaks_the_answer(status):
    answer = client.parse_answer(200, sdk({"identifier": "A", "status": status}))
    (shipment,) = answer.shipments
    assert shipment.ok is (status == " 200 ")  # only plain ASCII digits are a status code
