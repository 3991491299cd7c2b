"""The single-request Fynd commands: `fynd transition`, `fynd reasons`, `fynd auth`.

``transition`` builds one body from its flags (``shipctl.fynd.flags``), judges it as any body
from a file (``shipctl.fynd.models.check``), and sends it once with the profile's token (fetched
again once on a 401), printing each shipment's result.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from shipctl.errors import ExitCode, ShipctlError, UsageError

if TYPE_CHECKING:
    import requests

    from shipctl.app import Application
    from shipctl.fynd.token import TokenSource
    from shipctl.http import Call, Delivery, HttpOptions
    from shipctl.inputs import Item


@dataclass
class Flags:
    """The flags of `fynd transition`, as typed."""

    shipment_ids: list[str]
    to: str
    lines: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    entity_reasons: list[str] = field(default_factory=list)
    exclude_next_state: str | None = None  # None: not given (the key is not sent)
    invoice_id: str | None = None
    awb: str | None = None
    data: list[str] = field(default_factory=list)
    data_file: Path | None = None
    comments: list[str] = field(default_factory=list)
    force_transition: bool = False
    lock_after_transition: bool = False
    unlock_before_transition: bool = False
    task: bool = False
    force: bool = False
    yes: bool = False  # --yes: no question before a cancellation, even on a terminal


# Where a problem with the built body came from, for people: the flag, not the JSON path.
_FLAG_OF = {"status": "--to", "exclude_bags_next_state": "--exclude-next-state"}


def _parsed(flag: str, values: list[str], parse: Any) -> list[Any]:
    """Each value through ``parse``; a malformed one is a usage error naming flag and form."""
    result = []
    for value in values:
        try:
            result.append(parse(value))
        except ValueError as error:
            raise UsageError(f"{flag} {value}: {error}") from None
    return result


class DataFile(NamedTuple):
    """What --data-file read: the data_updates object, and where it came from (so that a
    problem inside it is named by file, line and field, as a body from a file is)."""

    data: dict[str, Any]
    item: Item
    prefix: tuple[str, ...]  # ("data_updates",) when the file wraps the object in that key


def build_body(app: Application, flags: Flags, data_file: DataFile | None = None
               ) -> dict[str, Any]:
    """The request body of ``flags``; UsageError (exit 2) for a malformed flag value."""
    from shipctl.fynd import flags as parse

    for identifier in flags.shipment_ids:
        if not identifier.strip():
            raise UsageError("SHIPMENT_ID: must not be empty")
    lines = _parsed("--line", flags.lines, parse.parse_line)
    reasons = _parsed("--reason", flags.reasons, parse.parse_reason)
    entity_reasons = _parsed("--entity-reason", flags.entity_reasons, parse.parse_entity_reason)
    data = _parsed("--data", flags.data, parse.parse_data)
    comments = _parsed("--comment", flags.comments, parse.parse_comment)
    exclude = (parse.ABSENT if flags.exclude_next_state is None
               else parse.parse_exclude_next_state(flags.exclude_next_state))
    refused = parse.refusals(lines=flags.lines, invoice_id=flags.invoice_id, awb=flags.awb,
                             data=flags.data)
    for problem in refused[:-1]:
        app.out.info(f"error: {problem}")
    if refused:
        raise UsageError(refused[-1], hint="nothing was sent")
    if data_file is None and flags.data_file:
        data_file = read_data_file(app, flags.data_file)
    try:
        return parse.build(
            flags.shipment_ids, to=flags.to, lines=lines, reasons=reasons,
            entity_reasons=entity_reasons, exclude_next_state=exclude,
            invoice_id=flags.invoice_id, awb=flags.awb, data=data,
            data_file=data_file.data if data_file else None,
            comments=comments, force_transition=flags.force_transition,
            lock_after_transition=flags.lock_after_transition,
            unlock_before_transition=flags.unlock_before_transition, task=flags.task,
        )
    except ValueError as error:  # --data on a --data-file value that is not an object…
        flag = "--data-file" if flags.data_file and not flags.data else "--data"
        raise UsageError(f"{flag}: {error}") from None


def read_data_file(app: Application, path: Path) -> DataFile:
    """--data-file: one data_updates object (YAML or JSON, read as every input is), or an
    object holding one under ``data_updates``."""
    from shipctl import inputs

    try:
        items = list(inputs.read_items([str(path)], warn=app.out.warn))
    except ShipctlError as error:  # unreadable: say which flag named the file
        error.message = f"--data-file {error.message}"
        raise
    if len(items) != 1:
        raise UsageError(f"--data-file {path}: expected one data_updates object, found "
                         f"{len(items)} items")
    item = items[0]
    if set(item.data) == {"data_updates"} and isinstance(item.data["data_updates"], dict):
        return DataFile(item.data["data_updates"], item, ("data_updates",))
    return DataFile(item.data, item, ())


def _check(app: Application, body: dict[str, Any], flags: Flags,
           data_file: DataFile | None) -> dict[str, Any]:
    """The local checks of SPEC §6; problems are usage errors (exit 2), warnings go to stderr.
    Each is named by the flag (or --data-file line) it came from, once: every shipment of the
    body carries the same parts, so it would otherwise repeat per shipment."""
    from shipctl.fynd import models

    checked = models.check(body, force=flags.force)
    for warning in _once(_where(w, flags, data_file) for w in checked.warnings):
        app.out.warn(warning)
    if checked.problems or checked.request is None:
        problems = _once(_where(p, flags, data_file) for p in checked.problems)
        for problem in problems[:-1]:
            app.out.info(f"error: {problem}")
        raise UsageError(problems[-1] if problems else "the request is invalid",
                         hint="nothing was sent")
    return checked.request


def _once(texts: Any) -> list[str]:
    return list(dict.fromkeys(texts))


def _where(problem: Any, flags: Flags, data_file: DataFile | None) -> str:
    """PROBLEM named by what the user typed: the flag, or the --data-file line and field;
    else by its path in the body."""
    path = problem.path
    if len(path) == 3 and path[0] == "statuses" and path[2] in _FLAG_OF:
        return f"{_FLAG_OF[path[2]]}: {problem.message}"
    if len(path) > 6 and path[:2] == ("statuses", 0) and path[4] == "reasons":
        given = flags.reasons if path[5] == "products" else flags.entity_reasons
        flag = "--reason" if path[5] == "products" else "--entity-reason"
        if isinstance(path[6], int) and path[6] < len(given):
            return f"{flag} {given[path[6]]}: {problem.message}"
    if data_file is not None and len(path) > 5 and path[4] == "data_updates":
        inside = (*data_file.prefix, *path[5:])
        if _holds(data_file.item.data, inside[:-1]):  # the object at fault is the file's
            return f"--data-file {data_file.item.where(inside)}: {problem.message}"
    return str(problem)


def _holds(data: Any, path: tuple[Any, ...]) -> bool:
    """Whether DATA has a value at PATH."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return True


def _options(app: Application, *, timeout: float, retries: int, ca_bundle: Path | None
             ) -> HttpOptions:
    from shipctl import http

    options = http.HttpOptions(timeout=timeout, retries=retries, ca_bundle=ca_bundle,
                               debug=app.debug)
    http.check_options(options)
    return options


def _send(app: Application, call: Call, tokens: TokenSource, options: HttpOptions
          ) -> requests.Response:
    """One request that only reads, with the profile's token (see ``_deliver``)."""
    delivery = _deliver(app, call, tokens, options)
    if delivery.response is None:
        raise ShipctlError(f"not delivered: {delivery.error or 'no answer'}")
    return delivery.response


def _deliver(app: Application, call: Call, tokens: TokenSource, options: HttpOptions
             ) -> Delivery:
    """One request with the profile's token, sent once more with a new token after a 401."""
    import dataclasses

    from shipctl import http
    from shipctl.fynd import token

    session = http.make_session(options, pool_size=1)
    http.warn_plain_http(call.url, sends_credentials=True, warn=app.out.warn)
    log = app.out.info if app.debug else None

    def deliver(headers: dict[str, str]) -> Any:
        return http.send(session, dataclasses.replace(call, headers={**call.headers, **headers}),
                         options, log=log)

    headers = token.bearer(tokens.get())
    delivery = deliver(headers)
    if delivery.response is not None and delivery.response.status_code == 401:
        try:
            fresh = tokens.renew(token.rejected_token(headers))
        except token.TokenRefused:
            raise  # the cached token was stale and the credentials are wrong: say that (exit 2)
        except ShipctlError:
            fresh = None  # the token endpoint is unreachable: the 401 stands
        if fresh is not None:
            delivery = deliver(token.bearer(fresh))
    return delivery


def run(app: Application, flags: Flags, *, timeout: float, retries: int,
        ca_bundle: Path | None, dry_run: bool) -> int:
    from shipctl import http
    from shipctl.fynd import client, models, token
    from shipctl.fynd.apply import BearerAuth, company_placeholder

    out = app.out
    options = _options(app, timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    data_file = read_data_file(app, flags.data_file) if flags.data_file else None
    body = _check(app, build_body(app, flags, data_file), flags, data_file)
    if dry_run:
        config = token.settings(app, credentials=False, company=False)
        url = client.status_url(config.url, company_placeholder(app, config.company_id))
        # As `fynd apply --dry-run` prints (shipctl.runner): the body exactly as sent (no
        # body field is a credential), the Authorization header masked.
        from shipctl import plainjson
        from shipctl.http.show import exact_record, exact_text

        call = http.Call("PUT", url, {"Content-Type": client.CONTENT_TYPE,
                                      **BearerAuth(None).preview()}, client.encode(body),
                         secret_keys=frozenset())
        if out.json_mode:
            record = exact_record(call, show_secrets=out.show_secrets)
            out.stdout.write(plainjson.dumps(record, indent=2) + "\n")
        else:
            out.stdout.write(exact_text(call, show_secrets=out.show_secrets) + "\n")
            out.info("dry run: nothing was sent")
        return int(ExitCode.OK)

    config = token.settings(app)
    url = client.status_url(config.url, config.company_id)
    if not flags.yes and not _confirmed(app, body):
        return _declined(app, url)
    tokens = token.source(config, options, log=out.info if app.debug else None)
    http.warn_plain_http(url, sends_credentials=True, warn=out.warn)  # before the secret goes
    tokens.get()  # before the transition goes out: Ctrl-C up to here sent nothing
    # A transition moves units: never sent twice blindly (http.Call.idempotent)
    call = http.Call("PUT", url, {"Content-Type": client.CONTENT_TYPE}, client.encode(body),
                     idempotent=False)
    try:
        return _transition(app, body, call, url, config, tokens, options)
    except KeyboardInterrupt:
        # Ctrl-C on a transition that hangs: it went out and may have been applied; running
        # it again at once could move the units twice.
        ids = list(dict.fromkeys(models.identifiers(body)))
        look = ", ".join(f"`shipctl fynd show {i}`" for i in ids[:3])
        out.info(client.printable(
            "the transition was sent and its answer not read: Fynd may have applied it;"
            f" look ({look}{', …' if len(ids) > 3 else ''}) before sending it again"))
        raise


def _transition(app: Application, body: dict[str, Any], call: Call, url: str, config: Any,
                tokens: TokenSource, options: HttpOptions) -> int:
    """Send the transition and say what came of it (settling an answer that was lost)."""
    from shipctl.fynd import client, models

    out = app.out
    delivery = _deliver(app, call, tokens, options)
    if delivery.ambiguous:
        return _settle(app, body, url, config, tokens, options, delivery)
    if delivery.response is None:  # it never reached Fynd (refused, no connection…)
        message = f"not delivered: {delivery.error or 'no answer'}"
        if out.json_mode:  # the document on every outcome, as a script expects it
            out.write_json({"request": {"method": "PUT", "url": url}, "http_status": None,
                            "ok": False, "error": message, "shipments": [],
                            "exit_code": int(ExitCode.FAILED)})
            return int(ExitCode.FAILED)
        raise ShipctlError(message)
    response = delivery.response
    answer = client.parse_answer(response.status_code, response.content)
    answered = {s.identifier for s in answer.shipments}
    if (answer.error is None or answer.unread) and any(i not in answered
                                                        for i in models.identifiers(body)):
        # a shipment the answer leaves out may have moved or not: read it back
        return _settle(app, body, url, config, tokens, options, delivery)
    code = int(ExitCode.OK if answer.ok else ExitCode.FAILED)
    error = answer.error
    if error and answer.refused_credentials:
        error = client.token_refused(error)
    if out.json_mode:
        out.write_json({
            "request": {"method": "PUT", "url": url},
            "http_status": response.status_code,
            "ok": answer.ok,
            "error": error,
            "shipments": [s.record() for s in answer.shipments],
            "exit_code": code,
        })
        return code
    move = Move.of(body)
    for shipment in answer.shipments:
        out.print(move.line(shipment))
    if error:
        out.info(f"error: {error}")
    elif answer.failed:
        out.info(f"{len(answer.failed)} of {len(answer.shipments)} shipment(s) failed")
    return code


def _settle(app: Application, body: dict[str, Any], url: str, config: Any,
            tokens: TokenSource, options: HttpOptions, delivery: Delivery) -> int:
    """The transition was sent and no complete answer says whether each shipment moved: read
    them back and decide, as `fynd apply` does (``runner.Sender.settle``): applied → ok;
    nothing moved → sent again; cannot tell → unknown (exit 1), never sent twice blindly."""
    from shipctl import batch, runner
    from shipctl.fynd import models
    from shipctl.fynd.apply import BearerAuth, UpdateShipmentStatus, part_id
    from shipctl.fynd.client import printable

    out = app.out
    provider = UpdateShipmentStatus(http_options=options)
    provider.config, provider.tokens, provider.url = config, tokens, url
    identifiers = models.identifiers(body)
    job = batch.Job(id="fynd transition", keys=tuple(dict.fromkeys(identifiers)),
                    label=" ".join(identifiers), where="fynd transition", payload=body,
                    parts={part_id("fynd transition", i): i for i in identifiers})
    sender = runner.Sender(app, provider, BearerAuth(tokens), options)
    first = (sender.lost(delivery, delivery.attempts) if delivery.ambiguous else
             provider.outcome(delivery.response, job))
    outcome = sender.settle(job, first)
    status = (batch.SUCCEEDED if outcome.ok else batch.UNKNOWN if outcome.unknown else
              batch.FAILED)
    code = int(ExitCode.OK if outcome.ok else ExitCode.FAILED)
    parts = outcome.parts or {}
    if out.json_mode:
        out.write_json({
            "request": {"method": "PUT", "url": url},
            "status": status,
            "ok": outcome.ok,
            "message": outcome.message,
            "shipments": [{"identifier": p.key, "status": p.status, "message": p.message}
                          for p in parts.values()],
            "exit_code": code,
        })
        return code
    for part in parts.values():
        out.print(printable(f"{part.key}  {part.status}  {part.message}"))
    if outcome.ok:
        out.info(printable(outcome.message))
    elif outcome.unknown:
        out.info(printable(f"unknown: {outcome.message}"))
        out.info("check each shipment with `shipctl fynd show SHIPMENT` before sending this"
                 " transition again: Fynd may have applied it")
    else:
        out.info(printable(f"error: {outcome.message}"))
    return code


# -- what a transition moves: the result line and the question before a cancellation ---------
class Move(NamedTuple):
    """What one transition asks of each of its shipments (they all carry the same products)."""

    identifiers: tuple[str, ...]
    to: str
    lines: tuple[tuple[int, int], ...]  # (line_number, quantity); () = the whole shipment
    rest: Any  # exclude_bags_next_state: a state, None or "" (the rest stay), or ABSENT

    @classmethod
    def of(cls, body: dict[str, Any]) -> Move:
        from shipctl.fynd.flags import ABSENT

        transition = body["statuses"][0]
        shipments = transition["shipments"]
        lines = tuple((p["line_number"], p["quantity"]) for p in shipments[0].get("products", ())
                      if "line_number" in p and "quantity" in p)
        return cls(tuple(s["identifier"] for s in shipments), transition["status"], lines,
                   transition.get("exclude_bags_next_state", ABSENT))

    def units(self, word: bool = False) -> str:
        """The units named: "5" (word: "5 units"), or "15 (lines 1:5, 2:10)"."""
        total = sum(quantity for _, quantity in self.lines)
        text = str(total)
        if word:
            text += " unit" if total == 1 else " units"
        if len(self.lines) > 1:
            text += f" (lines {', '.join(f'{ln}:{q}' for ln, q in self.lines)})"
        return text

    @property
    def partial(self) -> bool:
        return bool(self.lines)

    @property
    def rest_to(self) -> str | None:
        """The state the shipment's other units go to, when a partial move names one."""
        return self.rest if self.partial and isinstance(self.rest, str) and self.rest else None

    def line(self, result: Any) -> str:
        """RESULT's line; for a partial move both sides: ``5 → bag_confirmed, the rest →
        bag_not_confirmed`` (or ``the rest stay`` for null and ""). The request names the units
        moved; how many the rest are, only the shipment knows, so they are "the rest"."""
        if not (result.ok and self.partial):
            return result.line()
        from shipctl.fynd.client import MESSAGE_MAX, printable
        from shipctl.fynd.flags import ABSENT

        sides = f"{self.units()} → {result.states or self.to}"
        if self.rest_to is not None:
            sides += f", the rest → {self.rest_to}"
        elif self.rest is not ABSENT:
            sides += ", the rest stay"
        parts = [result.identifier or "-", "ok", sides]
        if result.message:
            message = result.message
            parts.append(message if len(message) <= MESSAGE_MAX
                         else message[: MESSAGE_MAX - 1] + "…")
        return printable("  ".join(parts))

    def question(self) -> str | None:
        """What to ask before sending, when the move cancels units (``states.is_cancellation``:
        bag_not_confirmed and cancelled_*, the states Fynd wants a reason for); else None."""
        from shipctl.fynd.states import is_cancellation

        cancels = is_cancellation(self.to)
        rest_cancels = self.rest_to is not None and is_cancellation(self.rest_to)
        if not (cancels or rest_cancels):
            return None
        ids = self.identifiers
        shown = ", ".join(ids[:3]) + (", …" if len(ids) > 3 else "")
        of = f"shipment {ids[0]}" if len(ids) == 1 else f"each of {len(ids)} shipments ({shown})"
        if cancels and self.partial and not rest_cancels:
            return f"Cancel {self.units(word=True)} of {of}? [y/N] "
        if cancels:
            return f"Cancel every unit of {of}? [y/N] "
        return (f"Cancel every unit of {of} except the {self.units(word=True)} moving to "
                f"{self.to}? [y/N] ")


def _confirmed(app: Application, body: dict[str, Any]) -> bool:
    """Whether to send: yes without a question unless the move cancels units and standard input
    is a terminal (a script, cron or a pipe is never asked); then only "y" or "yes"."""
    import sys

    question = Move.of(body).question()
    if question is None or not app.out.stdin_is_tty:
        return True
    app.out.stderr.write(app.out.scrub(question))
    app.out.stderr.flush()
    answer = sys.stdin.readline()  # "" at end of input (Ctrl-D): no
    if not answer.endswith("\n"):
        app.out.stderr.write("\n")
    return answer.strip().casefold() in ("y", "yes")


def _declined(app: Application, url: str) -> int:
    """Declining is the user's choice, not a failure: exit 0, as rm -i does, saying so."""
    code = int(ExitCode.OK)
    if app.out.json_mode:
        app.out.write_json({"request": {"method": "PUT", "url": url}, "sent": False,
                            "declined": True, "shipments": [], "exit_code": code})
    app.out.info("declined: nothing was sent")
    return code


# -- fynd reasons -------------------------------------------------------------------------------
def list_reasons(app: Application, shipment_id: str, bag_id: str, state: str, *,
                 timeout: float, retries: int, ca_bundle: Path | None) -> int:
    from shipctl import http
    from shipctl.fynd import client, token

    _known_state("--state", state)
    out = app.out
    options = _options(app, timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    config = token.settings(app)
    url = client.reasons_url(config.url, str(config.company_id), shipment_id, bag_id, state)
    tokens = token.source(config, options, log=out.info if app.debug else None)
    response = _send(app, http.Call("GET", url, {"Accept": "application/json"}), tokens,
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
    rows = [[client.printable(_cell(r.get("id"))), client.printable(_cell(r.get("display_name")))]
            for r in found if isinstance(r, dict)]
    if not rows:
        out.info(f"Fynd lists no reasons for moving bag {bag_id} to {state}")
        return int(ExitCode.OK)
    out.table(["ID", "REASON"], rows)
    return int(ExitCode.OK)


def _known_state(flag: str, state: str) -> None:
    """A usage error unless STATE is one of Fynd's states that shipctl knows. `fynd reasons`
    has no --force: a misspelt state would only come back as an empty list of reasons."""
    from shipctl.fynd.client import printable
    from shipctl.fynd.states import STATES
    from shipctl.suggest import nearest

    if state in STATES:
        return
    guess = nearest(state, STATES)
    hint = f" (did you mean {guess}?)" if guess else ""
    raise UsageError(f"{flag} {printable(state)!s}: unknown state{hint}",
                     hint="`shipctl fynd states` lists them; nothing was sent")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# -- fynd auth ----------------------------------------------------------------------------------
def check_auth(app: Application, *, timeout: float, ca_bundle: Path | None) -> int:
    """Fetch a new token (a cached one proves nothing about the credentials now)."""
    from shipctl.fynd import token
    from shipctl.secrets import MASK

    out = app.out
    options = _options(app, timeout=timeout, retries=1, ca_bundle=ca_bundle)
    config = token.settings(app)
    tokens = token.source(config, options, log=out.info if app.debug else None)
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
