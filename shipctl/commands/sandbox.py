"""`shipctl sandbox`: serve the embedded simulators on loopback until Ctrl-C
(docs/conventions.md, Sandbox)."""

from enum import Enum
from typing import Annotated, Optional

import typer

from shipctl.app import get_app


class FailMode(str, Enum):
    code2 = "code2"
    http503 = "http503"
    reset = "reset"
    stall = "stall"
    mix = "mix"
    any = "any"


def sandbox(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            metavar="ADDRESS",
            help="Address to listen on (0.0.0.0: every IPv4 interface). Only requests for"
            " this host or a loopback name or address are answered; others get 421.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, metavar="N", help="Port (0 = any free).")
    ] = 8765,
    latency: Annotated[
        float, typer.Option("--latency", min=0, metavar="MS", help="Added latency per answer.")
    ] = 0.0,
    jitter: Annotated[
        float, typer.Option("--jitter", min=0, metavar="MS", help="Random ± latency.")
    ] = 0.0,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate",
            min=0,
            max=1,
            metavar="P",
            help="Fraction of answers replaced by a fault, 0 to 1.",
        ),
    ] = 0.0,
    fail_mode: Annotated[
        FailMode,
        typer.Option(
            "--fail-mode",
            help="Which fault: EWE code 2, HTTP 503, dropped connection, a mix of those three,"
            " stall (applied, then no answer until the client gives up), or any of the four.",
        ),
    ] = FailMode.mix,
    seed: Annotated[
        Optional[int], typer.Option("--seed", metavar="N", help="Seed for reproducible faults.")
    ] = None,
) -> None:
    """Serve simulators of the EWE, Fynd and Ecom APIs on loopback until Ctrl-C.

    Prints the base URLs and the sandbox credentials. GET /_sandbox/stats reports how many
    times each item was applied and how many faults were injected. A stall applies the
    request and never answers it: what a lost answer looks like to a client.

    \b
    Examples:
      $ shipctl sandbox
      $ shipctl sandbox --latency 50 --fail-rate 0.2 --seed 7
      $ shipctl sandbox --fail-rate 0.3 --fail-mode stall
    """
    from shipctl.sandbox import Faults, serve_forever

    app = get_app(ctx)
    faults = Faults(
        latency_ms=latency,
        jitter_ms=jitter,
        fail_rate=fail_rate,
        fail_mode=fail_mode.value,
        seed=seed,
    )
    raise typer.Exit(serve_forever(app.out, host=host, port=port, faults=faults))
