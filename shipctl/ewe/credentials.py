"""How EWE requests authenticate: no header, but the profile's username and the digest of
username, msgType and password in every body (docs/ewe.md, Endpoint and authentication, and
Digest). The digest never changes for a given username and password, so it is a secret too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipctl.ewe import MSG_TYPE
from shipctl.ewe import digest as ewe_digest


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @property
    def digest(self) -> str:
        return ewe_digest.compute(self.username, MSG_TYPE, self.password)


def of_profile(app: Any) -> Credentials:
    """ewe.username and ewe.password (a ConfigError names a missing one), password and digest
    registered as secrets so that no output shows them."""
    from shipctl import secrets

    credentials = Credentials(username=str(app.require("ewe.username")),
                              password=str(app.require("ewe.password")))
    secrets.register(credentials.password)
    secrets.register(credentials.digest)
    return credentials
