"""Ecom tests' shared data: one valid push, and a receiver on 127.0.0.1 that records what
arrives (``Receiver``), for replay tests that prove order, dedupe and blocking by what a
webhook actually saw.

    from ecom import Receiver, push
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from factories import QUICK_STOP

SEED_NUMBER = "44591782"


def push(awb: str = "8012345671", number: str = SEED_NUMBER, when: str = "2024-03-05 14:07:09",
         code: str = "777", **changes: Any) -> dict:
    """One valid v1 push (the payload of Ecom's manual, made real); ``changes`` replace keys."""
    data = {
        "awb": awb,
        "datetime": when,
        "status": "remark",
        "reason_code": f"{code} - RTS - Return To Shipper" if code == "777" else f"{code} - x",
        "reason_code_number": code,
        "location": "JRD",
        "Employee": "Name of Employee",
        "status_update_number": number,
        "order_number": "ORDER-1",
        "city": "Vadodara",
        "ref_awb": "",
    }
    data.update(changes)
    return data


def write_jsonl(path, bodies) -> None:
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))


class Arrival:
    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.body = body
        try:
            self.data = json.loads(body)
        except ValueError:
            self.data = {}

    @property
    def awb(self) -> str:
        return self.data.get("awb", "")

    @property
    def number(self) -> str:
        return self.data.get("status_update_number", "")


# (arrival) → (HTTP status, answer bytes); the default answers as Ecom's manual's success case
Answer = Callable[[Arrival], tuple[int, bytes]]


def seed_success(arrival: Arrival) -> tuple[int, bytes]:
    number = arrival.number
    echoed = int(number) if number.isdigit() else number
    return 200, json.dumps({"awb": arrival.awb, "status": True,
                            "status_update_number": echoed}).encode()


class Receiver:
    """A webhook on 127.0.0.1 recording every push in arrival order (thread-safe)."""

    def __init__(self, answer: Answer = seed_success, latency: float = 0.0) -> None:
        self.answer = answer
        self.latency = latency
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out as two writes: without this, Nagle's algorithm
                # and the client's delayed ACK add ~40 ms to every answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                arrival = Arrival(dict(self.headers.items()), self.rfile.read(length))
                with receiver.lock:
                    receiver.arrivals.append(arrival)
                if receiver.latency:
                    time.sleep(receiver.latency)
                status, body = receiver.answer(arrival)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ecom"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=QUICK_STOP,
                                       daemon=True)
        self.thread.start()

    def numbers(self, awb: str | None = None) -> list[str]:
        """status_update_numbers in arrival order (of one AWB)."""
        with self.lock:
            return [a.number for a in self.arrivals if awb is None or a.awb == awb]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def basic(username: str, password: str) -> str:
    token = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")
