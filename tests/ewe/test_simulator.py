"""The EWE simulator (docs/conventions.md, Sandbox): every answer code over real HTTP, and
handle() on any bytes."""

from __future__ import annotations

import json

import pytest
import requests
from factories import ewe_envelope, ewe_request
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.ewe import digest as ewe_digest
from shipctl.ewe.simulator import PREFIX, EweSimulator
from shipctl.sandbox import SimRequest

TIMEOUT = 10
PHONE_RULE = "must be 9–20 characters of digits, spaces, -, ( ) and an optional leading +"


@pytest.fixture
def post(shared_sandbox):
    session = requests.Session()

    def send(document=None, *, data: bytes | None = None, operation="modifyShipment",
             content_type="application/javascript") -> requests.Response:
        payload = json.dumps(document).encode() if data is None else data
        headers = {"Content-Type": content_type} if content_type else {}
        url = f"{shared_sandbox.base_url}{PREFIX}/{operation}"
        return session.post(url, data=payload, headers=headers, timeout=TIMEOUT)

    yield send
    session.close()


def ewe_stats(server) -> dict:
    document = requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).json()["ewe"]
    document.pop("arrivals")  # timestamps; checked in test_arrivals_are_recorded
    return document


def test_a_valid_request_is_code_0_and_counted_per_reference(post, shared_sandbox):
    for _ in range(2):
        answer = post({**ewe_envelope(), **ewe_request("TEST08030001")})
        assert answer.status_code == 200
        assert answer.json() == {"success": True, "message": ["Modify success!"], "code": 0}
    post({**ewe_envelope(), **ewe_request("OTHER")})
    assert ewe_stats(shared_sandbox) == {"applied": {"TEST08030001": 2, "OTHER": 1},
                                         "rejected": {}}


@pytest.mark.parametrize("content_type", ["application/javascript", "application/json", None])
def test_any_content_type_is_accepted(post, content_type):
    answer = post({**ewe_envelope(), **ewe_request()}, content_type=content_type)
    assert answer.json()["code"] == 0


@pytest.mark.parametrize(
    "changes, code, message",
    [
        ({"msgType": "cancelShipment"}, 3, "Unsupported open API method"),
        ({"msgType": None}, 3, "Unsupported open API method"),
        ({"username": "someone"}, 101, "Invalid API key"),
        ({"username": "SANDBOX"}, 101, "Invalid API key"),
        ({"digest": ewe_digest.compute("sandbox", "modifyShipment", "123456")}, 104,
         "Incorrect signature"),
        ({"digest": 12345}, 104, "Incorrect signature"),
        # the API's own order: msgType before username before digest
        ({"msgType": "x", "username": "someone", "digest": "x"}, 3, "Unsupported open API method"),
        ({"username": "someone", "digest": "x"}, 101, "Invalid API key"),
    ],
)
def test_envelope_rejections(post, shared_sandbox, changes, code, message):
    answer = post({**ewe_request(), **ewe_envelope(**changes)})
    assert answer.status_code == 200
    assert answer.json() == {"success": False, "message": [message], "code": code}
    assert ewe_stats(shared_sandbox) == {"applied": {}, "rejected": {str(code): 1}}


def test_a_missing_envelope_is_an_invalid_api_method(post):
    assert post(ewe_request()).json()["code"] == 3


def test_field_problems_are_code_10_with_one_message_per_problem(post, shared_sandbox):
    body = ewe_request(to={**ewe_request()["to"], "phone": "12"}, colour="red")
    body["from"] = {**body["from"], "name": "x" * 41}
    answer = post({**ewe_envelope(), **body})
    assert answer.json() == {
        "success": False,
        "code": 10,
        "message": [
            "from.name: at most 40 characters (it has 41)",
            f"to.phone: {PHONE_RULE} (it has 2 characters)",
            "colour: unknown field",
        ],
    }
    assert ewe_stats(shared_sandbox) == {"applied": {}, "rejected": {"10": 1}}


def test_field_rules_are_only_checked_after_the_signature(post):
    answer = post({**ewe_request(referenceNo=None), **ewe_envelope(digest="wrong")})
    assert answer.json()["code"] == 104


def test_a_missing_reference_is_code_10(post):
    body = ewe_request()
    del body["referenceNo"], body["articleId"]  # either one will do
    answer = post({**ewe_envelope(), **body})
    assert answer.json() == {
        "success": False, "code": 10,
        "message": ['referenceNo: required, but missing (or give articleId: EWE says '
                    '"articleId or referenceNo not null")'],
    }


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe\x00garbage", b"{'a': 1}",
     b"[" * 100000],
    ids=["empty", "text", "array", "string", "null", "binary", "python-dict", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_code_10(post, shared_sandbox, data):
    answer = post(data=data)
    assert answer.status_code == 200
    assert answer.json() == {
        "success": False,
        "message": ["Invalid parameter: body is not a JSON object"],
        "code": 10,
    }


def test_other_operations_of_the_api_are_unsupported(post):
    answer = post({**ewe_envelope(msgType="cancelShipment"), "referenceNo": "R"},
                  operation="cancelShipment")
    assert answer.json() == {
        "success": False, "message": ["Unsupported open API method"], "code": 3,
    }


def test_unknown_paths_and_methods_under_the_prefix(shared_sandbox):
    url = shared_sandbox.base_url + PREFIX
    assert requests.post(url + "/frobShipment", json={}, timeout=TIMEOUT).status_code == 404
    assert requests.post(url, json={}, timeout=TIMEOUT).status_code == 404
    wrong = requests.get(url + "/modifyShipment", timeout=TIMEOUT)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    assert wrong.json() == {"error": "use POST"}


def test_reset_forgets_the_counts():
    simulator = EweSimulator()
    simulator.handle(SimRequest("POST", PREFIX + "/modifyShipment", {}, {},
                                json.dumps({**ewe_envelope(), **ewe_request("Z")}).encode()))
    simulator.handle(SimRequest("POST", PREFIX + "/modifyShipment", {}, {}, b"x"))
    assert len(simulator.stats().pop("arrivals")) == 1
    assert {k: v for k, v in simulator.stats().items() if k != "arrivals"} == {
        "applied": {"Z": 1}, "rejected": {"10": 1}}
    simulator.reset()
    assert simulator.stats() == {"applied": {}, "rejected": {}, "arrivals": []}


def test_transient_fault_is_code_2():
    answer = EweSimulator().transient_fault(SimRequest("POST", PREFIX, {}, {}, b""))
    assert answer.status == 200
    assert json.loads(answer.body) == {
        "success": False, "message": ["Service is temporarily unavailable"], "code": 2,
    }


# -- properties ---------------------------------------------------------------------------------
def ewe_answer(simulator: EweSimulator, body: bytes) -> dict:
    response = simulator.handle(SimRequest("POST", PREFIX + "/modifyShipment", {}, {}, body))
    assert response.status == 200
    document = json.loads(response.body)
    assert set(document) == {"success", "message", "code"}
    assert document["success"] is (document["code"] == 0)
    assert document["message"] and all(isinstance(m, str) for m in document["message"])
    return document


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_get_an_ewe_answer(body):
    assert ewe_answer(EweSimulator(), body)["code"] in {3, 10, 101, 104}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["referenceNo", "reason", "articleId", "version", "from", "to", "merchandise", "unknown"]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(field_names, json_values, max_size=4))
def test_any_fields_behind_a_valid_envelope_get_code_0_or_10(overrides):
    simulator = EweSimulator()
    body = json.dumps({**ewe_request("P"), **overrides, **ewe_envelope()}).encode()
    document = ewe_answer(simulator, body)
    assert document["code"] in {0, 10}
    applied = simulator.stats()["applied"]
    sent = json.loads(body)
    # counted by referenceNo, else by articleId
    reference = sent["referenceNo"]
    if reference is None or (isinstance(reference, str) and not reference.strip()):
        reference = sent["articleId"]
    assert applied == ({str(reference): 1} if document["code"] == 0 else {})


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_json_document_without_the_envelope_is_refused(document):
    assert ewe_answer(EweSimulator(), json.dumps(document).encode())["code"] in {3, 10}


def test_arrivals_are_recorded_for_applied_requests(post, shared_sandbox):
    post(ewe_envelope(**ewe_request("T1")))
    post(ewe_envelope(**ewe_request("T2"), digest="wrong"))
    post(ewe_envelope(**ewe_request("T3")))
    url = shared_sandbox.base_url + "/_sandbox/stats"
    arrivals = requests.get(url, timeout=TIMEOUT).json()["ewe"]["arrivals"]
    assert len(arrivals) == 2 and arrivals == sorted(arrivals)


@pytest.mark.parametrize("weight", ["1" * 350 + ".5", "0.1234567890123456789012345"])
def test_a_decimal_shipctl_accepts_the_simulator_accepts(post, weight):
    """The simulator read decimals as floats: a 351-digit one became inf and was refused
    with code 10, though `ewe validate` accepts it (at most 400 digits)."""
    body = json.dumps({**ewe_envelope(), **ewe_request(
        "DEC-1", merchandise=[{"sku": "X", "weight": "@"}])}).replace('"@"', weight)
    answer = post(data=body.encode())
    assert answer.json() == {"success": True, "message": ["Modify success!"], "code": 0}
