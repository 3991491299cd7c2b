"""The root command: global options, the registry of command groups, and ``main``.

Only typer and the thin command modules are imported here; each command imports what it
needs when it runs, so ``shipctl --version`` and TAB completion stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from shipctl import __version__
from shipctl.commands import completions as completions_cmd
from shipctl.commands import config as config_cmd
from shipctl.commands import digest as digest_cmd
from shipctl.commands import sandbox as sandbox_cmd
from shipctl.commands.completions import COMPLETE_VAR
from shipctl.errors import ExitCode, ShipctlError
from shipctl.ewe import commands as ewe_cmd

EXIT_CODES_HELP = (
    "Exit codes: 0 everything valid/delivered; 1 an item invalid, rejected or not delivered;"
    " 2 usage error, unreadable input or missing configuration (nothing sent);"
    " 130 interrupted."
)

app = typer.Typer(
    name="shipctl",
    help="Shipment operations: EWE modifyShipment, Fynd status updates, Ecom Express pushes.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: see commands.options.group
    add_completion=False,  # `shipctl completions SHELL` replaces typer's install flags
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_current = None  # the Application of this invocation, for main()'s error handling


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"shipctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            envvar="SHIPCTL_PROFILE",
            help="Credentials profile to use.",
            autocompletion=config_cmd.complete_profile,
        ),
    ] = "default",
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            envvar="SHIPCTL_CONFIG",
            help="Config file to use instead of the per-user one.",
            dir_okay=False,
        ),
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            envvar="SHIPCTL_SANDBOX",
            help="Start the embedded simulator on loopback and point every client at it.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="SHIPCTL_DEBUG", help="Full tracebacks and HTTP wire logs."),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    global _current
    from shipctl.app import Application

    _current = ctx.obj = Application(
        profile=profile, config_path=config, sandbox=sandbox, debug=debug
    )
    _current.out.verbose = debug
    ctx.call_on_close(_current.close)


app.add_typer(config_cmd.app, name="config")
app.command("digest", epilog=EXIT_CODES_HELP)(digest_cmd.digest)
app.add_typer(ewe_cmd.app, name="ewe")
app.command("sandbox")(sandbox_cmd.sandbox)
app.command("completions")(completions_cmd.completions)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map every outcome to an exit code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # the commonest probe of all: answer it without building the command tree
        sys.stdout.write(f"shipctl {__version__}\n")
        return ExitCode.OK
    from typer.main import get_command

    if COMPLETE_VAR in os.environ:
        # a TAB press: typer registers its shells only when its own completion flags are on
        from typer.completion import completion_init

        completion_init()
    command = get_command(app)
    try:
        result = command.main(args=argv, prog_name="shipctl", standalone_mode=False)
        return result if isinstance(result, int) else ExitCode.OK
    except ShipctlError as error:
        _report(str(error))
        return error.exit_code
    except typer.Abort:
        sys.stderr.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return ExitCode.INTERRUPTED
    except typer.Exit as exit_:
        return exit_.exit_code
    except BrokenPipeError:
        # `shipctl … | head`: the reader left; that is not our failure
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return ExitCode.OK
    except Exception as error:  # noqa: BLE001 - the last line of defence against tracebacks
        from typer._click.exceptions import ClickException

        if isinstance(error, ClickException):
            error.show()
            return error.exit_code
        if _debugging(argv):
            raise
        _report(f"internal error: {type(error).__name__}: {error}\nrun with --debug for details")
        return ExitCode.FAILED


def _debugging(argv: list[str] | None) -> bool:
    if _current is not None:
        return _current.debug
    args = sys.argv[1:] if argv is None else argv
    return os.environ.get("SHIPCTL_DEBUG", "") not in ("", "0") or "--debug" in args


def _report(message: str) -> None:
    from shipctl import secrets

    lines = secrets.redact(message).splitlines() or [""]
    sys.stderr.write(f"error: {lines[0]}\n")
    for line in lines[1:]:
        sys.stderr.write(f"{line}\n")
