"""What is sent is what Java reads, and `--dry-run` shows it exactly.

Decimals go out in plain notation with the digits they were written with (in the bytes sent,
in the dry run's text and in its -o json); the dry run masks the secret fields (the digest,
auth headers) and nothing else, while messages keep masking every registered secret.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses
from factories import ewe_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipctl import plainjson, secrets
from shipctl.ewe import digest as ewe_digest
from shipctl.ewe.postcodes import STATE_RANGES, STATES
from shipctl.http.redact import mask_fields, mask_json_text

URL = "https://ewe.test/eweApi/ewe/api"


def body_of(dry_run_out: str) -> str:
    """The body of the first request a text dry run printed (compact JSON: one line)."""
    return dry_run_out.split("\n\n")[1]


# -- decimals: exact digits, plain notation ----------------------------------------------------
# (id, how the input writes the number, the JSON number text that must go out)
DECIMALS = [
    ("tiny", "0.0000001", "0.0000001"),
    ("exponent", "1e-7", "0.0000001"),
    ("exponent-upper", "2.5E+3", "2500"),
    ("spreadsheet-exponent", "1.00E-07", "0.000000100"),
    ("twenty-digits", "12345678901234567.891", "12345678901234567.891"),
    ("twenty-fraction-digits", "0.12345678901234567891", "0.12345678901234567891"),
    ("trailing-zero", "10.50", "10.50"),
    ("plain", "10.99", "10.99"),
    ("whole", "3", "3"),
    ("negative-zero", "-0.0", "0.0"),
]


def yaml_item(number: str) -> str:
    return (
        "referenceNo: R-1\nreason: moved\n"
        "from: {name: A, lines: [x], suburb: Greenacre, state: NSW, postcode: '2190',"
        " phone: '61407000000'}\n"
        "to: {name: B, lines: [y], suburb: Moorabbin Airport, state: VIC, postcode: '3194'}\n"
        f"merchandise:\n  - sku: X\n    weight: {number}\n"
    )


def json_item(number: str) -> str:
    text = json.dumps(ewe_request("R-1", merchandise=[{"sku": "X", "weight": "@"}]))
    return text.replace('"@"', number)  # the number exactly as written


def csv_item(number: str) -> str:
    header = ("referenceNo,reason,from.name,from.lines.0,from.suburb,from.state,from.postcode,"
              "from.phone,to.name,to.lines.0,to.suburb,to.state,to.postcode,merchandise.0.sku,"
              "merchandise.0.weight\n")
    return header + (f"R-1,moved,A,x,Greenacre,NSW,2190,61407000000,B,y,Moorabbin Airport,VIC,"
                     f"3194,X,{number}\n")


FORMATS = {"json": json_item, "yaml": yaml_item, "csv": csv_item}


# every case in every format: a CSV cell is text, and a spreadsheet writes 1E-07 for 0.0000001
FORMAT_CASES = [(fmt, *case) for fmt in sorted(FORMATS) for case in DECIMALS]


@pytest.mark.parametrize("fmt, name, written, sent", FORMAT_CASES,
                         ids=[f"{c[1]}-{c[0]}" for c in FORMAT_CASES])
def test_decimals_keep_their_digits(cli, sandbox, tmp_path, fmt, name, written, sent):
    sandbox()
    path = tmp_path / f"item.{fmt}"
    path.write_text(FORMATS[fmt](written), encoding="utf-8")

    validated = cli("ewe", "validate", "-o", "json", path)
    assert validated.code == 0, validated.all
    assert json.loads(validated.out)["results"][0]["errors"] == []

    dry = cli("ewe", "modify", path, "--dry-run")
    assert dry.code == 0, dry.all
    assert f'"weight":{sent}}}' in body_of(dry.out)
    as_json = cli("ewe", "modify", path, "--dry-run", "-o", "json")
    assert f'"weight": {sent}\n' in as_json.out
    weight = json.loads(as_json.out, parse_float=Decimal)["results"][0]["request"]["body"][
        "merchandise"][0]["weight"]
    assert Decimal(weight) == Decimal(sent)


@pytest.fixture
def profile(monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_URL", URL)
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "acme")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "acme-password-1")


@responses.activate
@pytest.mark.parametrize("name, written, sent", DECIMALS, ids=[d[0] for d in DECIMALS])
def test_the_bytes_sent_are_the_bytes_the_dry_run_shows(cli, profile, tmp_path, name, written,
                                                       sent):
    responses.post(f"{URL}/modifyShipment",
                   json={"success": True, "message": ["Modify success!"], "code": 0})
    path = tmp_path / "item.json"
    path.write_text(json_item(written))
    dry = cli("ewe", "modify", path, "--dry-run")
    result = cli("ewe", "modify", path, "--rate", "0")
    assert result.code == 0, result.all
    wire = responses.calls[0].request.body.decode("utf-8")
    assert f'"weight":{sent}}}' in wire
    digest = ewe_digest.compute("acme", "modifyShipment", "acme-password-1")
    # byte for byte, but for the digest's value
    assert body_of(dry.out) == wire.replace(digest, "********")


# -- masking: the secret fields, never a substring of another value ------------------------------
@pytest.mark.shows_secrets  # the password is 123456, and the e-mail holds it: checked below
def test_a_password_inside_another_value_is_printed_as_sent(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("SHIPCTL_EWE_URL", URL)
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "test")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "123456")
    digest = "oNCmEhRuYMf62nPzLxGrjA=="  # docs/ewe.md, Digest: the check value for test/123456
    invalid = ewe_request("R-2")
    invalid["to"]["state"] = "123456"
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(ewe_request("R-1")) + "\n" + json.dumps(invalid) + "\n")

    text = cli("ewe", "modify", path, "--dry-run")
    as_json = cli("ewe", "modify", path, "--dry-run", "-o", "json")
    as_lines = cli("ewe", "modify", path, "--dry-run", "-o", "jsonl")
    for result in (text, as_json, as_lines):
        assert result.code == 1
        assert digest not in result.all
        # the invalid item's message quotes the state: messages keep the substring masking
        assert '"********" is not a state' in result.err
        assert "123456" not in result.err
    assert '"email":"123456@gmail.com"' in body_of(text.out)
    assert '"digest":"********"' in body_of(text.out)
    request = json.loads(as_json.out)["results"][0]["request"]
    assert request["body"]["to"]["email"] == "123456@gmail.com"
    assert request["body"]["digest"] == "********"
    assert json.loads(as_json.out)["results"][1]["errors"][0]["message"] == (
        '"********" is not a state: use one of NSW, VIC, QLD, SA, WA, TAS, NT, ACT')
    first = json.loads(as_lines.out.splitlines()[0])
    assert first["request"]["body"]["to"]["email"] == "123456@gmail.com"
    # the only 123456 on stdout is the e-mail's
    for out in (text.out, as_json.out, as_lines.out):
        assert out.replace("123456@gmail.com", "") .count("123456") == 0


# -- the property: the dry run's body is the request, with the envelope -------------------------
visible = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20) \
    .filter(str.strip)
phones = st.from_regex(r"\+?[0-9 ()\-]{8,18}[0-9]", fullmatch=True)
emails = st.builds("{}@{}.com.au".format, st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
                   st.from_regex(r"[a-z]{1,12}", fullmatch=True))
exact_decimals = st.integers(1, 20).flatmap(
    lambda places: st.decimals(0, 10**20, places=places, allow_nan=False, allow_infinity=False))


@st.composite
def addresses(draw, phone_required: bool) -> dict:
    state = draw(st.sampled_from(STATES))
    low, high = draw(st.sampled_from(STATE_RANGES[draw(st.sampled_from(STATES))]))
    address = {
        "name": draw(visible),
        "lines": draw(st.lists(visible, min_size=1, max_size=3)),
        "suburb": draw(visible),
        "state": state,
        "postcode": f"{draw(st.integers(low, high)):04d}",  # any state's: a warning at most
    }
    if phone_required or draw(st.booleans()):
        address["phone"] = draw(phones)
    if draw(st.booleans()):
        address["email"] = draw(emails)
    return address


@st.composite
def valid_requests(draw) -> dict:
    data: dict = {"reason": draw(visible), "from": draw(addresses(True)),
                  "to": draw(addresses(False))}
    identity = draw(st.sampled_from(["referenceNo", "articleId", "both"]))
    if identity != "articleId":
        data["referenceNo"] = draw(visible)
    if identity != "referenceNo":
        data["articleId"] = draw(visible)
    if draw(st.booleans()):
        data["version"] = draw(st.sampled_from(["1.6", "2.0"]))
    if draw(st.booleans()):
        data["merchandise"] = draw(st.lists(st.fixed_dictionaries(
            {"sku": visible},
            optional={"quantity": st.integers(1, 2**31 - 1), "value": exact_decimals,
                      "weight": exact_decimals, "goodsNameCn": visible}),
            min_size=1, max_size=3))
    return data


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=valid_requests())
def test_the_dry_run_body_is_the_request_with_the_envelope(cli, tmp_path, monkeypatch,
                                                           request):
    monkeypatch.setenv("SHIPCTL_EWE_URL", URL)
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "acme")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "acme-password-1")
    path = tmp_path / "request.json"
    path.write_text(plainjson.dumps(request), encoding="utf-8")  # decimals as written
    result = cli("--quiet", "ewe", "modify", path, "--dry-run")
    assert result.code == 0, result.all
    # numbers as text: "1.50" must come back "1.50", not merely 1.5
    sent = json.loads(body_of(result.out), parse_float=str)
    expected = {"username": "acme", "digest": "********", "msgType": "modifyShipment",
                "version": "1.6", **request}
    assert sent == json.loads(plainjson.dumps(expected), parse_float=str)
    assert list(sent)[:3] == ["username", "digest", "msgType"]


# -- the runner's dry run, for every provider ------------------------------------------------------
class _Signed:
    """A provider shaped like any other: a body field it declares secret, a Basic header."""

    @staticmethod
    def make(secret_fields):
        from shipctl import batch, http
        from shipctl.runner import Auth, BulkProvider

        class Basic(Auth):
            def headers(self) -> dict[str, str]:
                return {"Authorization": "Basic c2FuZGJveDp3ZWJob29rLXB3LTk5"}

        class Provider(BulkProvider):
            command = "fake send"

            def connect(self, app, run=None):
                self.url = "https://api.test/send"
                secrets.register("webhook-pw-99")
                return Basic()

            def jobs(self, items, warn):
                for item in items:
                    yield batch.Job(id=item.where(), label="x", where=item.where(),
                                    payload=item.data)

            def call(self, job):
                return http.Call("POST", self.url, {"Content-Type": "application/json"},
                                 json.dumps(job.payload).encode())

            def outcome(self, response, job):  # pragma: no cover - a dry run sends nothing
                raise AssertionError

        Provider.secret_fields = secret_fields
        return Provider()


@pytest.mark.shows_secrets  # webhook-pw-99, inside "note", is data here: printed as sent
@pytest.mark.parametrize("secret_fields, masked", [
    (("signature",), ["signature"]),
    (None, ["password", "token"]),  # not declared: the HTTP layer's usual names
])
def test_the_runner_masks_declared_fields_and_auth_headers_only(tmp_path, capsys,
                                                                secret_fields, masked):
    from shipctl import runner
    from shipctl.app import Application
    from shipctl.runner import RunOptions

    body = {"signature": "sig-value-1", "password": "pw-value-2", "token": "tok-value-3",
            "note": "uses webhook-pw-99 inline", "amount": 0.0000001}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(body))
    app = Application()
    app.use()
    provider = _Signed.make(secret_fields)
    assert runner.run(app, provider, RunOptions(paths=[str(path)], dry_run=True)) == 0
    out = capsys.readouterr().out
    assert "Authorization: Basic ********" in out
    assert "c2FuZGJveDp3ZWJob29rLXB3LTk5" not in out
    printed = json.loads(body_of(out))
    for key, value in body.items():
        if key in masked:
            assert printed[key] == "********"
        elif key != "amount":
            assert printed[key] == value  # a registered secret inside it too: data, as sent
    # json.dumps wrote 1e-07 (that provider's encoding): the dry run shows those very bytes
    assert '"amount": 1e-07' in body_of(out)


# -- the helpers' properties -----------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["digest", "Digest", "token", "a", "b", 'x"y', "é"])
                      | st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
styles = st.sampled_from([{}, {"separators": (",", ":")}, {"indent": 2},
                          {"ensure_ascii": False}, {"indent": 1, "ensure_ascii": False}])
KEYS = frozenset({"digest", "token"})


@settings(max_examples=300, deadline=None)
@given(value=json_values, style=styles)
def test_masking_in_place_changes_only_the_secret_values(value, style):
    text = json.dumps(value, **style)
    masked = mask_json_text(text, KEYS)
    assert json.loads(masked) == mask_fields(value, KEYS)
    if mask_fields(value, KEYS) == value:
        assert masked == text  # nothing secret: every byte as it was


@settings(max_examples=300, deadline=None)
@given(value=json_values, style=styles)
def test_plainjson_writes_what_json_writes_but_numbers_in_plain_notation(value, style):
    text = plainjson.dumps(value, **style)
    # the same value: each number with the same decimal digits
    assert json.loads(text, parse_float=Decimal, parse_int=Decimal) == json.loads(
        json.dumps(value), parse_float=Decimal, parse_int=Decimal)
    numbers: list[str] = []
    json.loads(text, parse_float=numbers.append)
    assert not [n for n in numbers if "e" in n.lower()]  # plain notation
    if "float" not in repr(type_names(value)):  # no float in it: exactly what json writes
        assert text == json.dumps(value, **style)


def type_names(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*map(type_names, value.values()))
    if isinstance(value, list):
        return set().union(*map(type_names, value))
    return {type(value).__name__}


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**30, max_value=10**30))
def test_plain_keeps_every_digit(number):
    text = plainjson.plain(number)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == number


# -- the reader keeps each decimal's digits ----------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(number=st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str).filter(
    lambda text: "." in text or "E" in text),
    fmt=st.sampled_from(["json", "yaml", "json5"]))
def test_the_reader_keeps_the_digits_each_decimal_was_written_with(number, fmt):
    import io

    from shipctl.inputs.jsontext import json_document
    from shipctl.inputs.yamlreader import read_yaml_file

    text = {"json": '{"weight": %s}', "yaml": "weight: %s\n",
            "json5": "{weight: %s, // a comment\n}"}[fmt] % number
    if fmt == "yaml":
        [item] = read_yaml_file(io.BytesIO(text.encode()), "x.yaml", lambda message: None)
        value = item.data["weight"]
    else:
        [parsed] = json_document(text, "x.json", lambda message: None)
        value = parsed.data["weight"]
    if not isinstance(value, float):  # YAML 1.2 reads "1E+5" (no dot) as text: left as it is
        assert fmt == "yaml" and value == number
        return
    assert Decimal(value.text) == Decimal(number)  # the digits as written, not the float's


def test_print_fixed_keeps_the_digits(cli, tmp_path):
    path = tmp_path / "item.yaml"
    path.write_text(yaml_item("0.0000001"))
    result = cli("ewe", "validate", "--print-fixed", path)
    assert result.code == 0, result.all
    assert '"weight": 0.0000001' in result.out


@pytest.mark.parametrize("written, printed", [(".nan", "NaN"), (".inf", "Infinity"),
                                               ("-.inf", "-Infinity")])
def test_print_fixed_prints_json_even_for_nan(cli, tmp_path, written, printed):
    """--print-fixed promises JSON anything can read: NaN is not JSON, so it is printed as
    the text "NaN" (validating what was printed still refuses it), with a warning."""
    path = tmp_path / "item.yaml"
    path.write_text(yaml_item(written))
    result = cli("ewe", "validate", "--print-fixed", path)
    assert result.code == 1, result.all

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    fixed = json.loads(result.out, parse_constant=refuse)
    assert fixed["merchandise"][0]["weight"] == printed
    assert (f"warning: {path}:7 item 1 merchandise.0.weight: {printed} is not a number JSON "
            f'can hold: printed as the text "{printed}"') in result.err


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_body_that_is_not_strict_json_is_shown_as_text_in_dry_run_json(tmp_path, capsys,
                                                                          constant):
    """A body holding NaN (Python's json reads and writes it; no other JSON reader does):
    `--dry-run -o json` shows it as the text sent, so stdout stays valid JSON."""
    from shipctl import runner
    from shipctl.app import Application
    from shipctl.runner import RunOptions

    path = tmp_path / "b.json"
    path.write_text(f'{{"amount": {constant}, "token": "tok-value-3"}}')
    app = Application()
    app.use(json_mode=True)
    assert runner.run(app, _Signed.make(None), RunOptions(paths=[str(path)],
                                                          dry_run=True)) == 0

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    document = json.loads(capsys.readouterr().out, parse_constant=refuse)
    body = document["results"][0]["request"]["body"]
    assert body == f'{{"amount": {constant}, "token": "********"}}'


@pytest.mark.parametrize("json_mode", [False, True])
def test_a_lone_surrogate_in_a_label_is_printed_as_its_escape(tmp_path, capsys, monkeypatch,
                                                             json_mode):
    """A label from input text with a "\\ud800" escape (no UTF-8 holds it) crashed the dry
    run ("UnicodeEncodeError", whatever the provider): it is printed as that escape, which
    in -o json is the JSON escape itself."""
    from shipctl import batch, runner
    from shipctl.app import Application
    from shipctl.runner import RunOptions

    provider = _Signed.make(None)

    def jobs(items, warn):
        for item in items:
            yield batch.Job(id=item.where(), label=item.data["id"], where=item.where(),
                            payload={"id": "ascii"})

    provider.jobs = jobs
    monkeypatch.chdir(tmp_path)  # a short name: a long one is shortened in the "#" line
    path = "b.json"
    (tmp_path / path).write_text('{"id": "A\\ud800"}')
    app = Application()
    app.use(json_mode=json_mode)
    assert runner.run(app, provider, RunOptions(paths=[str(path)], dry_run=True)) == 0
    out = capsys.readouterr().out
    if json_mode:
        assert json.loads(out)["results"][0]["label"] == "A\ud800"
    else:
        assert f"# {path}:1 item 1  A\\ud800\n" in out
