"""Fynd's shipment states, offline (`fynd states`, docs/fynd.md).

Standard library only: TAB completion of `--to` and `--exclude-next-state` reads this module.

Fynd has no static transition matrix (it is per company and role, fetched at run time); ``NEXT``
is the illustrative map of Fynd's older docs, good enough for the sandbox simulator and nothing
more. That is also why an unknown state is refused only until the user says ``--force``.
"""

from __future__ import annotations

# Every state named in docs/fynd.md and Fynd's Example Request Payload… page, with a one-line
# meaning.
STATES: dict[str, str] = {
    "placed": "order placed; waiting for the seller to confirm",
    "bag_confirmed": "seller confirmed the items",
    "bag_not_confirmed": "seller could not confirm the items (a cancellation: needs a reason)",
    "cancelled_customer": "cancelled by the customer (needs a reason)",
    "cancelled_fynd": "cancelled by Fynd (needs a reason)",
    "store_reassigned": "order moved to another store",
    "bag_invoiced": "invoice created; the system moves on to dp_assigned by itself",
    "ready_for_dp_assignment": "made-to-order item invoiced, waiting for a delivery partner",
    "assigning_dp": "a delivery partner is being assigned",
    "dp_not_assigned": "no delivery partner could be assigned",
    "dp_assigned": "delivery partner assigned",
    "bag_packed": "items packed, waiting for pick-up",
    "bag_picked": "delivery partner picked the items up",
    "bag_not_picked": "delivery partner did not pick the items up",
    "bag_not_handed_over_to_dg": "items not handed over to the delivery partner",
    "handed_over_to_dg": "items handed over to the delivery partner",
    "out_for_delivery": "out for delivery to the customer",
    "delivery_done": "delivered to the customer",
    "bag_lost": "items lost in transit",
    "rto_in_transit": "return to origin: on the way back to the seller",
    "rto_bag_accepted": "return to origin: accepted back by the seller",
    "assigning_return_dp": "a delivery partner is being assigned for a return",
    "return_dp_assigned": "delivery partner assigned for a return",
    "return_bag_in_transit": "returned items on the way back to the seller",
    "return_bag_delivered": "returned items delivered back to the seller",
    "refund_initiated": "refund started",
    "refund_approved": "refund approved",
    "deadstock": "items written off as dead stock",
}

# The illustrative map of docs/fynd.md. "bag_picked → … → delivery_done" is filled in with
# the forward states the docs name, in their natural order.
NEXT: dict[str, tuple[str, ...]] = {
    "placed": (
        "bag_confirmed",
        "bag_not_confirmed",
        "cancelled_customer",
        "cancelled_fynd",
        "store_reassigned",
    ),
    "bag_confirmed": ("bag_invoiced", "cancelled_fynd"),
    "bag_invoiced": ("dp_assigned", "ready_for_dp_assignment"),
    "ready_for_dp_assignment": ("dp_assigned",),
    "dp_assigned": ("bag_packed",),
    "bag_packed": ("bag_picked", "bag_not_picked", "cancelled_customer"),
    "bag_picked": ("out_for_delivery",),
    "out_for_delivery": ("delivery_done",),
    "delivery_done": ("return_dp_assigned",),
    "return_dp_assigned": ("return_bag_in_transit",),
    "return_bag_in_transit": ("return_bag_delivered",),
}

# Requested state → the state the system moves on to by itself (final_state in example 2 of
# Fynd's Example Request Payload… page).
AUTOMATIC: dict[str, str] = {"bag_invoiced": "dp_assigned"}


def is_cancellation(state: str) -> bool:
    """A state Fynd refuses without a reason ("Reason is missing")."""
    return state == "bag_not_confirmed" or state.startswith("cancelled_")


def has_reason(shipment: object) -> bool:
    """Whether a shipment of a request gives a reason (a product's or the entity's): what a
    cancellation needs. Tolerates any data (the local checks run on unvalidated input)."""
    if not isinstance(shipment, dict):
        return False
    reasons = shipment.get("reasons")
    return isinstance(reasons, dict) and any(
        isinstance(reasons.get(key), list) and reasons[key] for key in ("products", "entities"))
