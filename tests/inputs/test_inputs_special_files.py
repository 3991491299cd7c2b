"""FIFOs, sockets and devices among the input files (docs/conventions.md, Input files).

Inside a directory they are skipped with a warning naming each: a FIFO that nobody writes
would block the read forever, a device would never end. Given by name on the command line,
one is read as any file is (``ewe validate <(generate)`` is a FIFO too).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import run_shipctl
from factories import ewe_request

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")


def write_request(path: Path, ref: str) -> None:
    path.write_text(json.dumps(ewe_request(ref)), encoding="utf-8")


def make_socket(path: Path, monkeypatch) -> socket.socket:
    # bound by a relative name: a UNIX socket's path is limited to ~100 bytes
    monkeypatch.chdir(path.parent)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path.name)
    return sock


@pytest.mark.timeout(120)
def test_fifo_socket_and_device_inside_a_directory_are_skipped_with_a_warning(
        tmp_path, monkeypatch):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_request(inputs / "a.json", "TEST00000001")
    os.mkfifo(inputs / "b.json")  # nobody ever writes it
    sock = make_socket(inputs / "c.jsonl", monkeypatch)
    (inputs / "d.yaml").symlink_to("/dev/zero")
    write_request(inputs / "e.json", "TEST00000005")
    try:
        result = run_shipctl("ewe", "validate", str(inputs), timeout=60)
    finally:
        sock.close()

    assert result.code == 0, result.err
    assert "TEST00000001" in result.out and "TEST00000005" in result.out
    assert "2 items: 2 valid, 0 invalid" in result.out
    for name, kind in [("b.json", "FIFO"), ("c.jsonl", "socket"), ("d.yaml", "device")]:
        line = next(line for line in result.err.splitlines() if f"in/{name}" in line)
        assert "skipped" in line and kind in line
    assert "Traceback" not in result.err


@pytest.mark.timeout(120)
def test_fifo_in_a_subdirectory_is_skipped_with_recursion(tmp_path):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    write_request(inputs / "a.json", "TEST00000001")
    os.mkfifo(inputs / "sub" / "b.jsonl")
    write_request(inputs / "sub" / "c.json", "TEST00000003")

    result = run_shipctl("ewe", "validate", "-R", str(inputs), timeout=60)

    assert result.code == 0, result.err
    assert "2 items: 2 valid, 0 invalid" in result.out
    assert "sub/b.jsonl: skipped, a FIFO" in result.err


@pytest.mark.timeout(120)
def test_directory_holding_only_a_fifo_has_no_payload_files(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    os.mkfifo(inputs / "b.json")

    result = run_shipctl("ewe", "validate", str(inputs), timeout=60)

    assert result.code == 2
    assert "b.json: skipped, a FIFO" in result.err
    assert "no payload files" in result.err


@pytest.mark.timeout(120)
def test_bulk_dry_run_warns_once_and_builds_the_regular_files(tmp_path, sandbox):
    sandbox()  # credentials for the dry run's preview
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_request(inputs / "a.json", "TEST00000001")
    os.mkfifo(inputs / "b.json")

    result = run_shipctl("ewe", "modify", "--dry-run", str(inputs), timeout=60)

    assert result.code == 0, result.err
    assert "TEST00000001" in result.out
    assert result.err.count("b.json: skipped, a FIFO") == 1  # two passes, one warning


def feed(fifo: Path, data: bytes, deadline: float) -> threading.Thread:
    """Write ``data`` to ``fifo`` once a reader opens it (gives up at ``deadline``)."""

    def write() -> None:
        while time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until a reader is there
            except OSError:
                time.sleep(0.02)
                continue
            os.set_blocking(fd, True)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(120)
def test_fifo_given_by_name_is_read(tmp_path):
    fifo = tmp_path / "requests.jsonl"
    os.mkfifo(fifo)
    lines = [json.dumps(ewe_request(f"TEST0000000{i}")) for i in (1, 2)]
    writer = feed(fifo, ("\n".join(lines) + "\n").encode(), time.monotonic() + 60)

    result = run_shipctl("ewe", "validate", str(fifo), timeout=60)
    writer.join(5)

    assert result.code == 0, result.err
    assert "2 items: 2 valid, 0 invalid" in result.out
    assert "skipped" not in result.err
