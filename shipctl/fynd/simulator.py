"""Fynd's Platform API in the sandbox: the token endpoint, status-internal, shipment details,
reasons.

Under the prefix ``/fynd`` (``fynd.url`` = sandbox base + ``/fynd``) the real paths of
docs/fynd.md follow:

- ``POST …/oauth/token``: Basic ``sandbox:sandbox-secret`` and ``grant_type=client_credentials``
  give ``{access_token, token_type, expires_in}``; anything else 401 (400 for a wrong grant);
- ``PUT …/shipment/status-internal``: a bearer token it issued (else 401), a body the request
  model accepts (else 400 ``{"success": false, "message"}``), then a per-shipment state machine
  on the illustrative map (``shipctl.fynd.states.NEXT``). A shipment it has not seen starts in
  ``placed`` with two lines of 10 units. ``bag_invoiced`` moves on to ``dp_assigned``
  (``final_state {"bag_invoiced": "dp_assigned"}``, example 2 of Fynd's Example Request
  Payload of Update Shipment Status API page). Partial quantities split a
  line: the units named move to ``status``, the rest to ``exclude_bags_next_state`` when it
  names a state, and stay where they are when it is null or "" (its examples 4 and 5).
  What Fynd refuses inside an HTTP 200 (an invalid transition, a missing reason, a shipment in
  two transitions, a locked shipment, a line or product identifier it does not have: "Not
  found bag_ids [..] against shipment_id ..") is a per-shipment entry with ``status: 400`` in
  the SDK's answer shape. Line N's product identifier is ``SKU-N``;
- ``GET …/order/v1.0/company/{company}/shipment-details?shipment_id=ID`` (the SDK's
  ``getShipmentById``): the shipment from the same state machine, one bag per line and state
  (``bag_id``, ``identifier``, ``line_number``, ``quantity``, ``current_status.status``);
  a shipment not moved yet is shown as it starts;
- ``GET …/shipments/{id}/bags/{bag}/state/{state}/reasons``: the reasons for a state.

``stats()`` counts tokens issued and, per shipment, transitions applied and refused, the units
of each line in each state (``bags``), the units each applied transition moved, summed per
line and state moved to (``moved``), and shipment-details reads (``reads``), so a test can
prove every shipment's units moved exactly once from the simulator's own state.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, unquote

from shipctl import nesting
from shipctl.fynd import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_COMPANY_ID, SANDBOX_PATH
from shipctl.fynd.states import AUTOMATIC, NEXT, STATES, has_reason, is_cancellation
from shipctl.sandbox.contract import SimRequest, SimResponse, Simulator

PREFIX = SANDBOX_PATH
TOKEN = re.compile(r"/service/panel/authentication/v1\.0/company/(?P<company>[^/]+)/oauth/token")
STATUS = re.compile(
    r"/service/platform/order-manage/v1\.0/company/(?P<company>[^/]+)/shipment/status-internal")
DETAILS = re.compile(r"/service/platform/order/v1\.0/company/(?P<company>[^/]+)/shipment-details")
REASONS = re.compile(
    r"/service/platform/order/v1\.0/company/(?P<company>[^/]+)/shipments/(?P<shipment>[^/]+)"
    r"/bags/(?P<bag>[^/]+)/state/(?P<state>[^/]+)/reasons")
LINES = (1, 2)  # a shipment the simulator has not seen: two lines …
UNITS = 10  # … of 10 units each, all `placed`
START = "placed"
SKU = "SKU-{0}"  # line N's product identifier, what products[].identifier may name
NOT_FOUND = "Not found bag_ids [{0}] against shipment_id {1}"  # docs/fynd.md, error no. 7
# What the reasons endpoint offers for a cancellation (docs/fynd.md's two, and one more).
CANCELLATION_REASONS = ((1, "Product Not Available"), (2, "Defective Product"),
                        (3, "Price Mismatch"))
INVALID_TRANSITION = "Invalid State Transition {0} detected for given entity"  # error no. 8


def answer(document: Any, status: int = 200, **headers: str) -> SimResponse:
    return SimResponse.json(document, status, headers=headers or None)


def failure(status: int, message: str, **headers: str) -> SimResponse:
    """Fynd's transport-level error shape (docs/fynd.md, "Response")."""
    return answer({"success": False, "message": message}, status, **headers)


def refused(identifier: str, message: str, exception: str = "ValidationError") -> dict[str, Any]:
    """A failed ShipmentResult inside an HTTP 200, as docs/fynd.md shows one."""
    return {"status": 400, "message": message, "code": "", "exception": exception,
            "stack_trace": "", "meta": {}, "identifier": identifier}


class _Refusal(Exception):
    def __init__(self, message: str, exception: str = "ValidationError") -> None:
        super().__init__(message)
        self.message = message
        self.exception = exception


class Tokens:
    """OAuth client credentials: the token endpoint, and the bearer tokens it issued."""

    def __init__(self, client_id: str, client_secret: str, lifetime: int) -> None:
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.lifetime = lifetime  # seconds
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # access token → monotonic expiry
        self._issued = 0
        self._unauthorized = 0

    def issue(self, request: SimRequest) -> SimResponse:
        """``POST …/oauth/token``: Basic client credentials and client_credentials grant."""
        given = request.headers.get("authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "basic" or not hmac.compare_digest(credentials.strip().encode(),
                                                                self._basic.encode()):
            with self._lock:
                self._unauthorized += 1
            return failure(401, "invalid client credentials",
                           **{"WWW-Authenticate": 'Basic realm="fynd"'})
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return failure(400, "unsupported grant_type: use client_credentials")
        token = "sbx-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.lifetime
            self._issued += 1
        return answer({"access_token": token, "token_type": "Bearer",
                       "expires_in": self.lifetime})

    def authorised(self, request: SimRequest) -> bool:
        """Whether REQUEST carries a bearer token issued here and not expired (else counted)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            ok = expiry is not None and time.monotonic() < expiry
            if not ok:
                self._unauthorized += 1
        return ok

    def revoke(self) -> None:
        with self._lock:
            self._tokens.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"tokens_issued": self._issued, "unauthorized": self._unauthorized}

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._issued = self._unauthorized = 0


class Shipments:
    """The state machine: each shipment's lines, the units of each line in each state, and
    what moved. One request's transitions are applied together, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bags: dict[str, dict[int, Counter[str]]] = {}  # shipment → line → state → units
        self._transitions: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._locked: set[str] = set()
        # shipment → line → state moved to → units, summed over applied transitions
        self._moved: dict[str, dict[int, Counter[str]]] = {}
        self._reads: Counter[str] = Counter()

    def apply(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``statuses`` answer to a request the model accepted: one result per shipment."""
        repeated = _repeated(data)
        statuses = []
        with self._lock:  # one request at a time: its shipments move together
            for transition in data["statuses"]:
                results = []
                for shipment in transition["shipments"]:
                    identifier = shipment["identifier"]
                    try:
                        if identifier in repeated:
                            raise _Refusal("Child bag ids are repeated in multiple transitions")
                        results.append(self._transition(data, transition, shipment))
                        self._transitions[identifier] += 1
                    except _Refusal as refusal:
                        self._refused[identifier] += 1
                        results.append(refused(identifier, refusal.message, refusal.exception))
                statuses.append({"shipments": results})
        return statuses

    def _transition(self, body: dict[str, Any], transition: dict[str, Any],
                    shipment: dict[str, Any]) -> dict[str, Any]:
        identifier = shipment["identifier"]
        target = transition["status"]
        excluded = transition.get("exclude_bags_next_state")
        excluded = excluded if isinstance(excluded, str) and excluded else None
        force = body.get("force_transition") is True
        lines = self._bags.get(identifier)
        if lines is None:
            lines = _fresh()
        if identifier in self._locked and body.get("unlock_before_transition") is not True:
            raise _Refusal("Entity is under complete lock for transition operations",
                           "LockError")
        selected, rest = _chosen(identifier, lines, shipment, target, force)
        _check_allowed(selected, target, force)
        moving_rest = excluded is not None and any(rest.values())
        if moving_rest:
            _check_allowed(rest, excluded, force)  # type: ignore[arg-type]
        cancels = is_cancellation(target) or (moving_rest and is_cancellation(excluded or ""))
        if cancels and not has_reason(shipment):
            raise _Refusal(f"ReasonError: Reason is missing for shipments {identifier}",
                           "ReasonError")

        reached = AUTOMATIC.get(target, target)
        _move(lines, selected, reached)
        moved = self._moved.setdefault(identifier, {})
        _count_moved(moved, selected, reached)
        if moving_rest:
            _move(lines, rest, excluded)  # type: ignore[arg-type]
            _count_moved(moved, rest, excluded)  # type: ignore[arg-type]
        self._bags[identifier] = lines
        if body.get("lock_after_transition") is True:
            self._locked.add(identifier)
        elif body.get("unlock_before_transition") is True:
            self._locked.discard(identifier)
        return {"status": 200, "final_state": {target: reached, "shipment_id": identifier},
                "identifier": identifier,
                "meta": {"bags": _units(lines)}}

    def details(self, identifier: str) -> dict[str, Any]:
        """The shipment as ``shipment-details`` shows it (counted as a read)."""
        with self._lock:
            self._reads[identifier] += 1
            lines = self._bags.get(identifier) or _fresh()
            bags = [_bag(identifier, line, state, n)
                    for line, units in sorted(lines.items())
                    for state, n in sorted(units.items()) if n]
            status = _shipment_status(lines)
            locked = identifier in self._locked
        return {"shipment_id": identifier, "shipment_status": status,
                "status": {"status": status, "shipment_id": identifier},
                "lock_status": locked,
                "total_bags": len(bags), "bags": bags}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "transitions": dict(self._transitions),
                "refused": dict(self._refused),
                "bags": {shipment: _units(lines) for shipment, lines in self._bags.items()},
                "locked": sorted(self._locked),
                "moved": {shipment: _units(lines) for shipment, lines in self._moved.items()},
                "reads": dict(self._reads),
            }

    def reset(self) -> None:
        with self._lock:
            for state in (self._bags, self._transitions, self._refused, self._locked,
                          self._moved, self._reads):
                state.clear()


class FyndSimulator(Simulator):
    """The endpoints: routing, authorisation and the request model in front of ``Tokens``
    and ``Shipments``."""

    name = "fynd"
    prefix = PREFIX

    def __init__(self, company_id: str = SANDBOX_COMPANY_ID, client_id: str = SANDBOX_CLIENT_ID,
                 client_secret: str = SANDBOX_CLIENT_SECRET, token_lifetime: int = 3600) -> None:
        self.company_id = company_id
        self.tokens = Tokens(client_id, client_secret, token_lifetime)
        self.shipments = Shipments()
        self._lock = threading.Lock()
        self._invalid_requests = 0

    def handle(self, request: SimRequest) -> SimResponse:
        path = request.path[len(self.prefix):]
        for pattern, method, handler in (
            (TOKEN, "POST", self._token),
            (STATUS, "PUT", self._status_internal),
            (REASONS, "GET", self._reasons),
            (DETAILS, "GET", self._details),
        ):
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if request.method != method:
                return failure(405, f"use {method}", Allow=method)
            if unquote(match["company"]) != self.company_id:
                return failure(404, f"company {unquote(match['company'])} not found")
            return handler(request, match)
        return failure(404, f"no Fynd endpoint at {request.path}")

    def transient_fault(self, request: SimRequest) -> SimResponse | None:
        return failure(503, "Service temporarily unavailable", **{"Retry-After": "0"})

    def stats(self) -> dict[str, Any]:
        with self._lock:
            invalid = self._invalid_requests
        return {**self.tokens.stats(), "invalid_requests": invalid, **self.shipments.stats()}

    def reset(self) -> None:
        self.tokens.reset()
        with self._lock:
            self._invalid_requests = 0
        self.shipments.reset()

    def revoke_tokens(self) -> None:
        """Forget every token issued (as a real server does when it rotates keys): the next
        request with one is answered 401."""
        self.tokens.revoke()

    def _token(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        return self.tokens.issue(request)

    def _reasons(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        if not self.tokens.authorised(request):
            return failure(401, "Unauthorized: invalid or expired access token")
        state = unquote(match["state"])
        offered = CANCELLATION_REASONS if is_cancellation(state) else ()
        return answer({"success": True, "reasons": [
            {"id": rid, "display_name": text, "reasons": [], "qc_type": [], "question_set": [],
             "meta": {}, "is_active": True} for rid, text in offered]})

    def _details(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        if not self.tokens.authorised(request):
            return failure(401, "Unauthorized: invalid or expired access token")
        given = request.query.get("shipment_id") or [""]
        identifier = given[-1].strip()
        if not identifier:
            return failure(400, "shipment_id is required")
        shipment = self.shipments.details(identifier)
        return answer({"success": True, "message": "", "shipments": [shipment]})

    def _status_internal(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        if not self.tokens.authorised(request):
            return failure(401, "Unauthorized: invalid or expired access token")
        try:
            data = nesting.loads(request.body.decode("utf-8"))
        except ValueError:  # not JSON, not UTF-8, too deep
            return self._invalid("the request body is not valid JSON")
        problems = _model_problems(data)
        if problems:
            return self._invalid("; ".join(problems))
        assert isinstance(data, dict)
        return answer({"statuses": self.shipments.apply(data)})

    def _invalid(self, message: str) -> SimResponse:
        with self._lock:
            self._invalid_requests += 1
        return failure(400, message)


_Units = dict[int, dict[str, int]]  # line → state → units


def _chosen(identifier: str, lines: dict[int, Counter[str]], shipment: dict[str, Any],
            target: str, force: bool) -> tuple[_Units, _Units]:
    """(the units the transition moves to TARGET, the units it leaves), per line and state."""
    products = shipment.get("products") or []
    if products:
        selected, rest = _select(identifier, lines, products)
    else:
        # the whole shipment: every unit that can go there (after a partial move, the
        # units already confirmed are invoiced and the ones still placed wait)
        selected = {line: {state: n for state, n in _movable(units).items()
                           if state != target and (force or target in NEXT.get(state, ()))}
                    for line, units in lines.items()}
        rest = {}
    if not any(selected.values()):
        raise _Refusal(INVALID_TRANSITION.format(target))
    return selected, rest


def _check_allowed(units: _Units, to: str, force: bool) -> None:
    """Refuse the transition unless every unit may move to TO (any may, when forced)."""
    for states in units.values():
        if any(not (force or to in NEXT.get(state, ())) for state in states):
            raise _Refusal(INVALID_TRANSITION.format(to))


def _fresh() -> dict[int, Counter[str]]:
    """A shipment the simulator has not seen: every line's units waiting in ``placed``."""
    return {line: Counter({START: UNITS}) for line in LINES}


def _bag(shipment: str, line: int, state: str, units: int) -> dict[str, Any]:
    """One bag of the details answer: a line's units in one state, in the SDK's OrderBags
    shape. Its id is stable while those units stay in that state (line and state)."""
    order = list(STATES).index(state) if state in STATES else len(STATES)
    return {"bag_id": line * 1000 + order, "identifier": SKU.format(line), "line_number": line,
            "quantity": units, "display_name": f"Sandbox product {line}",
            "current_status": {"status": state, "shipment_id": shipment,
                               "bag_id": line * 1000 + order}}


def _shipment_status(lines: dict[int, Counter[str]]) -> str:
    """The shipment's status: its bags' state when they agree, else the earliest state any
    unit waits in (what is left to do), in the order of the known states."""
    states = {state for units in lines.values() for state, n in units.items() if n}
    if len(states) == 1:
        return next(iter(states))
    ordered = [state for state in STATES if state in states and state in NEXT]
    return ordered[0] if ordered else sorted(states)[0]


def _count_moved(moved: dict[int, Counter[str]], units: dict[int, dict[str, int]],
                 to: str) -> None:
    for line, states in units.items():
        n = sum(states.values())
        if n:
            moved.setdefault(line, Counter())[to] += n


def _units(lines: dict[int, Counter[str]]) -> dict[str, dict[str, int]]:
    return {str(line): {state: n for state, n in units.items() if n}
            for line, units in sorted(lines.items())}


def _movable(units: Counter[str]) -> dict[str, int]:
    """The units of a line that can still move (not in a final state such as a cancellation)."""
    return {state: n for state, n in units.items() if n and state in NEXT}


def _select(identifier: str, lines: dict[int, Counter[str]], products: list[dict[str, Any]]
            ) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    """(the units ``products`` names, the units it leaves), per line and state."""
    selected: dict[int, dict[str, int]] = {}
    for product in products:
        line = product.get("line_number")
        sku = product.get("identifier")
        if sku is not None:
            # a product named by identifier (SKU-N), with or without its line: it must be one
            # the shipment has, on that line; else Fynd's "Not found bag_ids", never a guess
            named = next((ln for ln in lines if SKU.format(ln) == sku), None)
            if named is None or (line is not None and line != named):
                raise _Refusal(NOT_FOUND.format(sku, identifier))
            line = named
        if line not in lines:
            raise _Refusal(NOT_FOUND.format("" if line is None else line, identifier))
        available = dict(_movable(lines[line]))
        for state, n in selected.get(line, {}).items():  # the same line named twice
            available[state] -= n
        wanted = product.get("quantity")
        total = sum(available.values())
        wanted = total if wanted is None else wanted
        if wanted > total:
            raise _Refusal(f"quantity {wanted} of line {line} is more than the {total} unit(s)"
                           " that can move")
        taken = selected.setdefault(line, {})
        for state, n in available.items():
            take = min(n, wanted)
            if take:
                taken[state] = taken.get(state, 0) + take
                wanted -= take
    rest = {}
    for line, units in lines.items():
        left = {state: n - selected.get(line, {}).get(state, 0)
                for state, n in _movable(units).items()}
        rest[line] = {state: n for state, n in left.items() if n}
    return selected, rest


def _move(lines: dict[int, Counter[str]], units: dict[int, dict[str, int]], to: str) -> None:
    for line, states in units.items():
        for state, n in states.items():
            lines[line][state] -= n
            lines[line][to] += n
        for state in [s for s, n in lines[line].items() if n <= 0]:
            del lines[line][state]


def _repeated(data: dict[str, Any]) -> set[str]:
    """Shipments named in more than one transition (or twice in one) of a request."""
    seen: Counter[str] = Counter()
    for transition in data["statuses"]:
        for shipment in transition["shipments"]:
            seen[shipment["identifier"]] += 1
    return {identifier for identifier, n in seen.items() if n > 1}


def _model_problems(data: Any) -> list[str]:
    """What the request model refuses (HTTP 400). Unknown states are the state machine's to
    refuse, and what Fynd refuses inside an HTTP 200 (a missing reason, a shipment in two
    transitions) is answered per shipment, so those checks are left out here."""
    from shipctl.fynd import models  # pydantic: loaded on the first request

    checked = models.check(data, force=True)
    inside_200 = (models.FYND_REASON_MISSING, models.FYND_REPEATED)
    return [str(p) for p in checked.problems if not any(text in p.message for text in inside_200)]


def create() -> FyndSimulator:
    return FyndSimulator()
