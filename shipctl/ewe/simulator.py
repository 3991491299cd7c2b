"""The EWE "Jerry" API in the sandbox (docs/conventions.md, Sandbox): POST
{prefix}/modifyShipment.

Answers as the real API does — HTTP 200 with ``{"success", "message": [...], "code"}`` — and
checks in the real API's order: the body (10), msgType (3), username (101), digest (104), then
every field rule of docs/ewe.md (10, one message per problem), else 0 "Modify success!". It
counts how many times each order (its referenceNo, else its articleId) was modified, so a test
can prove nothing was applied twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from shipctl import nesting
from shipctl.ewe import MSG_TYPE, SANDBOX_PASSWORD, SANDBOX_USERNAME, digest
from shipctl.sandbox.contract import SimRequest, SimResponse, Simulator, error_response

PREFIX = "/eweApi/ewe/api"  # docs/ewe.md: https://jerrytest.ewe.com.au/eweApi/ewe/api/<op>
ENVELOPE = ("username", "digest", "msgType")  # supplied by the client, not the item
# docs/ewe.md, "Hosts and paths": the API's other operations, not simulated.
OTHER_OPERATIONS = frozenset(
    {"cancelShipment", "pushShipment", "shipmentDetails", "getShipmentsStatus", "getOrderList"}
)


def answer(code: int, *messages: str) -> SimResponse:
    """EWE's answer shape (the Modify Shipment documentation's "Response", docs/ewe.md): always
    HTTP 200; ``code`` says what happened."""
    return SimResponse.json(
        {"success": code == 0, "message": list(messages), "code": code},
        headers={"Content-Type": "application/json;charset=UTF-8"},
    )


class EweSimulator(Simulator):
    name = "ewe"
    prefix = PREFIX

    def __init__(
        self, username: str = SANDBOX_USERNAME, password: str = SANDBOX_PASSWORD
    ) -> None:
        self.username = username
        self._digest = digest.compute(username, MSG_TYPE, password)
        self._lock = threading.Lock()
        self._applied: Counter[str] = Counter()
        self._rejected: Counter[int] = Counter()
        # when each applied request arrived (epoch seconds), so tests can measure client pacing
        self._arrivals: list[float] = []

    def handle(self, request: SimRequest) -> SimResponse:
        operation = request.path[len(self.prefix) :].strip("/")
        if operation != MSG_TYPE and operation not in OTHER_OPERATIONS:
            return error_response(404, f"no EWE operation at {request.path}")
        if request.method != "POST":
            return error_response(405, "use POST", Allow="POST")
        if operation != MSG_TYPE:
            return self._reject(3, "Unsupported open API method")
        return self.modify_shipment(request.body)

    def transient_fault(self, request: SimRequest) -> SimResponse | None:
        return answer(2, "Service is temporarily unavailable")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "applied": dict(self._applied),
                "rejected": {str(code): n for code, n in self._rejected.items()},
                "arrivals": list(self._arrivals),
            }

    def reset(self) -> None:
        with self._lock:
            self._applied.clear()
            self._rejected.clear()
            self._arrivals.clear()

    # -- modifyShipment -------------------------------------------------------------------------
    def modify_shipment(self, body: bytes) -> SimResponse:
        arrived = time.time()
        try:
            # Any Content-Type (the documentation shows application/javascript). Decimals are
            # kept as written, as EWE's Java side reads them (a float would make a 351-digit
            # one inf), so the field rules are the very ones shipctl checks with.
            from shipctl.inputs.items import WrittenFloat

            data = nesting.loads(body.decode("utf-8"), parse_float=WrittenFloat)
        except ValueError:  # not JSON, not UTF-8 (a ValueError too), too deep, huge ints
            data = None
        if not isinstance(data, dict):
            return self._reject(10, "Invalid parameter: body is not a JSON object")
        if data.get("msgType") != MSG_TYPE:
            return self._reject(3, "Unsupported open API method")
        if data.get("username") != self.username:
            return self._reject(101, "Invalid API key")
        sent = data.get("digest")
        if not isinstance(sent, str) or not digest.matches(self._digest, sent):
            return self._reject(104, "Incorrect signature")

        from shipctl.ewe import models  # the field rules; pydantic, loaded on first use

        item = {key: value for key, value in data.items() if key not in ENVELOPE}
        checked = models.check(item)
        if checked.problems:
            return self._reject(10, *(str(problem) for problem in checked.problems))
        with self._lock:
            self._applied[str(checked.key)] += 1  # referenceNo, else articleId
            self._arrivals.append(round(arrived, 6))
        return answer(0, "Modify success!")

    def _reject(self, code: int, *messages: str) -> SimResponse:
        with self._lock:
            self._rejected[code] += 1
        return answer(code, *messages)


def create() -> EweSimulator:
    return EweSimulator()
