"""The entry point: run the command tree and map every outcome to an exit code.

The command tree lives in shipctl.commands.root and is imported only when needed: the
commonest probe, `shipctl --version`, is answered before typer is even imported.
"""

from __future__ import annotations

import os
import sys

from shipctl import COMPLETE_VAR, __version__
from shipctl.errors import ExitCode, ShipctlError

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing for --version
if TYPE_CHECKING:
    from collections.abc import Callable


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map every outcome to an exit code."""
    try:
        code = run(argv)
    except KeyboardInterrupt:  # a second signal while the first was being reported
        code = ExitCode.INTERRUPTED
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # the commonest probe of all: answer it without building the command tree
        sys.stdout.write(f"shipctl {__version__}\n")
        return ExitCode.OK
    # SIGTERM is an interruption like Ctrl-C from here on, in every command and phase
    # (reading input included): exit 130, "interrupted". The bulk engine installs its own
    # handlers while it sends, and `shipctl sandbox` while it serves; both restore these.
    restore = _catch_signals()
    # Inputs may hold lone surrogates (JSON allows "\ud800"): printed as their escape (as
    # Python's own stderr does), rather than an internal error half-way through the output.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        try:
            code = _run(argv)
        except KeyboardInterrupt:
            # a signal while typer was imported or while an error was being reported
            return _interrupted()
        if _signalled:
            # typer returns 130 for a KeyboardInterrupt, silently; and the interruption may
            # have been swallowed on its way up: then the outcome is not whole either
            return _interrupted()
        return code
    except KeyboardInterrupt:  # a second signal just then
        return ExitCode.INTERRUPTED
    finally:
        restore()


# The signal our handler turned into a KeyboardInterrupt during this run, if any. Some
# libraries wrap whatever a callback raises (pydantic: "PydanticSerializationError: Error
# calling function: KeyboardInterrupt"), so an error after it is an interruption too.
_signalled: str | None = None
_told = False  # "interrupted" was written


def _catch_signals() -> Callable[[], None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread; returns the undo.

    Left alone, as Python leaves SIGINT: a signal someone set to be ignored or handled (an
    embedding program), and calls from another thread, where handlers cannot be set.
    """
    import signal  # typer imports it anyway: no start-up cost

    from shipctl import output
    from shipctl.stopping import handle

    global _signalled, _told
    _signalled, _told = None, False
    output.signalled = False

    def interrupt(signum: int, frame: object) -> None:
        global _signalled
        _signalled = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
        output.signalled = True  # seen at the end even if the KeyboardInterrupt is swallowed
        raise KeyboardInterrupt

    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    put_back = handle(interrupt, defaults, over=defaults)

    def restore() -> None:
        output.signalled = False  # this run's: a later run in the same process starts clean
        put_back()

    return restore


def _interrupted() -> int:
    """Say so (once per run) and return 130."""
    global _told
    if not _told:
        _told = True
        sys.stderr.write("interrupted\n")
    return ExitCode.INTERRUPTED


def _run(argv: list[str] | None) -> int:
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
        if _signalled or _caused_by_interrupt(error):
            return _interrupted()
        _report(str(error))
        return error.exit_code
    except typer.Abort:  # click turns a KeyboardInterrupt (Ctrl-C, SIGTERM) into Abort
        return _interrupted()
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
        if _signalled or _caused_by_interrupt(error):
            return _interrupted()
        from typer._click.exceptions import ClickException

        if isinstance(error, ClickException):
            error.show()
            return error.exit_code
        if _debugging(argv):
            raise
        _report(f"internal error: {type(error).__name__}: {error}\nrun with --debug for details")
        return ExitCode.FAILED


def _caused_by_interrupt(error: BaseException) -> bool:
    """Whether ``error`` wraps an interruption: a KeyboardInterrupt, or the bulk engine's own
    signal exception, raised inside a library that turns whatever a callback raises into its
    own error (pydantic's serializers do)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if not isinstance(cause, Exception):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


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
