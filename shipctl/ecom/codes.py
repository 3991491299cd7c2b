"""Ecom's reason codes (``reason_code_number``), from docs/ecom.md.

The table is what public Ecom integrations show, not an exhaustive list: an unknown code is a
warning, never an error (docs/ecom.md). Standard library only: the receiver imports this (through
``shipctl.ecom.models``) for every push it checks.
"""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    code: str  # as Ecom sends it: "777", "001", "0011" (leading zeros are part of it)
    meaning: str


_UNDELIVERED = {
    "219": "Undelivered: consignee not available",
    "222": "Undelivered: address incorrect",
    "225": "Undelivered: manifested but not received by destination",
}

# In the order docs/ecom.md lists them; 209–233 spelt out, so that each is one grep-able
# line of `shipctl ecom codes`.
TABLE: tuple[Code, ...] = (
    Code("001", "Soft data uploaded (manifested)"),
    Code("0011", "Field pickup done / shipment picked up"),
    Code("002", "In-scan at Ecom facility"),
    Code("003", "Bagging completed"),
    Code("004", "Assigned to run code"),
    Code("005", "Shipment at delivery centre"),
    Code("006", "Out for delivery"),
    Code("014", "Out for pickup"),
    Code("100", "Delay in delivery expected"),
    Code("124", "Field pickup completed"),
    Code("127", "Shipment arrived at Ecom facility"),
    Code("1210", "Pickup unassigned"),
    Code("1220", "Pickup assigned"),
    Code("1230", "Out for pickup"),
    Code("200", "Forcibly taken by consignee"),
    Code("201", "Awaiting consignee's response for delivery"),
    Code("204", "Delivered; consignee complains of damage"),
    *(Code(str(n), _UNDELIVERED.get(str(n), "Undelivered")) for n in range(209, 234)),
    Code("303", "Shipment in transit"),
    Code("331", "Undelivered (other)"),
    Code("332", "Shipment missing / lost"),
    Code("333", "Shipment missing / lost"),
    Code("77", "RTO lock"),
    Code("80", "RTO lock revoked"),
    Code("82", "OFD lock"),
    Code("83", "OFD lock revoked"),
    Code("777", "RTS: return to shipper (return initiated, not yet returned)"),
    Code("888", "Shipment destroyed / abandoned"),
    Code("999", "Delivered"),
)

CODES: dict[str, str] = {entry.code: entry.meaning for entry in TABLE}


def meaning(code: str) -> str | None:
    """What ``code`` means, or None when it is not in the table.

    Five-digit sub-codes (23101, 88802, 33306) refine the three-digit code they start with,
    so one whose first three digits are a known code is known too.
    """
    if code in CODES:
        return CODES[code]
    if len(code) == 5 and code.isascii() and code.isdigit() and code[:3] in CODES:
        return f"{CODES[code[:3]]} (sub-code of {code[:3]})"
    return None


def is_known(code: str) -> bool:
    return meaning(code) is not None
