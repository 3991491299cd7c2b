"""Capture and replay: listen → export → replay into a second listener gives byte-identical raw
bodies in the same per-AWB order."""

from __future__ import annotations

import json
import random

from conftest import SAMPLES
from factories import ecom_push

from ecom.test_listen import PASSWORD, USER, Listener


def per_awb(listener: Listener) -> dict[str, list[bytes]]:
    bodies: dict[str, list[bytes]] = {}
    for awb, _number, body, *_ in listener.rows():
        bodies.setdefault(awb, []).append(body)
    return bodies


def replay(cli, path, listener: Listener, *args: str):
    return cli("ecom", "replay", path, "--to", listener.url, "--username", USER,
               "--password-stdin", *args, input=PASSWORD + "\n")


def scans() -> list[dict]:
    """40 scans of 5 AWBs, shuffled, with non-ASCII text and a duplicate."""
    rng = random.Random(9)
    items = []
    for a in range(5):
        for s in range(8):
            items.append(ecom_push(awb=f"80100000{a}", number=str(7000 + a * 10 + s),
                                   when=f"2024-03-0{1 + s // 3} 1{s}:0{a}:00",
                                   city=rng.choice(["Vadodara", "Bengaluru – ಬೆಂಗಳೂರು",
                                                    "Pune"])))
    rng.shuffle(items)
    return [*items, items[3]]


def test_listen_export_replay_gives_byte_identical_bodies_in_the_same_order(cli, tmp_path):
    source = tmp_path / "scans.jsonl"
    source.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in scans()),
                      encoding="utf-8")
    first = Listener(tmp_path / "first.sqlite3")
    second = Listener(tmp_path / "second.sqlite3")
    try:
        sent = replay(cli, source, first, "-j", "8")
        assert sent.code == 0, sent.all
        # export while the first listener still runs: WAL readers do not stop it
        exported = cli("ecom", "export", "--store", first.store)
        assert exported.code == 0
        captured = tmp_path / "captured.jsonl"
        captured.write_text(exported.out, encoding="utf-8")
        again = replay(cli, captured, second, "-j", "8")
        assert again.code == 0, again.all
        assert "duplicate" not in again.err  # the store held each scan once
    finally:
        assert first.stop() == 0 and second.stop() == 0
    original, copied = per_awb(first), per_awb(second)
    assert len(original) == 5 and sum(map(len, original.values())) == 40
    assert copied == original  # same raw bytes, same order, for every AWB


def test_a_capture_from_another_sender_replays_byte_for_byte(cli, tmp_path):
    """Bodies as Ecom's servers write them, not as shipctl would: compact separators, \\u
    escapes, keys in another order. Replay sends each exported line as it is."""
    first = Listener(tmp_path / "first.sqlite3")
    second = Listener(tmp_path / "second.sqlite3")
    bodies = [
        json.dumps(ecom_push(number="901", status="Delivered – ok"),
                   separators=(",", ":")).encode(),
        json.dumps(dict(reversed(ecom_push(number="902", when="2024-03-06 10:00:00").items())),
                   ensure_ascii=False, separators=(", ", ":")).encode(),
    ]
    try:
        for body in bodies:
            assert first.post(data=body).status_code == 200
        captured = tmp_path / "captured.jsonl"
        captured.write_text(cli("ecom", "export", "--store", first.store).out, encoding="utf-8")
        assert replay(cli, captured, second).code == 0
    finally:
        first.stop()
        second.stop()
    assert [row[2] for row in second.rows()] == bodies


def test_the_sample_batch_round_trips_with_filters(cli, tmp_path):
    first = Listener(tmp_path / "first.sqlite3")
    second = Listener(tmp_path / "second.sqlite3")
    try:
        assert replay(cli, SAMPLES / "ecom" / "batch.jsonl", first).code == 0
        awb = first.rows()[0][0]
        exported = cli("ecom", "export", "--store", first.store, "--awb", awb)
        captured = tmp_path / "one-awb.jsonl"
        captured.write_text(exported.out, encoding="utf-8")
        assert replay(cli, captured, second).code == 0
    finally:
        first.stop()
        second.stop()
    assert per_awb(second) == {awb: per_awb(first)[awb]}


def test_a_pretty_printed_capture_replays_as_the_same_json(cli, tmp_path):
    """A sender that pretty-prints: export puts the JSON on one line (JSON Lines cannot hold
    line breaks), so the replayed bytes differ in layout only."""
    first = Listener(tmp_path / "first.sqlite3")
    second = Listener(tmp_path / "second.sqlite3")
    try:
        body = json.dumps(ecom_push(), indent=4, ensure_ascii=False).encode()
        assert first.post(data=body).status_code == 200
        captured = tmp_path / "captured.jsonl"
        captured.write_text(cli("ecom", "export", "--store", first.store).out)
        assert replay(cli, captured, second).code == 0
    finally:
        first.stop()
        second.stop()
    ((_, _, replayed, *_),) = second.rows()
    assert first.rows()[0][2] == body
    assert json.loads(replayed) == json.loads(body) and b"\n" not in replayed
