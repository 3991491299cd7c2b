"""`shipctl auth check` for EWE: are the profile's username and password accepted?

EWE has no "who am I" operation, so the check sends a modifyShipment that names no shipment:
the envelope (username, digest, msgType) and nothing else. It is safe because it cannot
modify anything, whatever EWE checks first: there is no referenceNo (or articleId) to apply a
change to, so the best it can get is code 10 "Invalid parameter". The answer says which
check stopped it, in the order EWE checks them (docs/ewe.md, Response codes): 3 wrong
msgType or URL, 101 unknown username, 104 wrong password (digest), 10 a request that passed
the credential checks and failed on its fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipctl.app import Application

OK, REFUSED, ERROR = "ok", "refused", "error"
CREDENTIAL_KEYS = ("ewe.username", "ewe.password")


def check(app: Application, *, timeout: float) -> tuple[str, str]:
    """(OK | REFUSED | ERROR, a one-line explanation); sends one request, no retry storm."""
    from shipctl import http, secrets
    from shipctl.ewe import client

    credentials = client.Credentials(
        username=str(app.require("ewe.username")), password=str(app.require("ewe.password"))
    )
    secrets.register(credentials.password)
    secrets.register(credentials.digest)
    url = client.endpoint(str(app.require("ewe.url")))
    content_type = str(app.setting("ewe.content_type").value or client.CONTENT_TYPE)
    options = http.HttpOptions(timeout=timeout, retries=1, debug=app.debug)
    http.check_options(options)
    session = http.make_session(options, pool_size=1)
    http.warn_plain_http(url, sends_credentials=True, warn=app.out.warn)
    body = client.encode(client.envelope({}, credentials))  # names no shipment
    call = http.Call("POST", url, {"Content-Type": content_type}, body)

    def transient(response: object) -> str | None:
        return client.transient_reason(response.status_code, response.content)  # type: ignore[attr-defined]

    log = app.out.info if app.debug else None
    delivery = http.send(session, call, options, transient=transient, log=log)
    if delivery.response is None:
        return ERROR, delivery.error or "no answer"
    answer = client.parse_answer(delivery.response.status_code, delivery.response.content)
    who = f"username {credentials.username!r} at {url}"
    if answer.code in (101, 104):
        return REFUSED, f"{who}: {answer.text}"
    if answer.code in (0, 10):
        return OK, f"{who}: accepted"
    if answer.code == 3:
        return ERROR, f"{answer.text} (check ewe.url: {url})"
    return ERROR, answer.text
