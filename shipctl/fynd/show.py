"""`shipctl fynd show SHIPMENT`: a shipment's bags, lines, quantities and states, read from
Fynd's shipment details (``shipctl.fynd.shipment`` parses them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl.output import visible

if TYPE_CHECKING:
    from shipctl.app import Application


def show(app: Application, shipment_id: str, *, timeout: float, retries: int,
         ca_bundle: Path | None) -> int:
    """Print SHIPMENT_ID's bags (table or ``-o json``). Exit 1 when Fynd answers an error or
    does not know the shipment; configuration problems raise (exit 2)."""
    from shipctl import http, single
    from shipctl.errors import ExitCode, ShipctlError, UsageError
    from shipctl.fynd import client
    from shipctl.fynd.credentials import bearer_auth
    from shipctl.fynd.shipment import read_answer

    if not shipment_id.strip():
        raise UsageError("SHIPMENT_ID: must not be empty")
    out = app.out
    options = single.http_options(app, timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    config, auth = bearer_auth(app, options)
    url = client.details_url(config.url, str(config.company_id), shipment_id)
    response = single.read(app, http.Call("GET", url, {"Accept": "application/json"}), auth,
                           options)
    found = read_answer(response.status_code, response.content, shipment_id)
    if isinstance(found, str):
        # a 401 that stands after a fresh token: the API refused it, not the token endpoint
        hint = f"check {client.TOKEN_CHECK}" if response.status_code in (401, 403) else None
        raise ShipctlError(f"Fynd shipment {visible(shipment_id)}: {found}", hint=hint)
    if out.json_mode:
        out.write_json(found.record())
        return int(ExitCode.OK)
    out.print(visible(f"shipment {found.shipment_id}: {found.status or 'status unknown'}"
                               f", {len(found.bags)} bag(s)"))
    # units per line and state first: what a partial transition is built from; then each bag
    for line in found.record()["lines"]:
        units = ", ".join(f"{n} {state}" for state, n in line["units"].items()) or "no units"
        number = "?" if line["line_number"] is None else line["line_number"]
        out.print(visible(f"line {number}: {units}"))
    if found.bags:
        out.table(["BAG", "LINE", "PRODUCT", "QTY", "STATE", "NAME"],
                  [[visible(_cell(v)) for v in (bag.bag_id, bag.line_number,
                                                         bag.identifier, bag.quantity,
                                                         bag.state, bag.name)]
                   for bag in found.bags])
    return int(ExitCode.OK)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)
