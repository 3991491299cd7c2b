"""`shipctl ewe modify`: EWE's part of a bulk run (``shipctl.runner`` does the rest).

An item is a modifyShipment request body without the envelope; a job carries the full body,
envelope included, signed with the profile's digest (EWE authenticates the body itself, so no
``Auth`` headers). Ordering key, shard and label: the ``referenceNo``, else the ``articleId``
(EWE's "Modify Shipment" API documentation: "articleId or referenceNo not null"). The journal
identity is the whole request, so it names the order whichever of the two the item gives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from shipctl.runner import Auth, BulkProvider, RunContext, Warn, field_errors

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.batch import Job, Outcome
    from shipctl.http import Call
    from shipctl.inputs import Item


class ModifyShipment(BulkProvider):
    api = "EWE"
    command = "ewe modify"
    allow_csv = True
    secret_fields = ("digest",)  # the body's one credential; --dry-run masks it, nothing else

    def check_column(self, path: tuple[str | int, ...]) -> str | None:
        from shipctl.ewe.models import unknown_column

        return unknown_column(path)

    def __init__(self, content_type: str | None = None) -> None:
        self.content_type_flag = content_type  # --content-type
        self.content_type = ""
        self.postcodes: Any = None
        self.credentials: Any = None

    def prepare(self, app: Application) -> None:
        from shipctl.ewe.postcodes import configured_index

        self.content_type = _content_type(app, self.content_type_flag)
        self.postcodes = configured_index(app)

    def default_rate(self, app: Application) -> float | None:
        value = app.setting("ewe.rate").value  # EWE asks for at most one request per second
        return float(value) if value is not None else 1.0

    def connect(self, app: Application, run: RunContext) -> Auth:
        from shipctl.ewe import client, credentials

        self.credentials = credentials.of_profile(app)
        self.url = client.endpoint(str(app.require("ewe.url")))
        if self.postcodes is None:
            from shipctl.ewe.postcodes import note_unchecked

            note_unchecked(app)  # here: once per run, and only when there are items
        return Auth()  # the digest is in the body

    def jobs(self, items: Iterable[Item], warn: Warn) -> Iterator[Job]:
        from shipctl import batch
        from shipctl.ewe import client, models

        for item in items:
            checked = models.check(item.data, postcodes=self.postcodes)
            label = checked.label  # referenceNo, else articleId (printable)
            keys = (label,) if checked.key else ()
            said: list[str] = []
            for warning in checked.warnings:  # sent all the same if valid: EWE decides
                warn(f"{item.where(warning.path)}: {warning.message}")
                said.append(str(warning))
            if checked.problems:
                # its warnings too, as `ewe validate` gives them
                yield batch.Job(id=self._identity(item.data), keys=keys, label=label,
                                where=item.where(), payload=None,
                                problems=field_errors(item, checked.problems),
                                warnings=said)
                continue
            warnings = self._warn_envelope(item, checked.envelope, warn) + said
            yield batch.Job(
                id=self._identity(checked.request),
                keys=keys,
                label=label,
                where=item.where(),
                payload=client.envelope(checked.request, self.credentials),
                warnings=warnings,
            )

    def call(self, job: Job) -> Call:
        from shipctl import http
        from shipctl.ewe import client

        return http.Call("POST", self.url, {"Content-Type": self.content_type},
                         client.encode(job.payload))

    def transient(self, response: requests.Response) -> str | None:
        from shipctl.ewe import client

        return client.transient_reason(response.status_code, response.content)

    def outcome(self, response: requests.Response, job: Job) -> Outcome:
        from shipctl import batch
        from shipctl.ewe import client

        answer = client.parse_answer(response.status_code, response.content)
        return batch.Outcome(answer.ok, answer.text, code=answer.code, fatal=answer.fatal,
                             check=client.CREDENTIAL_CODES.get(answer.code))

    def _identity(self, request: Any) -> str:
        """Journal identity: the same change to the same account and endpoint is the same
        item, so an edited item is a new one."""
        from shipctl import plainjson

        # decimals as the exact digits sent (json.dumps would write 20-digit ones rounded);
        # json.dumps' separators, so that identities of earlier journals still match
        canonical = plainjson.dumps([self.url, self.credentials.username, request],
                                    sort_keys=True, separators=(", ", ": "),
                                    ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    def _warn_envelope(self, item: Item, carried: dict[str, Any], warn: Warn) -> list[str]:
        """username/digest/msgType come from the profile (docs/ewe.md); say when the file differs.
        The warnings, without ``where``, are also the job's (its records' ``warnings``)."""
        from shipctl.ewe import MSG_TYPE

        where = item.where()
        username = self.credentials.username
        said: list[str] = []
        if "username" in carried and carried["username"] != username:
            said.append(f"the item's username {carried['username']!r} is replaced by the "
                        f"profile's {username!r}")
        if "digest" in carried and carried["digest"] != self.credentials.digest:
            # never print either digest: both are bearer credentials
            said.append("the item's digest differs from the profile's and is replaced")
        if "msgType" in carried and carried["msgType"] != MSG_TYPE:
            said.append(f"the item's msgType {carried['msgType']!r} is replaced by "
                        f"{MSG_TYPE!r}")
        for text in said:
            warn(f"{where}: {text}")
        return said


def _content_type(app: Application, flag: str | None) -> str:
    """--content-type, else the profile's ``ewe.content_type`` (docs/ewe.md: "configurable")."""
    from shipctl.errors import UsageError
    from shipctl.ewe import client

    setting = app.setting("ewe.content_type", flag=flag)
    value = str(setting.value or client.CONTENT_TYPE)
    # A header value is one line of visible ASCII (RFC 9110); anything else would fail every
    # item with "invalid header value" after the run had started.
    if not value.strip() or any(not (" " <= ch <= "~") for ch in value):
        given = "--content-type" if setting.source == "flag" else (
            f"ewe.content_type ({setting.source})"
        )
        raise UsageError(
            f"{given} {value!r}: must be one line of printable ASCII, e.g. application/json"
        )
    return value
