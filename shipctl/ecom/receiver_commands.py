"""`shipctl ecom listen` and `shipctl ecom export`: capture pushes, write them out for replay.

The Ecom command group (``shipctl.ecom.commands``) calls ``register(group)`` at its end; this
module does not import it back (no import cycle). uvicorn, sqlite3 and the receiver are
imported inside the commands.
"""

# Annotations stay real objects (no `from __future__ import annotations`): typer reads
# every option's annotation at start-up, and string ones cost an eval each (~3 ms a run).

from pathlib import Path
from typing import Annotated, Optional

import typer

from shipctl.app import get_app
from shipctl.commands.options import ProfileOpt

StoreOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--store",
        metavar="FILE",
        help="SQLite file of captured pushes (default: ecom-pushes.sqlite3 in shipctl's"
        " per-user data directory).",
        dir_okay=False,
    ),
]


def register(group: typer.Typer) -> None:
    """Add ``listen`` and ``export`` to the ``shipctl ecom`` group."""
    group.command()(listen)
    group.command()(export)
    group.command()(forward)


def listen(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, metavar="N", help="0 = any free port.")
    ] = 8000,
    path: Annotated[
        str, typer.Option("--path", metavar="PATH", help="URL path Ecom posts to.")
    ] = "/",
    store: StoreOpt = None,
    forward_to: Annotated[
        Optional[str],
        typer.Option(
            "--forward-to",
            metavar="URL",
            help="Relay each newly stored push (body and headers as received) to URL from the"
            " store: retried with back-off until --forward-retry-for, per-AWB order kept,"
            " resumed after a restart.",
        ),
    ] = None,
    forward_concurrency: Annotated[
        int,
        typer.Option("--forward-concurrency", min=1, max=64, metavar="N",
                     help="Deliveries at once, each of another AWB."),
    ] = 8,
    forward_backoff: Annotated[
        str,
        typer.Option("--forward-backoff", metavar="FIRST[,MOST]",
                     help="Wait after a failed delivery: FIRST, doubling up to MOST, each with"
                     " jitter (10s,1h; durations such as 500ms, 10s, 5m, 1h)."),
    ] = "10s,1h",
    forward_retry_for: Annotated[
        str,
        typer.Option("--forward-retry-for", metavar="DURATION",
                     help="Retry a push this long after its first attempt, then mark it dead."),
    ] = "24h",
    username: Annotated[
        Optional[str],
        typer.Option("--username", metavar="NAME", help="Default: the profile's ecom.username."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from one line of stdin (default: the profile's"
            " ecom.password).",
        ),
    ] = False,
    trust_proxy: Annotated[
        bool,
        typer.Option(
            "--trust-proxy",
            help="The client's address is the last one in X-Forwarded-For (set by your proxy"
            " in front); without it that header is ignored. Used in the log and to block"
            " brute force.",
        ),
    ] = False,
    max_connections: Annotated[
        Optional[int],
        typer.Option(
            "--max-connections",
            min=2,
            metavar="N",
            help="Open connections at most (default 1024, fewer when the open-file limit is"
            " lower); past it idle ones are closed, else 503.",
        ),
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Receive Ecom's status pushes: check, answer as Ecom documents it, store, log.

    Checks Basic Auth (or username/password headers) against the profile's ecom.username and
    ecom.password before reading the body, validates each push like `ecom validate`, and
    answers 200 only once the push is committed to the store; invalid bodies get 400, wrong
    credentials 401 (20 failures in a minute from one address: 429 for a minute), bodies over
    1 MiB 413. A push whose status_update_number is already stored is answered 200 and not
    stored again. One line per push on stderr, with the client's address. Ctrl-C, SIGTERM or
    SIGHUP finishes the requests in flight and exits 0.

    \b
    Examples:
      $ shipctl ecom listen --port 8000 --store pushes.sqlite3
      $ printf '%s\\n' "$PW" | shipctl ecom listen --username ecom --password-stdin
      $ shipctl ecom listen --forward-to https://shop.example.com/ecom/webhook
    """
    from shipctl import secrets
    from shipctl.ecom.receive import listen as listening
    from shipctl.ecom.receive.store import default_path
    from shipctl.errors import UsageError

    app = get_app(ctx)
    app.use(profile=profile)
    if not path.startswith("/"):
        raise UsageError(f"--path {path}: must start with / (e.g. /ecom/webhook)")
    password = None
    if password_stdin:
        password = secrets.read_line()
        if not password:
            raise UsageError("--password-stdin: stdin was empty; pipe the password in one line")
        secrets.register(password)
    user = app.setting("ecom.username", username).value
    password = app.setting("ecom.password", password).value
    if user and ":" in str(user):
        # RFC 7617: the user-id ends at the first colon, so no request could ever match it
        raise UsageError(f"ecom listen: the username {user!r} holds a colon, which Basic Auth"
                         " cannot carry (the username ends at the first colon)",
                         hint="choose a username without ':' (--username NAME, or shipctl"
                         " config set ecom.username NAME)")
    if not user or not password:
        missing = " and ".join(k for k, v in (("ecom.username", user), ("ecom.password", password))
                               if not v)
        raise UsageError(
            f"ecom listen needs the credentials Ecom will send; {missing} not set",
            hint="shipctl config set ecom.username NAME, then shipctl config set ecom.password"
            " (prompted), or pass --username NAME --password-stdin",
        )
    relay = None
    if forward_to:
        _check_url(forward_to)
        relay = _relay_settings(forward_concurrency, forward_backoff, forward_retry_for)
    raise typer.Exit(listening.serve(
        host=host, port=port, path=path, store_path=str(store or default_path()),
        username=str(user), password=str(password), forward_to=forward_to,
        log=listening.stderr_log, warn=app.out.warn, relay=relay,
        trust_proxy=trust_proxy, max_connections=max_connections,
    ))


def _relay_settings(concurrency: int, backoff: str, retry_for: str) -> dict:
    from shipctl.ecom.receive.relay import Schedule, parse_duration

    first, _, most = backoff.partition(",")
    first_s = parse_duration("--forward-backoff", first)
    most_s = parse_duration("--forward-backoff", most) if most else max(first_s, 3600.0)
    if most_s < first_s:
        from shipctl.errors import UsageError

        raise UsageError(f"--forward-backoff {backoff}: MOST must not be less than FIRST")
    schedule = Schedule(first_s, most_s, parse_duration("--forward-retry-for", retry_for))
    return {"concurrency": concurrency, "schedule": schedule}


def export(
    ctx: typer.Context,
    store: StoreOpt = None,
    awb: Annotated[
        Optional[list[str]],
        typer.Option("--awb", metavar="AWB", help="Only this AWB's pushes (repeatable)."),
    ] = None,
    since: Annotated[
        Optional[str],
        typer.Option(
            "--since",
            metavar="DATETIME",
            help="Only scans at or after this push datetime (naive IST, as Ecom sends it):"
            " YYYY-mm-dd, YYYY-mm-dd HH:MM or YYYY-mm-dd HH:MM:SS.",
        ),
    ] = None,
    unforwarded: Annotated[
        bool,
        typer.Option("--unforwarded",
                     help="Only pushes the --forward-to relay has not delivered (pending or"
                     " dead)."),
    ] = False,
    conflicts: Annotated[
        bool,
        typer.Option("--conflicts",
                     help="Instead of pushes, the conflicts: a status_update_number received"
                     " again with another AWB, status or datetime (one JSON object per line,"
                     " both bodies)."),
    ] = False,
) -> None:
    """Write captured pushes as JSON Lines, ready for `ecom replay`.

    One push per line, each AWB's in the order they arrived: the raw body as received when
    it is one line (else the same JSON on one line). A summary goes to stderr.

    \b
    Examples:
      $ shipctl ecom export --store pushes.sqlite3 > captured.jsonl
      $ shipctl ecom export --awb 8001234567 --since '2024-03-05 00:00'
      $ shipctl ecom export | shipctl ecom replay --to http://127.0.0.1:9000/ -
      $ shipctl ecom export --unforwarded --store pushes.sqlite3
      $ shipctl ecom export --conflicts --store pushes.sqlite3
    """
    from shipctl.ecom.receive.export import run, run_conflicts
    from shipctl.ecom.receive.store import default_path

    app = get_app(ctx)
    if conflicts:
        raise typer.Exit(run_conflicts(app.out, store or default_path()))
    raise typer.Exit(run(app.out, store or default_path(), awbs=awb, since=since,
                         unforwarded=unforwarded))


def forward(
    ctx: typer.Context,
    store: StoreOpt = None,
    retry_dead: Annotated[
        bool,
        typer.Option("--retry-dead",
                     help="Put the dead pushes back in the relay's queue, due now."),
    ] = False,
) -> None:
    """Show the --forward-to relay's queue of a store; --retry-dead sends dead pushes again.

    Counts the store's pushes by forward state: pending (held: waiting behind an earlier push
    of the same AWB), forwarded, dead. With --retry-dead the dead ones are pending again, their
    attempts reset: the running `ecom listen --forward-to` on this store sends them within a
    second, or the next one does when it starts. Nothing already forwarded is sent again.

    \b
    Examples:
      $ shipctl ecom forward --store pushes.sqlite3
      $ shipctl ecom forward --store pushes.sqlite3 --retry-dead
    """
    from shipctl.ecom.receive.export import forward_status
    from shipctl.ecom.receive.store import default_path

    app = get_app(ctx)
    raise typer.Exit(forward_status(app.out, store or default_path(), retry_dead=retry_dead))


def _check_url(url: str) -> None:
    from urllib.parse import unquote, urlsplit

    from shipctl import secrets
    from shipctl.errors import UsageError

    parts = urlsplit(url)
    if parts.password:  # https://user:password@host/: masked in every log line
        secrets.register(parts.password)
        secrets.register(unquote(parts.password))  # as the HTTP layer sends it
    # refused now, not with every push relayed: a space, a port that is not a number
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise UsageError(f"--forward-to {url}: a URL has no spaces")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise UsageError(f"--forward-to {url}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--forward-to {url}: give an http:// or https:// URL")
