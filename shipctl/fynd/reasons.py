"""`shipctl fynd reasons`: the reasons Fynd allows for moving a bag to a state (the ids
--reason takes), read with the profile's token (``shipctl.single.read``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl.errors import ExitCode, ShipctlError, UsageError
from shipctl.output import visible

if TYPE_CHECKING:
    from shipctl.app import Application


def list_reasons(app: Application, shipment_id: str, bag_id: str, state: str, *,
                 timeout: float, retries: int, ca_bundle: Path | None) -> int:
    from shipctl import http, single
    from shipctl.fynd import client
    from shipctl.fynd.credentials import bearer_auth

    _known_state("--state", state)
    out = app.out
    options = single.http_options(app, timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    config, auth = bearer_auth(app, options)
    url = client.reasons_url(config.url, str(config.company_id), shipment_id, bag_id, state)
    response = single.read(app, http.Call("GET", url, {"Accept": "application/json"}), auth,
                           options)
    status = response.status_code
    if not 200 <= status < 300:
        hint = f"check {client.TOKEN_CHECK}" if status in (401, 403) else None
        raise ShipctlError(f"Fynd reasons: {client.error_text(status, response.content)}",
                           hint=hint)
    document = client.load_json(response.content)
    found = document.get("reasons") if isinstance(document, dict) else None
    if not isinstance(found, list):
        raise ShipctlError(f"Fynd reasons: HTTP {status}, an answer without a reasons list")
    if out.json_mode:
        out.write_json({"shipment_id": shipment_id, "bag_id": bag_id, "state": state,
                        "reasons": found})
        return int(ExitCode.OK)
    rows = [[visible(_cell(r.get("id"))), visible(_cell(r.get("display_name")))]
            for r in found if isinstance(r, dict)]
    if not rows:
        out.info(f"Fynd lists no reasons for moving bag {bag_id} to {state}")
        return int(ExitCode.OK)
    out.table(["ID", "REASON"], rows)
    return int(ExitCode.OK)


def _known_state(flag: str, state: str) -> None:
    """A usage error unless STATE is one of Fynd's states that shipctl knows. `fynd reasons`
    has no --force: a misspelt state would only come back as an empty list of reasons."""
    from shipctl.fynd.states import STATES
    from shipctl.suggest import nearest

    if state in STATES:
        return
    guess = nearest(state, STATES)
    hint = f" (did you mean {guess}?)" if guess else ""
    raise UsageError(f"{flag} {visible(state)!s}: unknown state{hint}",
                     hint="`shipctl fynd states` lists them; nothing was sent")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
