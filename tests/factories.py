"""What the tests build, one section per provider and one for the stand-in servers:

    from factories import LoopbackServer, ewe_request, fynd_sample, ecom_push, write_jsonl

Each builder returns new dicts, so a test may change nested fields in place. When a test's
expectations depend on a field's value, it passes that value explicitly rather than relying on
a builder's default.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from shipctl.ewe import MSG_TYPE, SANDBOX_PASSWORD, SANDBOX_USERNAME
from shipctl.ewe import digest as ewe_digest

REPO = Path(__file__).resolve().parent.parent


def write_jsonl(path: Path, bodies: Iterable[Any]) -> None:
    """BODIES as a JSON Lines input file, one document a line."""
    path.write_text("".join(json.dumps(body) + "\n" for body in bodies))


# -- servers -----------------------------------------------------------------------------------

# How often a stand-in server's serve_forever checks for shutdown(): every stop waits for it,
# and the standard library's default is a noticeable wait for each test that starts a server.
QUICK_STOP = {"poll_interval": 0.05}


class LoopbackServer(ThreadingHTTPServer):
    """A stand-in server on 127.0.0.1 (PORT, or any free one) that serves with HANDLER from the
    moment it is made, a thread per connection, over TLS when given a context; ``lock`` guards
    what its handler records. Stop: ``close()``."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), handler)
        self.scheme = "http"
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.serve_forever, kwargs=QUICK_STOP, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def say_nothing(connection: socket.socket) -> None:
    """Hold CONNECTION without an answer until the client gives up and closes it (10 s at
    most): a lost answer, as a client sees it."""
    connection.settimeout(10)
    try:
        connection.recv(1)
    except OSError:
        pass


def basic(username: str, password: str) -> str:
    """An HTTP Basic Authorization header's value."""
    token = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


# -- EWE ---------------------------------------------------------------------------------------

# The digest every request to the sandbox carries: secret, so the conftest's audit looks for it.
SANDBOX_DIGEST = ewe_digest.compute(SANDBOX_USERNAME, MSG_TYPE, SANDBOX_PASSWORD)
EWE_REFERENCE = "TEST08030001"  # the referenceNo of EWE's documented example


def ewe_request(ref: str = EWE_REFERENCE, **changes: Any) -> dict:
    """One valid modifyShipment request as a user writes it: the example of EWE's "Modify
    Shipment" API documentation (docs/ewe.md, Examples) made valid — with a reason, one
    merchandise line, no ``version`` (shipctl defaults it) and no envelope. ``changes`` replace
    top-level fields (``from`` is a keyword: ``**{"from": {...}}``). The body that goes on the
    wire to the sandbox is ``{**ewe_envelope(), **ewe_request(ref)}``."""
    data = {
        "referenceNo": ref,
        "articleId": "ABC20000000220008833",
        "reason": "Receiver moved",
        "from": {
            "name": "Dummy Duck",
            "phone": "61407000000",
            "suburb": "Greenacre",
            "state": "NSW",
            "lines": [" 457 Waterloo Road"],
            "postcode": "2190",
        },
        "to": {
            "name": "MELBOURNE DC",
            "phone": "0284886811",
            "suburb": "Moorabbin Airport",
            "state": "VIC",
            "email": "123456@gmail.com",
            "lines": ["6 Chifley Drive"],
            "postcode": "3194",
        },
        "merchandise": [
            {"sku": "NG0000X1", "goodsName": "T-shirt", "quantity": "1", "weight": 1,
             "value": 10.99},
        ],
    }
    data.update(changes)
    return data


def ewe_envelope(**changes: Any) -> dict:
    """The envelope the sandbox accepts (its username, msgType and digest); ``changes`` replace
    or add fields, e.g. ``ewe_envelope(digest="wrong")``."""
    return {"username": SANDBOX_USERNAME, "digest": SANDBOX_DIGEST, "msgType": MSG_TYPE,
            **changes}


# -- Fynd --------------------------------------------------------------------------------------

# The samples: the six requests of Fynd's "Example Request Payload of Update Shipment Status
# API" page, by their number there.
FYND_SAMPLES = REPO / "sample_payloads" / "fynd"
FYND_SAMPLE_NAMES = {
    1: "01-full-confirmation",
    2: "02-bag-invoiced",
    3: "03-full-cancellation",
    4: "04-partial-confirmation",
    5: "05-partial-cancellation",
    6: "06-dp-assignment",
}


def fynd_sample(number: int) -> Any:
    """One valid updateShipmentStatus request: sample NUMBER, as `fynd apply` reads it."""
    path = FYND_SAMPLES / f"{FYND_SAMPLE_NAMES[number]}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def fynd_confirm(identifier: str, status: str = "bag_confirmed", **top: Any) -> dict:
    """The smallest valid updateShipmentStatus request: one whole shipment to STATUS; ``top``
    adds top-level keys."""
    return {"statuses": [{"shipments": [{"identifier": identifier, "products": []}],
                          "status": status}], **top}


# -- Ecom --------------------------------------------------------------------------------------

DOCUMENTED_NUMBER = "44591782"  # the status_update_number of the push in Ecom's manual


def ecom_push(awb: str = "8012345671", number: str = DOCUMENTED_NUMBER,
              when: str = "2024-03-05 14:07:09", code: str = "777", **changes: Any) -> dict:
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


def ecom_scan(number: str = "44590188", awb: str = "8012345671", **changes: Any) -> dict:
    """One valid v1 push of another kind: an in-scan at a facility; ``changes`` replace keys."""
    data = {
        "awb": awb,
        "datetime": "2024-03-01 19:40:05",
        "status": "In-scan",
        "reason_code": "002 - In-scan at Ecom facility",
        "reason_code_number": "002",
        "location": "DEL",
        "Employee": "Ravi Kumar",
        "status_update_number": number,
        "order_number": "ORDER-10041",
        "city": "New Delhi",
        "ref_awb": "",
    }
    data.update(changes)
    return data


class Arrival:
    """One push as a stand-in webhook received it."""

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


# (arrival) → (HTTP status, answer bytes)
Answer = Callable[[Arrival], tuple[int, bytes]]


def documented_success(arrival: Arrival) -> tuple[int, bytes]:
    """The answer of Ecom's manual to a push it took."""
    number = arrival.number
    echoed = int(number) if number.isdigit() else number
    return 200, json.dumps({"awb": arrival.awb, "status": True,
                            "status_update_number": echoed}).encode()


class Receiver:
    """A stand-in Ecom webhook on 127.0.0.1 recording every push in arrival order, for replay
    tests that prove order, dedupe and blocking by what a webhook actually saw."""

    def __init__(self, answer: Answer = documented_success, latency: float = 0.0) -> None:
        self.answer = answer
        self.latency = latency
        self.arrivals: list[Arrival] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out as two writes: without this, Nagle's algorithm
                # and the client's delayed ACK hold every answer back
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

        self.server = LoopbackServer(Handler)
        self.lock = self.server.lock
        self.url = self.server.url + "/ecom"

    def numbers(self, awb: str | None = None) -> list[str]:
        """status_update_numbers in arrival order (of one AWB)."""
        with self.lock:
            return [a.number for a in self.arrivals if awb is None or a.awb == awb]

    def stop(self) -> None:
        self.server.close()
