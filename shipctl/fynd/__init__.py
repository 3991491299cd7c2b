"""Fynd updateShipmentStatus (docs/fynd.md): request model, OAuth token, client, bulk sending,
simulator, commands, beside each other as in ``shipctl/ewe/``.

What the core needs to know about Fynd is declared here (``PROVIDER``); this module is
imported on every invocation, so it holds declarations only."""

from __future__ import annotations

from shipctl.provider import KeySpec, Provider, fixed_sandbox

SANDBOX_COMPANY_ID = "1"
SANDBOX_CLIENT_ID = "sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
SANDBOX_PATH = "/fynd"



PROVIDER = Provider(
    name="fynd",
    title="Fynd",
    summary="Fynd updateShipmentStatus: move shipments between states, from flags or from files.",
    keys=(
        KeySpec("fynd.url", "Fynd API base URL", default="https://api.fynd.com", type="url"),
        KeySpec("fynd.company_id", "Fynd company id"),
        KeySpec("fynd.client_id", "Fynd OAuth client id"),
        KeySpec("fynd.client_secret", "Fynd OAuth client secret", secret=True),
    ),
    sandbox_settings=fixed_sandbox(
        "fynd",
        SANDBOX_PATH,
        company_id=SANDBOX_COMPANY_ID,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
    ),
    simulator="shipctl.fynd.simulator",
    commands="shipctl.fynd.commands",
    auth_check="shipctl.fynd.auth_check",
)
