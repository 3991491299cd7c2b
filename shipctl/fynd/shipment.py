"""A Fynd shipment as it is now, and what it says about a lost answer (``fynd show`` prints
it: ``shipctl.fynd.show``).

**Reading.** ``GET {base}/service/platform/order/v1.0/company/{company_id}/shipment-details
?shipment_id=ID`` (the SDK's ``getShipmentById``) answers a ``ShipmentInfoResponse``:
``{success, message, shipments: [PlatformShipment]}``; a PlatformShipment has ``shipment_id``,
``shipment_status`` (and a ``status`` object whose ``status`` says the same) and ``bags``: each
an ``OrderBags`` with ``bag_id``, ``identifier`` (the product), ``line_number``, ``quantity``,
``display_name`` and ``current_status.status`` (the bag's state). ``parse_details`` keeps just
that, and never raises: a field missing or of the wrong type is ``None`` (unknown), and an
answer that names no such shipment is an error line.

**Verifying** (``verify``), after an ambiguous failure: a transition was sent and its answer was
lost, so it may or may not have been applied, and only the shipment as it is *after* can be
read. The verdict is ``applied`` (do not send it again), ``not_applied`` (safe to send again)
or ``unknown`` (a person must look: ``shipctl fynd show``). A false ``not_applied`` moves units
twice and a false ``applied`` loses a move, so whenever the details could come from either,
the verdict is ``unknown``. The rules, in order:

1. The read failed, the answer is about another shipment or lists no bags, a bag that counts
   has no state, or (for a partial transition) no line number or quantity: ``unknown``.
2. A bag in a state shipctl does not know (``shipctl fynd states``): ``unknown``, since
   whether the transition could start from there is not known.
3. The states that show the transition: ``status`` itself, or where Fynd moves on by itself
   (``bag_invoiced`` → ``dp_assigned``, or ``ready_for_dp_assignment`` for made-to-order).
   The states it starts from: those whose next states (the illustrative map, as the sandbox
   follows it) include ``status``.
4. The whole shipment (no ``products``): Fynd moves every unit that can go there. ``applied``
   when no unit is left in a starting state and some are in the target; ``not_applied`` when
   units are in a starting state and none in the target (a whole move would have left none);
   else ``unknown`` (some in each: a move that stopped half way is not Fynd's).
5. Named products (``line_number`` and ``quantity``; the same line named twice counts the
   sum; no quantity means the whole line): per line, the units in the target are compared
   with the quantity named. ``applied`` when every named line holds *exactly* that many in
   the target (or, for a whole line, no unit left in a starting state), and when
   ``exclude_bags_next_state`` names a state no unit of the shipment is left in a starting
   state (those would have moved there). ``not_applied`` when no named line has a unit in the
   target and each still has at least the quantity named in starting states. Else
   ``unknown``: more units in the target than named means some were there before.
6. Never ``not_applied`` for a partial cancellation, nor when a line named is missing: Fynd
   may take cancelled units out of the shipment (it reassigns cancelled items to another
   location; its document's partial-cancellation example answers with another shipment_id),
   and the shipment read then looks as if nothing moved.
7. Never ``not_applied`` for a request with ``task: true``: Fynd applies it in the
   background, so "not yet" is not "not".

What the details alone cannot tell, and the verdict therefore rests on: a line that held
*exactly* the named quantity in the target before the request (from an earlier partial move),
or a line named whole that had nothing left to move, looks applied; and a change made by
someone else between the send and the read is taken as the request's. Both need a second
request for the same lines of the same shipment, and the bulk run orders those by shipment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipctl.output import visible

if TYPE_CHECKING:
    import requests

    from shipctl.http import HttpOptions

APPLIED = "applied"
NOT_APPLIED = "not_applied"
UNKNOWN = "unknown"

# Where Fynd moves on by itself after a requested state (reference: bag_invoiced → dp_assigned,
# or ready_for_dp_assignment for a made-to-order item). The states module's AUTOMATIC names
# the usual one, which the sandbox reaches; both count as "the transition happened".
MOVES_ON = {"bag_invoiced": ("dp_assigned", "ready_for_dp_assignment")}


# -- the model ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bag:
    """One bag of a shipment: None where Fynd's answer did not say (or said nonsense)."""

    bag_id: str | None
    line_number: int | None
    identifier: str | None  # the product identifier a request's products[] can name
    quantity: int | None
    state: str | None  # current_status.status
    name: str | None = None  # display_name, for people

    def record(self) -> dict[str, Any]:
        return {"bag_id": self.bag_id, "line_number": self.line_number,
                "identifier": self.identifier, "quantity": self.quantity, "state": self.state,
                "name": self.name}


@dataclass
class ShipmentDetails:
    shipment_id: str
    status: str | None  # shipment_status
    bags: list[Bag] = field(default_factory=list)

    def lines(self) -> dict[int | None, Counter[str | None]]:
        """Per line number: units per state (a bag without a quantity adds nothing)."""
        lines: dict[int | None, Counter[str | None]] = {}
        for bag in self.bags:
            units = lines.setdefault(bag.line_number, Counter())
            units[bag.state] += bag.quantity or 0
        return lines

    def record(self) -> dict[str, Any]:
        """``fynd show -o json``: the parsed document, and units per line and state."""
        return {
            "shipment_id": self.shipment_id,
            "status": self.status,
            "bags": [bag.record() for bag in self.bags],
            "lines": [{"line_number": line,
                       "units": {str(state): n for state, n in sorted(
                           units.items(), key=lambda kv: str(kv[0])) if n}}
                      for line, units in sorted(self.lines().items(),
                                                key=lambda kv: (kv[0] is None, kv[0] or 0))],
        }


# -- parsing ------------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text or None
    return None


def _count(value: Any) -> int | None:
    """A whole number of at least 0: an int, or digits as text (never True, 1.5 or -1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _state(bag: dict[str, Any]) -> str | None:
    current = bag.get("current_status")
    if isinstance(current, dict):
        state = _text(current.get("status"))
        if state is not None:
            return state
    if isinstance(current, str):  # a flattened answer
        return _text(current)
    return _text(bag.get("status")) if not isinstance(bag.get("status"), dict) else None


def _bag(value: dict[str, Any]) -> Bag:
    name = _text(value.get("display_name"))
    if name is None and isinstance(value.get("item"), dict):
        name = _text(value["item"].get("name"))
    return Bag(bag_id=_text(value.get("bag_id")), line_number=_count(value.get("line_number")),
               identifier=_text(value.get("identifier")), quantity=_count(value.get("quantity")),
               state=_state(value), name=name)


def _shipment_status(shipment: dict[str, Any]) -> str | None:
    status = _text(shipment.get("shipment_status"))
    if status is None and isinstance(shipment.get("status"), dict):
        status = _text(shipment["status"].get("status"))
    return status


def parse_details(document: Any, shipment_id: str) -> ShipmentDetails | str:
    """The shipment SHIPMENT_ID from a ShipmentInfoResponse, or a line saying why not.
    Never raises, whatever the JSON."""
    if not isinstance(document, dict):
        return "the answer is not a shipment-details document"
    shipments = document.get("shipments")
    if document.get("success") is False or not isinstance(shipments, list):
        message = document.get("message")
        if isinstance(message, str) and message.strip():
            return " ".join(message.split())[:300]
        return "the answer lists no shipments"
    candidates = [s for s in shipments if isinstance(s, dict)]
    named = [s for s in candidates if _text(s.get("shipment_id")) == shipment_id]
    if named:
        shipment = named[0]
    elif len(candidates) == 1 and _text(candidates[0].get("shipment_id")) is None:
        shipment = candidates[0]  # the one shipment asked for, its id left out
    elif candidates:
        others = ", ".join(str(_text(s.get("shipment_id"))) for s in candidates[:3])
        return f"the answer is about shipment {others}, not {shipment_id}"
    else:
        return f"Fynd knows no shipment {shipment_id}"
    bags = shipment.get("bags")
    return ShipmentDetails(
        shipment_id=shipment_id, status=_shipment_status(shipment),
        bags=[_bag(b) for b in bags if isinstance(b, dict)] if isinstance(bags, list) else [])


def read_answer(status: int, body: bytes, shipment_id: str) -> ShipmentDetails | str:
    """An HTTP answer of the shipment-details endpoint: the details, or an error line."""
    from shipctl.fynd import client

    if not 200 <= status < 300:
        return client.error_text(status, body)
    document = client.load_json(body)
    if document is None:
        return f"HTTP {status}: not JSON"
    found = parse_details(document, shipment_id)
    return found if isinstance(found, ShipmentDetails) else visible(found)


def fetch(session: requests.Session, base_url: str, company_id: str, shipment_id: str,
          headers: dict[str, str], options: HttpOptions, *, log: Any = None
          ) -> ShipmentDetails | str:
    """Read SHIPMENT_ID with HEADERS (``token.bearer(...)``): the details, or a line saying
    why they could not be read. A GET changes nothing, so ``http.send`` retries it as any
    idempotent call. Never raises for network trouble; a 401 is returned as its line (the
    caller owns the token and may renew it)."""
    from shipctl import http
    from shipctl.fynd import client

    call = http.Call("GET", client.details_url(base_url, company_id, shipment_id),
                     {"Accept": "application/json", **headers})
    delivery = http.send(session, call, options, log=log)
    if delivery.response is None:
        return f"shipment details not read: {delivery.error or 'no answer'}"
    return read_answer(delivery.response.status_code, delivery.response.content, shipment_id)


# -- verifying ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    outcome: str  # APPLIED | NOT_APPLIED | UNKNOWN
    reason: str  # one line for people

    @property
    def applied(self) -> bool:
        return self.outcome == APPLIED

    @property
    def not_applied(self) -> bool:
        return self.outcome == NOT_APPLIED


def _units(counts: Counter[str | None], states: set[str]) -> int:
    return sum(n for state, n in counts.items() if state in states)


def _sum(counts: Counter[str | None]) -> str:
    shown = [f"{n} {state}" for state, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
             if n]
    return ", ".join(shown) or "no units"


def _requested_lines(products: list[Any]) -> dict[int, int | None] | str:
    """Line → units named (None: the whole line), or why the products cannot be judged."""
    wanted: dict[int, int | None] = {}
    for product in products:
        if not isinstance(product, dict):
            return "a product of the request is not an object"
        line = _count(product.get("line_number"))
        if line is None:
            return "a product is named without a line number"
        quantity = product.get("quantity")
        if quantity is None:
            wanted[line] = None
            continue
        count = _count(quantity)
        if count is None:
            return f"line {line}: quantity {quantity!r} is not a number of units"
        if line in wanted:
            before = wanted[line]
            wanted[line] = None if before is None else before + count
        else:
            wanted[line] = count
    return wanted


def verify(status: Any, shipment: Any, details: ShipmentDetails | str | None, *,
           task: bool = False) -> Verdict:
    """Whether the transition to STATUS of SHIPMENT shows in DETAILS, read after the send (a
    string: why the read failed). STATUS is the target state, or the whole ``statuses[]``
    entry (its ``status`` and ``exclude_bags_next_state`` are used); SHIPMENT the
    ``shipments[]`` entry (``identifier``, optional ``products``; an
    ``exclude_bags_next_state`` in it wins over the transition's). Pure: no I/O; never
    raises. The rules are the module's docstring."""
    try:
        if isinstance(status, dict):
            transition = status
            status = transition.get("status")
            if (isinstance(shipment, dict) and "exclude_bags_next_state" in transition
                    and "exclude_bags_next_state" not in shipment):
                shipment = {**shipment,
                            "exclude_bags_next_state": transition["exclude_bags_next_state"]}
        verdict = _verify(status, shipment, details, task=task)
    except Exception as error:  # noqa: BLE001 - a verdict, never a crash, whatever came in
        verdict = Verdict(UNKNOWN, f"cannot tell: {type(error).__name__}")
    return _printable(verdict)


def _printable(verdict: Verdict) -> Verdict:
    """The reason quotes the server (states, bag ids): never a control character in it."""
    return Verdict(verdict.outcome, visible(verdict.reason))


def verify_in_body(body: Any, identifier: str, details: ShipmentDetails | str | None
                   ) -> Verdict:
    """``verify`` for shipment IDENTIFIER of a request BODY as sent: its transition, its
    shipment entry and the body's ``task``. A shipment the body names twice (Fynd refuses
    that: "Child bag ids are repeated") or not at all cannot be judged: unknown."""
    try:
        found = [(transition, shipment)
                 for transition in body.get("statuses") or [] if isinstance(transition, dict)
                 for shipment in transition.get("shipments") or []
                 if isinstance(shipment, dict) and shipment.get("identifier") == identifier]
    except (AttributeError, TypeError):
        found = []
    if len(found) != 1:
        named = "twice" if found else "not"
        return _printable(Verdict(UNKNOWN, f"cannot tell: the request names shipment "
                                           f"{identifier} {named}"))
    transition, shipment = found[0]
    return verify(transition, shipment, details, task=body.get("task") is True)


def _verify(status: Any, shipment: Any, details: ShipmentDetails | str | None, *,
            task: bool) -> Verdict:
    from shipctl.fynd.states import AUTOMATIC, NEXT, STATES, is_cancellation

    if details is None or isinstance(details, str):
        return Verdict(UNKNOWN, f"cannot tell: {details or 'the shipment was not read'}")
    if not isinstance(status, str) or not status or not isinstance(shipment, dict):
        return Verdict(UNKNOWN, "cannot tell: the request names no state or shipment")
    identifier = _text(shipment.get("identifier"))
    if identifier is not None and identifier != details.shipment_id:
        return Verdict(UNKNOWN, f"cannot tell: the details are of shipment "
                                f"{details.shipment_id}, not {identifier}")
    if not details.bags:
        return Verdict(UNKNOWN, "cannot tell: the details list no bags")
    reached = {status, AUTOMATIC.get(status, status), *MOVES_ON.get(status, ())}
    starts = {state for state, nexts in NEXT.items() if status in nexts}
    shown = " or ".join(sorted(reached))
    for bag in details.bags:
        if bag.state is None:
            return Verdict(UNKNOWN, f"cannot tell: bag {bag.bag_id or '?'} has no state")
        if bag.state not in STATES and bag.state not in reached:
            return Verdict(UNKNOWN, f"cannot tell: bag {bag.bag_id or '?'} is in "
                                    f"{bag.state}, a state shipctl does not know")
    products = shipment.get("products")
    if products in (None, []):
        return _whole(details, reached, starts, shown, task)
    if not isinstance(products, list):
        return Verdict(UNKNOWN, "cannot tell: the request's products are not a list")
    wanted = _requested_lines(products)
    if isinstance(wanted, str):
        return Verdict(UNKNOWN, f"cannot tell: {wanted}")
    excluded = shipment.get("exclude_bags_next_state")
    excluded = excluded if isinstance(excluded, str) and excluded else None
    return _partial(details, wanted, reached, starts, shown, excluded=excluded,
                    may_leave=is_cancellation(status), task=task)


def _whole(details: ShipmentDetails, reached: set[str], starts: set[str], shown: str,
           task: bool) -> Verdict:
    units: Counter[str | None] = Counter()
    for bag in details.bags:
        if bag.quantity is None:
            return Verdict(UNKNOWN, f"cannot tell: bag {bag.bag_id or '?'} has no quantity")
        units[bag.state] += bag.quantity
    moved, waiting = _units(units, reached), _units(units, starts)
    if moved and not waiting:
        return Verdict(APPLIED, f"{moved} unit(s) in {shown}, none left to move")
    if waiting and not moved:
        if task:
            return Verdict(UNKNOWN, f"cannot tell: nothing in {shown} yet, but Fynd applies"
                                    " a task in the background")
        return Verdict(NOT_APPLIED, f"nothing moved: {_sum(units)}")
    return Verdict(UNKNOWN, f"cannot tell: {_sum(units)}")


def _partial(details: ShipmentDetails, wanted: dict[int, int | None], reached: set[str],
             starts: set[str], shown: str, *, excluded: str | None, may_leave: bool,
             task: bool) -> Verdict:
    lines: dict[int, Counter[str | None]] = {}
    for bag in details.bags:
        if bag.line_number is None or bag.quantity is None:
            return Verdict(UNKNOWN, f"cannot tell: bag {bag.bag_id or '?'} has no "
                                    f"{'line number' if bag.line_number is None else 'quantity'}")
        lines.setdefault(bag.line_number, Counter())[bag.state] += bag.quantity
    missing = [line for line in wanted if line not in lines]
    if missing:
        return Verdict(UNKNOWN, f"cannot tell: line {missing[0]} is not in the shipment (Fynd"
                                " may have moved its units to another shipment)")
    done, untouched, said = [], [], []
    for line, quantity in sorted(wanted.items()):
        units = lines[line]
        moved, waiting = _units(units, reached), _units(units, starts)
        if quantity is None:
            done.append(moved > 0 and waiting == 0)
            untouched.append(moved == 0 and waiting > 0)
            said.append(f"line {line}: {_sum(units)}, the whole line named")
        else:
            done.append(moved == quantity and quantity > 0)
            untouched.append(moved == 0 and waiting >= quantity > 0)
            said.append(f"line {line}: {_sum(units)}, {quantity} named")
    summary = "; ".join(said)
    if all(done):
        left = sum(_units(units, starts) for units in lines.values())
        if excluded is not None and left:
            return Verdict(UNKNOWN, f"cannot tell: {summary}; {left} unit(s) still could move,"
                                    f" which would have gone to {excluded}")
        return Verdict(APPLIED, f"moved as named to {shown}: {summary}")
    if all(untouched):
        if may_leave:
            return Verdict(UNKNOWN, f"cannot tell: nothing cancelled shows, but Fynd may take"
                                    f" cancelled units out of the shipment: {summary}")
        if task:
            return Verdict(UNKNOWN, f"cannot tell: nothing in {shown} yet, but Fynd applies"
                                    f" a task in the background: {summary}")
        return Verdict(NOT_APPLIED, f"nothing moved: {summary}")
    return Verdict(UNKNOWN, f"cannot tell: {summary}")
