"""The receiver's rules (shipctl.ecom.receive.receiver) without a server: answers, auth,
what is stored."""

from __future__ import annotations

import base64
import json
import unicodedata

import pytest
from factories import ecom_scan
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.ecom.receive.receiver import MAX_BODY, REDACTED, Receiver, answer_number

USER, PASSWORD = "ecom-user", "pässwörd:with colon ✓"


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(USER, PASSWORD)


def test_a_valid_push_is_200_with_the_number_as_an_integer(receiver):
    body = json.dumps(ecom_scan()).encode()
    answer = receiver.receive(basic(), body)
    assert answer.status == 200
    assert json.loads(answer.body) == {"awb": "8012345671", "status": True,
                                       "status_update_number": 44590188}
    assert answer.push.body == body  # the raw bytes, untouched
    assert answer.push.status_update_number == "44590188"
    assert answer.push.awb == "8012345671"


def test_basic_auth_is_utf8_per_rfc_7617_and_the_password_may_hold_a_colon(receiver):
    headers = basic()  # the user-id ends at the first colon; the password keeps its own
    assert receiver.receive(headers, json.dumps(ecom_scan()).encode()).status == 200


@pytest.mark.parametrize("configured", ["NFC", "NFD"])
@pytest.mark.parametrize("sent", ["NFC", "NFD"])
def test_a_password_matches_however_its_accents_are_composed(configured, sent):
    """RFC 7617 (UTF-8) asks senders for NFC, as `ecom replay` does; a password typed where
    "ä" is two code points must still match itself, whichever side normalised."""
    password = "pässwörd:é"
    receiver = Receiver(unicodedata.normalize(configured, "Jörg"),
                        unicodedata.normalize(configured, password))
    headers = basic(unicodedata.normalize(sent, "Jörg"), unicodedata.normalize(sent, password))
    body = json.dumps(ecom_scan()).encode()
    assert receiver.receive(headers, body).status == 200
    assert receiver.receive(basic("Jörg", "passwörd"), body).status == 401


@pytest.mark.parametrize("headers", [
    {},
    basic(password="wrong"),
    basic(user="other"),
    {"authorization": "Basic !!!not-base64"},
    {"authorization": "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()},
    {"authorization": "Basic " + base64.b64encode(USER.encode()).decode()},  # no colon
    {"username": USER},  # a password header is needed too
    {"username": USER, "password": "wrong"},
    {"password": PASSWORD},
])
def test_wrong_or_missing_credentials_are_401_with_the_failure_body(receiver, headers):
    answer = receiver.receive(headers, json.dumps(ecom_scan()).encode())
    assert answer.status == 401
    document = json.loads(answer.body)
    assert document["status"] is False and "credentials" in document["reason"]
    # the body is not read before the credentials are right: nothing of it is echoed
    assert document["awb"] is None and document["status_update_number"] is None
    assert dict(answer.headers)["www-authenticate"] == (
        'Basic realm="shipctl ecom listen", charset="UTF-8"')
    assert answer.push is None
    assert receiver.refusal(headers) == answer


def test_username_and_password_headers_are_accepted(receiver):
    headers = {"username": USER, "password": PASSWORD.encode().decode("latin-1")}
    answer = receiver.receive(headers, json.dumps(ecom_scan()).encode())
    assert answer.status == 200
    assert dict(answer.push.headers) == {"username": USER, "password": REDACTED}


def test_asgi_byte_headers_work_and_auth_headers_are_redacted(receiver):
    headers = [(b"Authorization", basic()["authorization"].encode()),
               (b"Content-Type", b"application/json"), (b"Cookie", b"session=1")]
    answer = receiver.receive(headers, json.dumps(ecom_scan()).encode())
    assert answer.push.headers == [("authorization", REDACTED),
                                   ("content-type", "application/json"), ("cookie", REDACTED)]


@pytest.mark.parametrize("body, words", [
    (b"", "empty body"),
    (b"{not json", "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100 + b"]" * 100, "nested more than"),
    (b"[1, 2]", "expected a JSON object"),
])
def test_unparseable_bodies_are_400_with_the_documented_failure_body(receiver, body, words):
    answer = receiver.receive(basic(), body)
    assert answer.status == 400
    document = json.loads(answer.body)
    assert set(document) == {"awb", "status", "reason", "status_update_number"}
    assert document["status"] is False and words in document["reason"]


def test_invalid_push_is_400_naming_each_problem_and_echoing_awb_and_number(receiver):
    body = json.dumps(ecom_scan(datetime="2024-02-30 10:00:00", employee="x")).encode()
    answer = receiver.receive(basic(), body)
    assert answer.status == 400
    document = json.loads(answer.body)
    assert document["awb"] == "8012345671" and document["status_update_number"] == 44590188
    assert "datetime" in document["reason"] and "not a real date" in document["reason"]
    assert answer.push is None


def test_a_v2_push_is_refused_saying_so(receiver):
    body = json.dumps({"awb": "1", "date_time": "2024-03-01 19:40:05", "status_code": "002",
                       "order_id": "O1", "shipment_type": "forward"}).encode()
    answer = receiver.receive(basic(), body)
    assert answer.status == 400 and "v2 push" in json.loads(answer.body)["reason"]


def test_warnings_are_kept_as_the_validation_result(receiver):
    body = json.dumps(ecom_scan(reason_code="4242 - Strange", reason_code_number="4242")).encode()
    answer = receiver.receive(basic(), body)
    assert answer.status == 200
    assert any("4242" in warning for warning in answer.push.warnings)


def test_bodies_over_1_mib_are_413(receiver):
    answer = receiver.receive(basic(), b" " * (MAX_BODY + 1))
    assert answer.status == 413 and json.loads(answer.body)["status"] is False


def test_a_pretty_printed_body_is_stored_raw_and_exported_on_one_line(receiver):
    body = json.dumps(ecom_scan(city="Vadodara – ✓"), indent=2, ensure_ascii=False).encode()
    body = body.replace(b"\n", b"\r\n")
    push = receiver.receive(basic(), body).push
    assert push.body == body
    assert "\n" not in push.compact and json.loads(push.compact) == json.loads(body)


@pytest.mark.parametrize("around", [b"\n", b"\r\n", b"  \n\n", b"\t"])
def test_a_one_line_body_with_whitespace_around_it_is_exported_as_written(receiver, around):
    line = json.dumps(ecom_scan(), ensure_ascii=False).encode()  # ", " and ": ", as senders vary
    push = receiver.receive(basic(), around + line + around).push
    assert push.compact.encode() == line


@pytest.mark.parametrize("value, shown", [
    ("44590188", 44590188), ("0042", 42), ("12a", "12a"), ("٤٤", "٤٤"), (None, None),
    ("9" * 5000, "9" * 100), (17, 17),
])
def test_answer_number(value, shown):
    result = answer_number(value)
    assert result == shown if not isinstance(shown, str) else str(result).startswith(shown[:50])


# Anything at all: never an exception, always one of the documented answers with JSON.
@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=80)), max_size=5),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                st.sampled_from(["awb", "datetime", "status_update_number", "x"])
                | st.text(max_size=5), inner, max_size=5),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    with_auth=st.booleans(),
)
def test_receive_never_raises(headers, body, with_auth):
    receiver = Receiver(USER, PASSWORD)
    if with_auth:
        headers = [*headers, (b"authorization", basic()["authorization"].encode())]
    answer = receiver.receive(headers, body)
    assert answer.status in (200, 400, 401, 413)
    document = json.loads(answer.body)
    assert document["status"] is (answer.status == 200)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=15), st.text(max_size=40), max_size=6))
def test_receive_never_raises_on_str_headers(headers):
    assert Receiver(USER, PASSWORD).receive(headers, b"{}").status in (400, 401)


# -- credentials, redaction, bodies that cannot be stored as text ---------------------------
def test_basic_credentials_in_iso_8859_1_are_accepted_as_requests_sends_them():
    receiver = Receiver("jörg", "pässword")
    latin = base64.b64encode("jörg:pässword".encode("latin-1")).decode()
    assert receiver.receive({"authorization": f"Basic {latin}"},
                            json.dumps(ecom_scan()).encode()).status == 200
    wrong = base64.b64encode("jörg:passwörd".encode("latin-1")).decode()
    assert receiver.receive({"authorization": f"Basic {wrong}"}, b"{}").status == 401


def test_a_username_with_a_colon_is_refused():
    with pytest.raises(ValueError, match="colon"):
        Receiver("ecom:prod", "pw")


@pytest.mark.parametrize("name", ["X-Api-Key", "X-Auth-Token", "X-Password",
                                  "X-Forwarded-Authorization", "Cookie", "Set-Cookie",
                                  "X-Session-Id", "X-Client-Secret", "Proxy-Authorization",
                                  "X-Credentials", "x-passwd"])
def test_every_header_named_like_a_credential_is_redacted(receiver, name):
    headers = [*basic().items(), (name, "s3cret-value"), ("X-Trace", "keep-me")]
    answer = receiver.receive(headers, json.dumps(ecom_scan()).encode())
    stored = dict(answer.push.headers)
    assert stored[name.lower()] == REDACTED and stored["x-trace"] == "keep-me"
    assert "s3cret-value" not in json.dumps(answer.push.headers)


@pytest.mark.parametrize("body, field", [
    (b'{"awb": "8012345671", "k\\ud800": 1}', "k\\ud800: the key holds a lone surrogate"),
    (b'{"awb": "8012345671", "city": "x\\udfff"}', "city: holds a lone surrogate"),
    (b'{"awb": "1", "extra": [1, {"deep": "\\ud83d"}]}', "extra[1].deep: holds a lone"),
    (b'{"awb": "1", "status_update_number": 1e999}', "status_update_number: a number too"),
    (b'{"awb": "1", "status_update_number": NaN}', "status_update_number: NaN is not"),
    (b'{"awb": "1", "x": -Infinity}', "x: a number too large"),
])
def test_a_body_that_cannot_be_stored_as_text_is_400_naming_the_field(receiver, body, field):
    answer = receiver.receive(basic(), body)
    assert answer.status == 400 and answer.push is None
    text = answer.body.decode("utf-8")  # strict UTF-8: no surrogate reaches the answer
    document = json.loads(text, parse_constant=pytest.fail)  # strict JSON: no NaN/Infinity
    assert field in document["reason"]
    assert document["status_update_number"] in (None, 1)


def test_echoes_are_strict_json_whatever_the_body_held(receiver):
    body = b'{"awb": "\\ud800x", "status_update_number": NaN, "reason_code": "\\udc00"}'
    document = json.loads(receiver.receive(basic(), body).body.decode("utf-8"),
                          parse_constant=pytest.fail)
    assert document["awb"] == "\ufffdx" and document["status_update_number"] is None
