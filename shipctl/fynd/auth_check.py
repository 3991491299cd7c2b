"""`shipctl auth check` for Fynd: does the token endpoint accept the profile's client credentials?

Fetching a token changes nothing on Fynd's side, so the check is exactly that: one token
request (docs/fynd.md, Endpoint and authentication), no retry storm. 400/401/403 from the token
endpoint refuse the credentials; anything else that is not a token is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipctl.app import Application

OK, REFUSED, ERROR = "ok", "refused", "error"
CREDENTIAL_KEYS = ("fynd.company_id", "fynd.client_id", "fynd.client_secret")


def check(app: Application, *, timeout: float) -> tuple[str, str]:
    """(OK | REFUSED | ERROR, a one-line explanation)."""
    import time

    from shipctl import http
    from shipctl.errors import ShipctlError
    from shipctl.fynd import credentials

    config = credentials.settings(app)
    options = http.HttpOptions(timeout=timeout, retries=1, debug=app.debug)
    http.check_options(options)
    tokens = credentials.source(config, options, log=app.out.info if app.debug else None)
    who = f"client {config.client_id!r} of company {config.company_id} at {config.url}"
    try:
        fresh = tokens.fetch_new()
    except credentials.TokenRefused as refused:
        return REFUSED, f"{who}: {refused.message}"
    except ShipctlError as error:
        return ERROR, f"{who}: {error.message}"
    return OK, f"{who}: accepted (token expires in {round(fresh.expires_at - time.time())} s)"
