"""`shipctl ecom replay` end to end over real HTTP: a webhook on 127.0.0.1 records what arrives,
so order, dedupe, blocking and authentication are proven by what a receiver saw."""

from __future__ import annotations

import base64
import json
import random

import pytest
from conftest import SAMPLES
from factories import Receiver, basic, documented_success, ecom_push, write_jsonl

import shipctl.ecom

BATCH = SAMPLES / "ecom" / "batch.jsonl"
PASSWORD = "pässwörd:€ 1"  # non-ASCII, a colon and a space: any password a person may choose


@pytest.fixture
def receiver(monkeypatch):
    """``receiver(answer=..., latency=...)``: a started webhook; the profile points at it."""
    started: list[Receiver] = []

    def start(**options) -> Receiver:
        server = Receiver(**options)
        started.append(server)
        monkeypatch.setenv("SHIPCTL_ECOM_URL", server.url)
        monkeypatch.setenv("SHIPCTL_ECOM_USERNAME", "ops")
        monkeypatch.setenv("SHIPCTL_ECOM_PASSWORD", PASSWORD)
        return server

    yield start
    for server in started:
        server.stop()


def _batch_lines() -> list[dict]:
    return [json.loads(line) for line in BATCH.read_text().splitlines()]


def _chronological(scans: list[dict]) -> list[str]:
    return [s["status_update_number"] for s in
            sorted(scans, key=lambda s: (s["datetime"], int(s["status_update_number"])))]


def test_the_sample_batch_arrives_in_order_per_awb_without_the_duplicate(cli, receiver):
    hook = receiver()
    result = cli("ecom", "replay", BATCH, "-j", "4")
    assert result.code == 0, result.all
    scans = _batch_lines()
    unique = list({s["status_update_number"]: s for s in scans}.values())
    assert len(unique) == len(scans) - 1
    for awb in {s["awb"] for s in scans}:
        assert hook.numbers(awb) == _chronological([s for s in unique if s["awb"] == awb])
    assert sorted(hook.numbers()) == sorted(s["status_update_number"] for s in unique)
    assert "duplicate 1" in result.out and f"succeeded {len(unique)}" in result.out
    duplicate = [line for line in result.err.splitlines() if line.startswith("duplicate")]
    assert len(duplicate) == 1 and "#44590188" in duplicate[0] and "batch.jsonl:7" in duplicate[0]
    assert (f"warning: {BATCH}:7 item 7: status_update_number 44590188 came before, at"
            f" {BATCH}:3 item 3; sent once") in result.err


def test_what_is_sent_is_the_push_with_basic_auth_in_utf8(cli, receiver):
    hook = receiver()
    result = cli("ecom", "replay", SAMPLES / "ecom" / "push.json")
    assert result.code == 0, result.all
    (arrival,) = hook.arrivals
    assert arrival.headers["Authorization"] == "Basic " + base64.b64encode(
        "ops:pässwörd:€ 1".encode()).decode()
    assert arrival.headers["Content-Type"] == "application/json"
    assert json.loads(arrival.body) == json.loads((SAMPLES / "ecom" / "push.json").read_text())
    assert arrival.headers["User-Agent"].startswith("shipctl/")


def test_flags_override_the_profile_and_headers_are_sent(cli, receiver, tmp_path):
    hook = receiver()
    other = Receiver()
    try:
        result = cli("ecom", "replay", SAMPLES / "ecom" / "rts.json", "--to", other.url,
                     "--username", "flag-user", "--password-stdin",
                     "--header", "username:flag-user", "-H", "X-Trace: a:b",
                     input="s3cret-ünïcode\n")
        assert result.code == 0, result.all
        assert hook.arrivals == []
        (arrival,) = other.arrivals
        assert arrival.headers["Authorization"] == basic("flag-user", "s3cret-ünïcode")
        assert arrival.headers["username"] == "flag-user"
        assert arrival.headers["X-Trace"] == "a:b"
        assert "s3cret-ünïcode" not in result.all
    finally:
        other.stop()


def test_auth_headers_sends_username_and_password_headers(cli, receiver, monkeypatch):
    hook = receiver()
    monkeypatch.setenv("SHIPCTL_ECOM_PASSWORD", "plain-ascii:pw")
    result = cli("ecom", "replay", SAMPLES / "ecom" / "push.json", "--auth", "headers")
    assert result.code == 0, result.all
    (arrival,) = hook.arrivals
    assert arrival.headers["username"] == "ops"
    assert arrival.headers["password"] == "plain-ascii:pw"
    assert "Authorization" not in arrival.headers
    dry = cli("ecom", "replay", SAMPLES / "ecom" / "push.json", "--auth", "headers", "--dry-run")
    assert "password: ********" in dry.out and "plain-ascii:pw" not in dry.all


def test_auth_headers_refuses_what_a_header_cannot_carry(cli, receiver):
    hook = receiver()  # the profile's password is not ASCII
    result = cli("ecom", "replay", SAMPLES / "ecom" / "push.json", "--auth", "headers")
    assert result.code == 2
    assert "--auth headers: the password is not printable ASCII" in result.err
    assert "use --auth basic" in result.err
    assert hook.arrivals == []


def test_an_authorization_header_replaces_basic_auth(cli, receiver, monkeypatch):
    hook = receiver()
    monkeypatch.delenv("SHIPCTL_ECOM_USERNAME")
    monkeypatch.delenv("SHIPCTL_ECOM_PASSWORD")
    result = cli("ecom", "replay", SAMPLES / "ecom" / "push.json",
                 "-H", "Authorization: Bearer tok-123456")
    assert result.code == 0, result.all
    assert hook.arrivals[0].headers["Authorization"] == "Bearer tok-123456"
    assert "tok-123456" not in result.all


def test_unsorted_input_arrives_sorted_per_awb_with_awbs_concurrent(cli, receiver, tmp_path):
    hook = receiver(latency=0.02)
    rng = random.Random(3)
    scans = []
    for a in range(8):
        for n in range(6):
            scans.append(ecom_push(awb=f"80000000{a:02d}", number=str(1000 * a + 10 - n),
                                   when=f"2024-03-0{1 + n % 3} 1{n}:00:00"))
    rng.shuffle(scans)
    write_jsonl(tmp_path / "scans.jsonl", scans)
    result = cli("ecom", "replay", tmp_path / "scans.jsonl", "-j", "8")
    assert result.code == 0, result.all
    for a in range(8):
        awb = f"80000000{a:02d}"
        assert hook.numbers(awb) == _chronological([s for s in scans if s["awb"] == awb])
    # different AWBs interleave: the first six arrivals are not all one AWB's
    assert len({arrival.awb for arrival in hook.arrivals[:6]}) > 1


def test_more_scans_than_the_sort_buffer_holds_are_sorted_on_disk(cli, receiver, tmp_path,
                                                                   monkeypatch):
    from shipctl.batch.sorter import ExternalSorter
    from shipctl.ecom import replay

    spills = []
    spill = ExternalSorter._spill

    def spy(self):
        spills.append(self.memory)
        spill(self)

    monkeypatch.setattr(replay, "SORT_MEMORY", 4096)  # a few scans, then the disk
    monkeypatch.setattr(ExternalSorter, "_spill", spy)
    hook = receiver()
    rng = random.Random(5)
    scans = [ecom_push(awb=f"7{rng.randrange(12):09d}", number=str(rng.randrange(10**8)),
                       when=f"2024-03-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:"
                            f"{rng.randrange(60):02d}:00")
             for _ in range(400)]
    write_jsonl(tmp_path / "big.jsonl", scans)
    result = cli("ecom", "replay", tmp_path / "big.jsonl", "-j", "6", "--no-dedupe")
    assert result.code == 0, result.all
    assert spills == [4096]  # the sort went to disk, once
    assert len(hook.arrivals) == 400
    for awb in {s["awb"] for s in scans}:
        assert hook.numbers(awb) == _chronological([s for s in scans if s["awb"] == awb])


def test_a_refused_scan_blocks_the_later_scans_of_its_awb_only(cli, receiver, tmp_path):
    def refuse_second_of_a(arrival):
        if arrival.number == "2":
            return 200, json.dumps({"awb": arrival.awb, "status": False,
                                    "reason": "out of sequence", "status_update_number": 2}
                                   ).encode()
        return documented_success(arrival)

    hook = receiver(answer=refuse_second_of_a)
    a = [ecom_push(awb="1111", number=str(n), when=f"2024-03-01 10:00:0{n}") for n in (1, 2, 3, 4)]
    b = [ecom_push(awb="2222", number=str(n), when=f"2024-03-01 10:00:0{n - 10}")
         for n in (11, 12, 13)]
    write_jsonl(tmp_path / "s.jsonl", [a[3], b[2], a[2], b[0], a[1], b[1], a[0]])
    result = cli("ecom", "replay", tmp_path / "s.jsonl", "-j", "4", "-o", "json")
    assert result.code == 1
    assert hook.numbers("1111") == ["1", "2"]  # 3 and 4 never reach the receiver
    assert hook.numbers("2222") == ["11", "12", "13"]
    document = json.loads(result.out)
    by_label = {r["label"]: r for r in document["results"]}
    assert by_label["1111 #2"]["status"] == "failed"
    assert by_label["1111 #2"]["message"] == "refused by the receiver: out of sequence"
    assert by_label["1111 #3"]["status"] == "blocked"
    assert by_label["1111 #4"]["status"] == "blocked"
    assert {by_label[f"2222 #{n}"]["status"] for n in (11, 12, 13)} == {"succeeded"}
    assert document["summary"]["blocked"] == 2 and document["summary"]["failed"] == 1


def test_an_invalid_scan_is_not_sent_and_blocks_its_awb(cli, receiver, tmp_path):
    hook = receiver()
    scans = [ecom_push(awb="1111", number="1", when="2024-03-01 10:00:00"),
             ecom_push(awb="1111", number="2", when="2024-03-01 11:00:00", reason_code="bad"),
             ecom_push(awb="1111", number="3", when="2024-03-01 12:00:00"),
             ecom_push(awb="2222", number="4", when="2024-03-01 12:00:00")]
    write_jsonl(tmp_path / "s.jsonl", scans)
    result = cli("ecom", "replay", tmp_path / "s.jsonl")
    assert result.code == 1
    assert sorted(hook.numbers()) == ["1", "4"]
    assert "invalid    1111 #2  " in result.err
    assert f"{tmp_path / 's.jsonl'}:2 item 2 reason_code: must start with" in result.err
    blocked = [line for line in result.err.splitlines() if line.startswith("blocked")]
    assert len(blocked) == 1 and "1111 #3" in blocked[0] and "was invalid" in blocked[0]


@pytest.mark.parametrize("when", ["yesterday 10:00", "03/01/2024 11:00", "", None])
def test_a_scan_whose_time_is_unknown_blocks_its_whole_awb(cli, receiver, tmp_path, when):
    """Which scans come after it cannot be known: none of its AWB's is sent (a gap is never
    followed by later states), whatever its text sorts like."""
    hook = receiver()
    scans = [ecom_push(awb="1111", number="1", when="2024-03-01 10:00:00"),
             ecom_push(awb="1111", number="2", when=when),
             ecom_push(awb="1111", number="3", when="2024-03-01 12:00:00"),
             ecom_push(awb="2222", number="4", when="2024-03-01 12:00:00")]
    write_jsonl(tmp_path / "s.jsonl", scans)
    result = cli("ecom", "replay", tmp_path / "s.jsonl", "-j", "1")
    assert result.code == 1
    assert hook.numbers() == ["4"]
    blocked = [line for line in result.err.splitlines() if line.startswith("blocked")]
    assert len(blocked) == 2


def test_a_duplicate_is_reported_and_sent_once_unless_no_dedupe(cli, receiver, tmp_path):
    hook = receiver()
    write_jsonl(tmp_path / "d.jsonl", [ecom_push(number="7"), ecom_push(number="7"),
                                       ecom_push(number="8", when="2024-03-06 00:00:00")])
    result = cli("ecom", "replay", tmp_path / "d.jsonl", "-o", "json")
    assert result.code == 0, result.all
    assert hook.numbers() == ["7", "8"]
    statuses = [r["status"] for r in json.loads(result.out)["results"]]
    assert sorted(statuses) == ["duplicate", "succeeded", "succeeded"]
    again = receiver()
    result = cli("ecom", "replay", tmp_path / "d.jsonl", "--no-dedupe")
    assert result.code == 0, result.all
    assert again.numbers() == ["7", "7", "8"]


def test_refused_credentials_stop_the_run_after_one_request(cli, receiver, tmp_path):
    hook = receiver(answer=lambda arrival: (401, b'{"status": false, "reason": "auth"}'))
    write_jsonl(tmp_path / "s.jsonl", [ecom_push(awb=str(n), number=str(n)) for n in range(1, 30)])
    result = cli("ecom", "replay", tmp_path / "s.jsonl", "-j", "1")
    assert result.code == 1
    assert len(hook.arrivals) == 1  # not retried, and nothing more was sent
    assert "HTTP 401: check ecom credentials" in result.err
    # the webhook refused them (Ecom is the sender being imitated), and they may be flags
    assert ("error: the webhook refused the credentials of profile 'default' (code 401: check"
            " --username/--password-stdin, or ecom.username and ecom.password)") in result.err
    assert "not sent 28" in result.out


def test_403_is_refused_credentials_too(cli, receiver):
    hook = receiver(answer=lambda arrival: (403, b""))
    result = cli("ecom", "replay", BATCH, "-j", "1")
    assert result.code == 1
    assert len(hook.arrivals) == 1
    assert "HTTP 403: check ecom credentials" in result.err


def test_string_status_and_answers_without_json(cli, receiver, tmp_path):
    answers = {"1": (200, b'{"status": "true"}'), "2": (200, b"OK"),
               "3": (200, b'{"awb": "other", "status": true}'),
               "4": (200, b'{"status": "false", "reason": "closed"}')}
    hook = receiver(answer=lambda arrival: answers[arrival.number])
    write_jsonl(tmp_path / "s.jsonl", [ecom_push(awb=f"9{n}", number=n) for n in "1234"])
    result = cli("ecom", "replay", tmp_path / "s.jsonl", "-o", "json")
    assert result.code == 1
    assert len(hook.arrivals) == 4
    records = {r["label"]: r for r in json.loads(result.out)["results"]}
    assert records["91 #1"]["status"] == "succeeded"
    assert records["92 #2"]["status"] == "succeeded"
    assert "without a JSON answer" in records["92 #2"]["message"]
    assert records["93 #3"]["status"] == "succeeded"
    assert records["93 #3"]["detail"]["warnings"] == [
        "the answer's awb 'other' is not the one sent"]
    assert records["94 #4"]["status"] == "failed"
    assert records["94 #4"]["message"] == "refused by the receiver: closed"


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_json_lines_go_as_written(cli, receiver, tmp_path, source):
    """An export of pushes another sender wrote (compact, \\u escapes, its own key order)
    is re-sent byte for byte; a pretty-printed file is sent in replay's one spelling."""
    hook = receiver()
    lines = [json.dumps(ecom_push(number="1", city="Bengaluru – ಬೆಂಗಳೂರು"), separators=(",", ":")),
             json.dumps(dict(reversed(ecom_push(number="2").items())), separators=(",", ":"))]
    text = "".join(line + "\r\n" for line in lines)
    if source == "file":
        path = tmp_path / "captured.jsonl"
        path.write_text(text, encoding="utf-8")
        result = cli("ecom", "replay", path)
    else:
        result = cli("ecom", "replay", "-", input=text.encode("utf-8"))
    assert result.code == 0, result.all
    assert [a.body for a in hook.arrivals] == [line.encode() for line in lines]

    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(ecom_push(number="3"), indent=2))
    assert cli("ecom", "replay", pretty).code == 0
    assert hook.arrivals[-1].body == json.dumps(ecom_push(number="3")).encode()


def test_dry_run_masks_the_auth_and_sends_nothing(cli, receiver):
    hook = receiver()
    result = cli("ecom", "replay", BATCH, "--dry-run")
    assert result.code == 0, result.all
    assert hook.arrivals == []
    assert "Authorization: Basic ********" in result.out
    token = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    assert token not in result.all and PASSWORD not in result.all
    # the requests in the order they would go: 44590101 (the earliest scan) first
    assert result.out.index("44590101") < result.out.index("44590188") < result.out.index(
        "44590377")
    # the duplicate (#44590188 again) is shown as a real run would settle it: not sent
    assert "dry run: 11 request(s) built, 0 invalid, 1 duplicate" in result.err
    assert result.out.count("#44590188\n") == 1


def test_journal_resume_skips_what_was_delivered(cli, receiver, tmp_path):
    hook = receiver()
    journal = tmp_path / "replay.db"
    first = cli("ecom", "replay", BATCH, "--journal", journal)
    assert first.code == 0, first.all
    delivered = len(hook.arrivals)
    second = cli("ecom", "replay", BATCH, "--journal", journal, "--report",
                 tmp_path / "r.jsonl")
    assert second.code == 0, second.all
    assert len(hook.arrivals) == delivered  # nothing sent twice
    assert f"skipped {delivered}" in second.out
    report = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert {r["status"] for r in report} == {"skipped", "duplicate"}


@pytest.mark.parametrize(("args", "words"), [
    (["--username", "o:ps"], "--username contains ':'"),
    (["-H", "no colon"], "must be NAME:VALUE"),
    (["--password-stdin", "-"], "--password-stdin reads the password from stdin"),
])
def test_usage_errors_send_nothing(cli, receiver, args, words):
    hook = receiver()
    result = cli("ecom", "replay", BATCH, *args, input="pw\n")
    assert result.code == 2
    assert words in result.err
    assert hook.arrivals == []


def test_a_colon_in_the_profiles_username_is_a_usage_error(cli, receiver, monkeypatch):
    hook = receiver()
    monkeypatch.setenv("SHIPCTL_ECOM_USERNAME", "o:ps")
    result = cli("ecom", "replay", BATCH)
    assert result.code == 2
    assert "contains ':'" in result.err
    assert hook.arrivals == []


def test_missing_settings_name_the_key(cli, monkeypatch):
    result = cli("ecom", "replay", BATCH)
    assert result.code == 2
    assert "ecom.url" in result.err


@pytest.mark.skipif(shipctl.ecom.PROVIDER.simulator is None,
                    reason="the Ecom sandbox receiver is not registered yet")
def test_sandbox_replay_with_no_config(cli):
    result = cli("--sandbox", "ecom", "replay", BATCH)
    assert result.code == 0, result.all
    assert "succeeded 11" in result.out and "duplicate 1" in result.out


def test_nan_and_lone_surrogates_are_not_sent_and_every_output_still_writes(
        cli, receiver, tmp_path):
    """JSON allows "\\ud800" and json reads NaN: neither may reach a receiver, and the run's
    report, journal and -o json must still be written (they crashed on the surrogate)."""
    hook = receiver()
    good = ecom_push(awb="3333", number="7")
    lines = [json.dumps(good),
             json.dumps(ecom_push(awb="80123\ud800", number="8")),
             json.dumps(ecom_push(awb="4444", number="9")).replace('"Vadodara"', "NaN")]
    assert "NaN" in lines[2]
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    result = cli("ecom", "replay", tmp_path / "s.jsonl", "--report", tmp_path / "r.csv",
                 "--journal", tmp_path / "j.db", "-o", "json")
    assert result.code == 1
    assert hook.numbers() == ["7"], result.err
    records = sorted(json.loads(result.out)["results"], key=lambda r: r["index"])
    assert [r["status"] for r in records] == ["succeeded", "invalid", "invalid"]
    assert "80123\\ud800" in (tmp_path / "r.csv").read_text()
