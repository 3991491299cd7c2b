"""`shipctl fynd auth`: fetch a token with the profile's client credentials and say when it
expires (a cached one proves nothing about the credentials now)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shipctl.errors import ExitCode

if TYPE_CHECKING:
    from shipctl.app import Application


def check_auth(app: Application, *, timeout: float, ca_bundle: Path | None) -> int:
    from shipctl import single
    from shipctl.fynd import credentials
    from shipctl.secrets import MASK

    out = app.out
    options = single.http_options(app, timeout=timeout, retries=1, ca_bundle=ca_bundle)
    config = credentials.settings(app)
    tokens = credentials.source(config, options, log=out.info if app.debug else None)
    fresh = tokens.fetch_new()  # TokenRefused: exit 2, naming the settings to check
    expires = datetime.datetime.fromtimestamp(fresh.expires_at, datetime.timezone.utc)
    expires_text = expires.isoformat(timespec="seconds").replace("+00:00", "Z")
    seconds = max(0, round(fresh.expires_at - datetime.datetime.now().timestamp()))
    shown = fresh.access_token if out.show_secrets else MASK
    if out.json_mode:
        out.write_json({"ok": True, "profile": config.profile, "url": config.url,
                        "company_id": config.company_id, "client_id": config.client_id,
                        "access_token": shown, "expires_in": seconds,
                        "expires_at": expires_text})
    else:
        out.print(f"OK: Fynd issued a token to client {config.client_id!r} of company "
                  f"{config.company_id} (profile {config.profile!r})")
        why = tokens.not_cached  # --sandbox, an untrusted cache, a token without expiry…
        kept = f" (not cached: {why})" if why else "; cached for the next commands"
        out.print(f"token {shown}, expires in {seconds} s ({expires_text}){kept}")
    return int(ExitCode.OK)
