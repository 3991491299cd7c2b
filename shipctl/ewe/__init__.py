"""EWE (Australia) modifyShipment: rules, digest, client, bulk sending, simulator, commands.

What the core needs to know about EWE is declared here (``PROVIDER``); this module is imported
on every invocation, so it holds declarations only.
"""

from __future__ import annotations

from shipctl.provider import KeySpec, Provider, fixed_sandbox

MSG_TYPE = "modifyShipment"  # the envelope's msgType, and part of the digest (docs/ewe.md)

SANDBOX_USERNAME = "sandbox"
SANDBOX_PASSWORD = "sandbox-password"
SANDBOX_PATH = "/eweApi/ewe/api"  # the simulator's prefix: {ewe.url}/modifyShipment



PROVIDER = Provider(
    name="ewe",
    summary="EWE (Australia) modifyShipment: send, validate offline, print a template.",
    keys=(
        KeySpec(
            "ewe.url",
            "EWE API base URL",
            default="https://jerrytest.ewe.com.au/eweApi/ewe/api",
            type="url",
        ),
        KeySpec("ewe.username", "EWE username"),
        KeySpec("ewe.password", "EWE API password (signs each request's digest)", secret=True),
        # EWE's docs ask for at most one request per second.
        KeySpec("ewe.rate", "EWE requests per second; 0 = unlimited", default=1.0, type="float"),
        KeySpec(
            "ewe.content_type",
            "Content-Type of modifyShipment bodies (EWE documents application/javascript)",
            default="application/javascript",
        ),
        KeySpec(
            "ewe.postcodes", "CSV of suburb,postcode,state for full suburb checks", type="path"
        ),
    ),
    sandbox_settings=fixed_sandbox(
        "ewe",
        SANDBOX_PATH,
        username=SANDBOX_USERNAME,
        password=SANDBOX_PASSWORD,
    ),
    simulator="shipctl.ewe.simulator",
    commands="shipctl.ewe.commands",
    root_commands="shipctl.ewe.digest_command",
    auth_check="shipctl.ewe.auth_check",
)
