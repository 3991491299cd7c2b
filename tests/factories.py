"""Test data every test file shares: one valid EWE modifyShipment request, the envelope the
sandbox accepts, and the sandbox's digest.

    from factories import SANDBOX_DIGEST, ewe_envelope, ewe_request

``ewe_request`` is a request as a user writes it (no envelope); the body that goes on the wire
to the sandbox is ``{**ewe_envelope(), **ewe_request(ref)}``. Each call returns new dicts, so a
test may change nested fields in place. When a test's expectations depend on a field's value,
it passes that value explicitly rather than relying on the default below.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shipctl.ewe import MSG_TYPE, SANDBOX_PASSWORD, SANDBOX_USERNAME
from shipctl.ewe import digest as ewe_digest

# The digest every request to the sandbox carries: secret, so the conftest's audit looks for it.
SANDBOX_DIGEST = ewe_digest.compute(SANDBOX_USERNAME, MSG_TYPE, SANDBOX_PASSWORD)

# For a stand-in server's serve_forever: it checks for shutdown() this often. The default, 0.5 s,
# made every stop wait for it, half a second per test that starts one.
QUICK_STOP = {"poll_interval": 0.05}


class LoopbackServer(ThreadingHTTPServer):
    """A stand-in server on 127.0.0.1 that serves with HANDLER from the moment it is made, a
    thread per connection; ``lock`` guards what its handler records. Stop: ``shutdown()``
    then ``server_close()``."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)
        threading.Thread(target=self.serve_forever, kwargs=QUICK_STOP, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def say_nothing(connection: socket.socket) -> None:
    """Hold CONNECTION without an answer until the client gives up and closes it (10 s at
    most): a lost answer, as a client sees it."""
    connection.settimeout(10)
    try:
        connection.recv(1)
    except OSError:
        pass

EWE_REFERENCE = "TEST08030001"  # the referenceNo of EWE's documented example


def ewe_request(ref: str = EWE_REFERENCE, **changes) -> dict:
    """One valid modifyShipment request: the example of EWE's "Modify Shipment"
    API documentation (docs/ewe.md, Examples) made valid —
    with a reason, one merchandise line, no ``version`` (shipctl defaults it) and no envelope.
    ``changes`` replace top-level fields (``from`` is a keyword: ``**{"from": {...}}``)."""
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


def ewe_envelope(**changes) -> dict:
    """The envelope the sandbox accepts (its username, msgType and digest); ``changes`` replace
    or add fields, e.g. ``ewe_envelope(digest="wrong")``."""
    return {"username": SANDBOX_USERNAME, "digest": SANDBOX_DIGEST, "msgType": MSG_TYPE,
            **changes}
