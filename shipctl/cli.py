"""The entry point: run the command tree and map every outcome to an exit code.

The command tree lives in shipctl.commands.root and is imported only when needed: the
commonest probe, `shipctl --version`, is answered before typer is even imported.
"""

from __future__ import annotations

import os
import sys

from shipctl import COMPLETE_VAR, __version__
from shipctl.errors import ExitCode, ShipctlError


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map every outcome to an exit code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # the commonest probe of all: answer it without building the command tree
        sys.stdout.write(f"shipctl {__version__}\n")
        return ExitCode.OK
    import typer
    from typer.main import get_command

    from shipctl.commands.root import root_group

    if COMPLETE_VAR in os.environ:
        # a TAB press: typer registers its shells only when its own completion flags are on
        from typer.completion import completion_init

        completion_init()
    command = get_command(root_group)
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
    from shipctl.commands import root

    if root.current is not None:
        return root.current.debug
    args = sys.argv[1:] if argv is None else argv
    return os.environ.get("SHIPCTL_DEBUG", "") not in ("", "0") or "--debug" in args


def _report(message: str) -> None:
    from shipctl import secrets

    lines = secrets.redact(message).splitlines() or [""]
    sys.stderr.write(f"error: {lines[0]}\n")
    for line in lines[1:]:
        sys.stderr.write(f"{line}\n")
