"""`shipctl ecom listen`, `export` and `forward`: the commands of Ecom's receiving side
(``shipctl.ecom.receive``), thin: each gathers its options and calls into that package, which
is imported only inside them (uvicorn and sqlite3 with it).

The Ecom command group (``shipctl.ecom.commands``) calls ``register(group)`` at its end; this
module does not import it back (no import cycle).
"""

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
    """Add ``listen``, ``export`` and ``forward`` to the ``shipctl ecom`` group."""
    group.command()(listen)
    group.command()(export)
    group.command()(forward)


HostOpt = Annotated[
    str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
]
PortOpt = Annotated[
    int, typer.Option("--port", min=0, max=65535, metavar="N", help="0 = any free port.")
]
PathOpt = Annotated[str, typer.Option("--path", metavar="PATH", help="URL path Ecom posts to.")]
ForwardToOpt = Annotated[
    Optional[str],
    typer.Option(
        "--forward-to",
        metavar="URL",
        help="Relay each newly stored push (body and headers as received) to URL from the"
        " store: retried with back-off until --forward-retry-for, per-AWB order kept,"
        " resumed after a restart.",
    ),
]
ForwardConcurrencyOpt = Annotated[
    int,
    typer.Option("--forward-concurrency", min=1, max=64, metavar="N",
                 help="Deliveries at once, each of another AWB."),
]
ForwardBackoffOpt = Annotated[
    str,
    typer.Option("--forward-backoff", metavar="FIRST[,MOST]",
                 help="Wait after a failed delivery: FIRST, doubling up to MOST, each with"
                 " jitter (10s,1h; durations such as 500ms, 10s, 5m, 1h)."),
]
ForwardRetryForOpt = Annotated[
    str,
    typer.Option("--forward-retry-for", metavar="DURATION",
                 help="Retry a push this long after its first attempt, then mark it dead."),
]
UsernameOpt = Annotated[
    Optional[str],
    typer.Option("--username", metavar="NAME", help="Default: the profile's ecom.username."),
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from one line of stdin (default: the profile's"
        " ecom.password).",
    ),
]
TrustProxyOpt = Annotated[
    bool,
    typer.Option(
        "--trust-proxy",
        help="The client's address is the last one in X-Forwarded-For (set by your proxy"
        " in front); without it that header is ignored. Used in the log and to block"
        " brute force.",
    ),
]
MaxConnectionsOpt = Annotated[
    Optional[int],
    typer.Option(
        "--max-connections",
        min=2,
        metavar="N",
        help="Open connections at most (default 1024, fewer when the open-file limit is"
        " lower); past it idle ones are closed, else 503.",
    ),
]


def listen(
    ctx: typer.Context,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    path: PathOpt = "/",
    store: StoreOpt = None,
    forward_to: ForwardToOpt = None,
    forward_concurrency: ForwardConcurrencyOpt = 8,
    forward_backoff: ForwardBackoffOpt = "10s,1h",
    forward_retry_for: ForwardRetryForOpt = "24h",
    username: UsernameOpt = None,
    password_stdin: PasswordStdinOpt = False,
    trust_proxy: TrustProxyOpt = False,
    max_connections: MaxConnectionsOpt = None,
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
    from shipctl.ecom.receive import listen as listening
    from shipctl.ecom.receive import options
    from shipctl.ecom.receive.store import default_path

    app = get_app(ctx)
    app.use(profile=profile)
    options.check_path(path)
    password = options.password_from_stdin() if password_stdin else None
    user, password = options.credentials(app.setting("ecom.username", username).value,
                                         app.setting("ecom.password", password).value)
    relay = options.relay_settings(forward_to, forward_concurrency, forward_backoff,
                                   forward_retry_for)
    raise typer.Exit(listening.serve(
        host=host, port=port, path=path, store_path=str(store or default_path()),
        username=user, password=password, forward_to=forward_to,
        log=listening.stderr_log, warn=app.out.warn, relay=relay,
        trust_proxy=trust_proxy, max_connections=max_connections,
    ))


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
