"""The Fynd simulator of the sandbox (docs/conventions.md, Sandbox), over real HTTP on
127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading

import pytest
import requests
from factories import fynd_sample

from shipctl.fynd import client

COMPANY = "1"
BASIC = "Basic " + base64.b64encode(b"sandbox:sandbox-secret").decode()


def base(server) -> str:
    return server.base_url + "/fynd"


def get_token(server, authorization: str = BASIC, grant: str = "client_credentials"):
    return requests.post(client.token_url(base(server), COMPANY), data={"grant_type": grant},
                         headers={"Authorization": authorization}, timeout=10)


def bearer(server) -> dict[str, str]:
    return {"Authorization": "Bearer " + get_token(server).json()["access_token"]}


def put(server, body, headers=None) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.put(client.status_url(base(server), COMPANY), data=data,
                        headers=headers if headers is not None else bearer(server), timeout=10)


def transition(identifier: str, status: str, products=(), exclude=..., reasons=None, **top):
    shipment = {"identifier": identifier, "products": list(products)}
    if reasons is not None:
        shipment["reasons"] = reasons
    entry = {"shipments": [shipment], "status": status}
    if exclude is not ...:
        entry["exclude_bags_next_state"] = exclude
    return {"statuses": [entry], **top}


REASON = {"products": [{"filters": [{}], "data": {"reason_id": 1,
                                                  "reason_text": "Product Not Available"}}],
          "entities": []}


def results(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [s for t in response.json()["statuses"] for s in t["shipments"]]


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()["fynd"]


# -- OAuth --------------------------------------------------------------------------------------
def test_the_token_endpoint_issues_and_counts_tokens(shared_sandbox):
    answer = get_token(shared_sandbox)
    assert answer.status_code == 200
    document = answer.json()
    assert document["token_type"] == "Bearer" and document["expires_in"] == 3600
    assert document["access_token"]
    get_token(shared_sandbox)
    assert stats(shared_sandbox)["tokens_issued"] == 2


@pytest.mark.parametrize("authorization", [
    "", "Basic " + base64.b64encode(b"sandbox:wrong").decode(), "Bearer x",
    "Basic " + base64.b64encode(b"other:sandbox-secret").decode()])
def test_wrong_client_credentials_are_401(shared_sandbox, authorization):
    answer = get_token(shared_sandbox, authorization)
    assert answer.status_code == 401
    assert answer.json() == {"success": False, "message": "invalid client credentials"}
    assert stats(shared_sandbox)["tokens_issued"] == 0


def test_only_the_client_credentials_grant(shared_sandbox):
    answer = get_token(shared_sandbox, grant="password")
    assert answer.status_code == 400 and "client_credentials" in answer.json()["message"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-issued"},
                                     {"Authorization": BASIC}])
def test_status_internal_needs_a_token_it_issued(shared_sandbox, headers):
    answer = put(shared_sandbox, fynd_sample(1), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["success"] is False
    assert stats(shared_sandbox)["transitions"] == {}


def test_an_expired_or_revoked_token_is_401(shared_sandbox):
    headers = bearer(shared_sandbox)
    (simulator,) = [s for s in shared_sandbox.simulators if s.name == "fynd"]
    simulator.revoke_tokens()
    assert put(shared_sandbox, fynd_sample(1), headers=headers).status_code == 401


# -- request validation -------------------------------------------------------------------------
@pytest.mark.parametrize(("body", "expected"), [
    (b"{not json", "not valid JSON"),
    ({"statuses": [{"shipmentz": [], "status": "bag_confirmed"}]}, "did you mean shipments"),
    ({"statuses": [{"shipments": [{"identifier": 5}], "status": "bag_confirmed"}]},
     "statuses.0.shipments.0.identifier: expected text"),
    ({"statuses": [{"shipments": [{"identifier": "1", "products": [{"line_number": 0}]}],
                    "status": "bag_confirmed"}]}, "must be a positive whole number"),
])
def test_a_body_the_model_refuses_is_400(shared_sandbox, body, expected):
    answer = put(shared_sandbox, body)
    assert answer.status_code == 400
    document = answer.json()
    assert document["success"] is False and expected in document["message"]
    assert stats(shared_sandbox)["invalid_requests"] == 1


# -- the state machine --------------------------------------------------------------------------
def test_confirm_invoice_pack_with_the_automatic_move_to_dp_assigned(shared_sandbox):
    (confirmed,) = results(put(shared_sandbox, transition("S1", "bag_confirmed")))
    assert confirmed["status"] == 200
    assert confirmed["final_state"] == {"bag_confirmed": "bag_confirmed", "shipment_id": "S1"}
    (invoiced,) = results(put(shared_sandbox, transition("S1", "bag_invoiced")))
    assert invoiced["final_state"] == {"bag_invoiced": "dp_assigned", "shipment_id": "S1"}
    (packed,) = results(put(shared_sandbox, transition("S1", "bag_packed")))
    assert packed["final_state"] == {"bag_packed": "bag_packed", "shipment_id": "S1"}
    assert stats(shared_sandbox)["bags"]["S1"] == {"1": {"bag_packed": 10},
                                                  "2": {"bag_packed": 10}}
    assert stats(shared_sandbox)["transitions"] == {"S1": 3}


def test_an_invalid_transition_is_a_400_entry_inside_a_200(shared_sandbox):
    (entry,) = results(put(shared_sandbox, transition("S2", "bag_packed")))
    assert entry == {"status": 400, "message": "Invalid State Transition bag_packed detected "
                     "for given entity", "code": "", "exception": "ValidationError",
                     "stack_trace": "", "meta": {}, "identifier": "S2"}
    assert stats(shared_sandbox)["refused"] == {"S2": 1}
    assert "S2" not in stats(shared_sandbox)["bags"]  # nothing moved


def test_example_4_partial_confirmation_splits_line_1(shared_sandbox):
    (entry,) = results(put(shared_sandbox, fynd_sample(4)))
    assert entry["status"] == 200
    assert stats(shared_sandbox)["bags"]["12345383008471878029"] == {
        "1": {"bag_confirmed": 5, "bag_not_confirmed": 5}, "2": {"bag_confirmed": 10}}


def test_example_5_partial_cancellation_leaves_the_rest_where_it_was(shared_sandbox):
    (entry,) = results(put(shared_sandbox, fynd_sample(5)))
    assert entry["status"] == 200
    assert stats(shared_sandbox)["bags"]["12345383008471878029"] == {
        "1": {"placed": 5, "bag_not_confirmed": 5}, "2": {"bag_not_confirmed": 10}}


def test_the_units_left_can_move_on_later(shared_sandbox):
    put(shared_sandbox, transition("S3", "bag_confirmed", [{"line_number": 1, "quantity": 4}],
                                   exclude=None))
    (entry,) = results(put(shared_sandbox, transition("S3", "bag_confirmed")))
    assert entry["status"] == 200  # the 6 + 10 still placed
    (again,) = results(put(shared_sandbox, transition("S3", "bag_invoiced")))
    assert again["status"] == 200
    assert stats(shared_sandbox)["bags"]["S3"] == {"1": {"dp_assigned": 10},
                                                  "2": {"dp_assigned": 10}}


def test_more_units_than_the_line_has(shared_sandbox):
    (entry,) = results(put(shared_sandbox, transition(
        "S4", "bag_confirmed", [{"line_number": 1, "quantity": 11}])))
    assert entry["status"] == 400 and "11 of line 1" in entry["message"]
    (missing,) = results(put(shared_sandbox, transition(
        "S4", "bag_confirmed", [{"line_number": 3, "quantity": 1}])))
    assert missing["status"] == 400 and missing["message"].startswith("Not found bag_ids [3]")


def test_a_cancellation_without_a_reason_is_refused(shared_sandbox):
    (entry,) = results(put(shared_sandbox, transition("S5", "bag_not_confirmed")))
    assert entry["status"] == 400 and entry["exception"] == "ReasonError"
    assert "Reason is missing" in entry["message"]
    # a partial confirmation whose rest is cancelled needs one too
    (rest,) = results(put(shared_sandbox, transition(
        "S5", "bag_confirmed", [{"line_number": 1, "quantity": 1}], exclude="bag_not_confirmed")))
    assert rest["status"] == 400 and "Reason is missing" in rest["message"]
    (ok,) = results(put(shared_sandbox, transition("S5", "bag_not_confirmed", reasons=REASON)))
    assert ok["status"] == 200


def test_a_shipment_in_two_transitions_is_refused_in_both(shared_sandbox):
    body = {"statuses": [transition("S6", "bag_confirmed")["statuses"][0],
                         transition("S6", "cancelled_customer", reasons=REASON)["statuses"][0],
                         transition("S7", "bag_confirmed")["statuses"][0]]}
    entries = results(put(shared_sandbox, body))
    assert [(e["identifier"], e["status"]) for e in entries] == [
        ("S6", 400), ("S6", 400), ("S7", 200)]
    assert entries[0]["message"] == "Child bag ids are repeated in multiple transitions"
    assert stats(shared_sandbox)["transitions"] == {"S7": 1}


def test_lock_after_and_unlock_before(shared_sandbox):
    results(put(shared_sandbox, transition("S8", "bag_confirmed", lock_after_transition=True)))
    (locked,) = results(put(shared_sandbox, transition("S8", "bag_invoiced")))
    assert locked["status"] == 400 and locked["exception"] == "LockError"
    (unlocked,) = results(put(shared_sandbox, transition("S8", "bag_invoiced",
                                                         unlock_before_transition=True)))
    assert unlocked["status"] == 200


def test_force_transition_skips_the_map(shared_sandbox):
    (entry,) = results(put(shared_sandbox, transition("S9", "bag_packed", force_transition=True)))
    assert entry["status"] == 200


def test_every_sample_request_is_accepted_by_the_model(shared_sandbox):
    for number in range(1, 7):
        answer = put(shared_sandbox, fynd_sample(number))
        assert answer.status_code == 200, (number, answer.text)


def test_concurrent_requests_each_move_once(shared_sandbox):
    headers = bearer(shared_sandbox)

    def worker(n: int):
        for k in range(10):
            put(shared_sandbox, transition(f"T{n}-{k}", "bag_confirmed"), headers=headers)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = stats(shared_sandbox)["transitions"]
    assert len(counts) == 80 and set(counts.values()) == {1}


# -- the rest -----------------------------------------------------------------------------------
def test_reasons_endpoint(shared_sandbox):
    url = client.reasons_url(base(shared_sandbox), COMPANY, "S1", "B1", "bag_not_confirmed")
    answer = requests.get(url, headers=bearer(shared_sandbox), timeout=10)
    assert answer.status_code == 200
    reasons = answer.json()["reasons"]
    assert [(r["id"], r["display_name"]) for r in reasons][:2] == [
        (1, "Product Not Available"), (2, "Defective Product")]
    assert requests.get(url, timeout=10).status_code == 401


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/service/platform/order-manage/v1.0/company/1/shipment/status-internal", 405),
    ("PUT", "/service/platform/order-manage/v1.0/company/2/shipment/status-internal", 404),
    ("GET", "/service/nothing", 404),
])
def test_wrong_method_company_or_path(shared_sandbox, method, path, status):
    answer = requests.request(method, base(shared_sandbox) + path, timeout=10)
    assert answer.status_code == status and answer.json()["success"] is False


def test_injected_faults_are_fynds_503(sandbox):
    server = sandbox(fail_rate=1.0, fail_mode="code2", seed=1)
    answer = requests.put(client.status_url(base(server), COMPANY), data=b"{}", timeout=10)
    assert answer.status_code == 503
    assert answer.json() == {"success": False, "message": "Service temporarily unavailable"}
    assert answer.headers["Retry-After"] == "0"


# -- product identifiers ------------------------------------------------------------------------
@pytest.mark.parametrize("product", [
    {"identifier": "SKU-9", "quantity": 1},  # the shipment has no such product
    {"identifier": "SKU-2", "line_number": 1, "quantity": 1},  # not on that line
    {"quantity": 1},  # neither line nor identifier
])
def test_a_product_the_shipment_does_not_have_moves_nothing(shared_sandbox, product):
    (entry,) = results(put(shared_sandbox, transition("P1", "bag_confirmed", [product])))
    named = product.get("identifier", "")
    assert entry["status"] == 400
    assert entry["message"] == f"Not found bag_ids [{named}] against shipment_id P1"
    assert "P1" not in stats(shared_sandbox)["bags"]  # nothing moved, not the whole shipment


def test_a_product_named_by_its_identifier_moves_that_line_only(shared_sandbox):
    (entry,) = results(put(shared_sandbox, transition(
        "P2", "bag_confirmed", [{"identifier": "SKU-2", "quantity": 3}], exclude=None)))
    assert entry["status"] == 200
    assert stats(shared_sandbox)["bags"]["P2"] == {"1": {"placed": 10},
                                                  "2": {"placed": 7, "bag_confirmed": 3}}


# -- shipment details ---------------------------------------------------------------------------
def details(server, shipment: str, headers=None) -> requests.Response:
    return requests.get(client.details_url(base(server), COMPANY, shipment),
                        headers=headers if headers is not None else bearer(server), timeout=10)


def bags_of(response) -> list[tuple]:
    assert response.status_code == 200, response.text
    (shipment,) = response.json()["shipments"]
    return [(b["line_number"], b["identifier"], b["quantity"], b["current_status"]["status"])
            for b in shipment["bags"]]


def test_details_of_a_shipment_not_moved_yet(shared_sandbox):
    answer = details(shared_sandbox, "D1")
    document = answer.json()
    assert document["success"] is True
    (shipment,) = document["shipments"]
    assert shipment["shipment_id"] == "D1" and shipment["shipment_status"] == "placed"
    assert bags_of(answer) == [(1, "SKU-1", 10, "placed"), (2, "SKU-2", 10, "placed")]
    assert "D1" not in stats(shared_sandbox)["bags"]  # a read creates nothing
    assert stats(shared_sandbox)["reads"] == {"D1": 1}


def test_details_follow_the_state_machine(shared_sandbox):
    put(shared_sandbox, fynd_sample(4))  # 5 + 10 confirmed, 5 not confirmed
    answer = details(shared_sandbox, "12345383008471878029")
    assert sorted(bags_of(answer)) == [(1, "SKU-1", 5, "bag_confirmed"),
                                       (1, "SKU-1", 5, "bag_not_confirmed"),
                                       (2, "SKU-2", 10, "bag_confirmed")]
    (shipment,) = answer.json()["shipments"]
    assert shipment["shipment_status"] == "bag_confirmed"  # what is left to do
    ids = [b["bag_id"] for b in shipment["bags"]]
    assert len(set(ids)) == 3 and all(isinstance(i, int) for i in ids)
    put(shared_sandbox, transition("12345383008471878029", "bag_invoiced"))
    assert sorted(bags_of(details(shared_sandbox, "12345383008471878029"))) == [
        (1, "SKU-1", 5, "bag_not_confirmed"), (1, "SKU-1", 5, "dp_assigned"),
        (2, "SKU-2", 10, "dp_assigned")]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-issued"}])
def test_details_need_a_token_it_issued(shared_sandbox, headers):
    answer = details(shared_sandbox, "D2", headers=headers)
    assert answer.status_code == 401 and answer.json()["success"] is False
    assert stats(shared_sandbox)["reads"] == {}


def test_details_need_a_shipment_id(shared_sandbox):
    url = client.details_url(base(shared_sandbox), COMPANY, "D3").split("?")[0]
    answer = requests.get(url, headers=bearer(shared_sandbox), timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"success": False, "message": "shipment_id is required"}
    wrong = requests.put(url + "?shipment_id=D3", headers=bearer(shared_sandbox), timeout=10)
    assert wrong.status_code == 405


def test_stats_sum_the_units_each_applied_transition_moved(shared_sandbox):
    put(shared_sandbox, transition("M1", "bag_not_confirmed",
                                   [{"line_number": 1, "quantity": 5}], exclude=None,
                                   reasons=REASON))
    put(shared_sandbox, transition("M1", "bag_confirmed"))  # line 1's 5 left, line 2's 10
    put(shared_sandbox, transition("M1", "bag_confirmed"))  # refused: nothing left to move
    document = stats(shared_sandbox)
    assert document["moved"]["M1"] == {"1": {"bag_not_confirmed": 5, "bag_confirmed": 5},
                                       "2": {"bag_confirmed": 10}}
    assert document["transitions"] == {"M1": 2} and document["refused"] == {"M1": 1}


def test_a_stall_applies_the_transition_and_loses_its_answer(sandbox):
    from shipctl.sandbox import Faults

    server = sandbox()
    headers = bearer(server)
    server.faults = Faults(fail_rate=1.0, fail_mode="stall")  # from now on every request
    body = transition("ST1", "bag_confirmed", [{"line_number": 1, "quantity": 5}], exclude=None)
    with pytest.raises(requests.ReadTimeout):
        requests.put(client.status_url(base(server), COMPANY), json=body, headers=headers,
                     timeout=(10, 0.5))
    server.faults = Faults()
    document = stats(server)
    assert document["bags"]["ST1"] == {"1": {"placed": 5, "bag_confirmed": 5},
                                       "2": {"placed": 10}}
    assert document["transitions"] == {"ST1": 1}
