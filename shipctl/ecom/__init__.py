"""Ecom Express status push (docs/ecom.md): the push rules (``models``), reason codes
(``codes``), the wire format (``client``), credentials, validate, replay (the bulk provider),
the commands, the sandbox simulator, and the receiving side in ``receive/`` (`ecom listen`,
its store, relay and export, and their commands).

Imported on every invocation: declarations only.
"""

from __future__ import annotations

from shipctl.provider import KeySpec, Provider, fixed_sandbox

SANDBOX_USERNAME = "sandbox"
SANDBOX_PASSWORD = "sandbox-password"
SANDBOX_PATH = "/ecom"



PROVIDER = Provider(
    name="ecom",
    title="Ecom Express",
    summary="Ecom Express status pushes: validate a pasted push, list reason codes, replay"
    " saved pushes to a webhook, capture them.",
    keys=(
        KeySpec("ecom.url", "the webhook URL that Ecom replays go to", type="url"),
        KeySpec("ecom.username", "Basic-Auth username of the Ecom webhook"),
        KeySpec("ecom.password", "Basic-Auth password of the Ecom webhook", secret=True),
    ),
    sandbox_settings=fixed_sandbox(
        "ecom",
        SANDBOX_PATH,
        username=SANDBOX_USERNAME,
        password=SANDBOX_PASSWORD,
    ),
    simulator="shipctl.ecom.simulator",
    commands="shipctl.ecom.commands",
)
