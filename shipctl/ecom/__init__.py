"""Ecom Express status push (docs/ecom.md): the push rules, reason codes (``codes``), the
commands (``commands``, ``receiver_commands``), replay, the receiver and its sandbox
simulator, beside this file as in ``shipctl/ewe/``.

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
