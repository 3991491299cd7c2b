"""`shipctl digest`: EWE's MD5+Base64 request signature (docs/ewe.md, Digest).

A top-level command of EWE's: ``register_commands`` adds it to the root
(``Provider.root_commands``).
"""

import sys
from typing import Annotated, Optional

import typer

from shipctl.app import get_app
from shipctl.commands.options import EXIT_CODES_HELP, OutputFormat, OutputOpt, ProfileOpt
from shipctl.errors import ExitCode, UsageError
from shipctl.ewe import MSG_TYPE

UsernameOpt = Annotated[
    Optional[str],
    typer.Option("--username", "-u", metavar="NAME", help="Default: the profile's ewe.username."),
]
MsgTypeOpt = Annotated[str, typer.Option("--msg-type", metavar="TYPE", help="EWE msgType.")]
CountOpt = Annotated[
    Optional[int],
    typer.Option("--count", min=0, metavar="N",
                 help="pushShipment form: md5(username + N + msgType + password)."),
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option("--password-stdin",
                 help="Read the password from one line of stdin (the first, with --verify -)."),
]
VerifyOpt = Annotated[
    Optional[str],
    typer.Option(
        "--verify",
        metavar="DIGEST",
        help="Exit 0 if DIGEST matches, 1 if not. '-' reads DIGEST from a line of stdin:"
        " the second one with --password-stdin (password first, then digest). A DIGEST"
        " given here can be seen in the process list and shell history.",
    ),
]


def register_commands(root: typer.Typer) -> None:
    """Add EWE's top-level commands to ``shipctl``."""
    root.command("digest", epilog=EXIT_CODES_HELP)(digest)


def digest(
    ctx: typer.Context,
    username: UsernameOpt = None,
    msg_type: MsgTypeOpt = MSG_TYPE,
    count: CountOpt = None,
    password_stdin: PasswordStdinOpt = False,
    verify: VerifyOpt = None,
    profile: ProfileOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Compute EWE's digest: base64(md5(username + msgType + password)).

    Prints only the digest, so `$(shipctl digest)` works. The password comes from
    --password-stdin or the profile's ewe.password (SHIPCTL_EWE_PASSWORD).

    With --verify - the digest to check is read from stdin too; with --password-stdin as well,
    stdin holds two lines: the password, then the digest.

    \b
    Examples:
      $ printf '%s\\n' "$PW" | shipctl digest --username test --password-stdin
      $ printf '%s\\n' "$DIGEST" | shipctl digest --verify -
      $ printf '%s\\n%s\\n' "$PW" "$DIGEST" | shipctl digest -u test --password-stdin --verify -
    """
    from shipctl.ewe import digest as ewe_digest

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is OutputFormat.json)
    password, expected = _from_stdin(password_stdin, verify)
    if password is None:
        password = app.require("ewe.password")
    user = app.require("ewe.username", flag=username)
    value = ewe_digest.compute(user, msg_type, password, count)
    if expected is not None:
        raise typer.Exit(_verify(app, expected, value, user, msg_type,
                                 given_on_stdin=verify == "-", password_stdin=password_stdin))
    # The digest is what the user asked for: written directly, not through the redacting Output.
    if output is OutputFormat.json:
        import json

        document = {"username": user, "msg_type": msg_type, "digest": value}
        if count is not None:
            document["count"] = count
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        sys.stdout.write(value + "\n")


def _from_stdin(password_stdin: bool, verify: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(the password read from stdin or None, the digest to verify or None), both registered
    as secrets: a digest is a credential (docs/conventions.md, Configuration)."""
    from shipctl import secrets

    password = None
    if password_stdin:
        password = secrets.read_line()
        if password is None:
            raise UsageError("--password-stdin: stdin was empty; pipe the password in one line")
        secrets.register(password)
    if verify == "-":
        verify = secrets.read_line()
        if not verify:
            raise UsageError(_no_digest_on_stdin(password_stdin))
    if verify is not None:
        secrets.register(verify.strip())
    return password, verify


def _verify(app, expected: str, value: str, user: str, msg_type: str, *,  # noqa: ANN001
            given_on_stdin: bool, password_stdin: bool) -> int:
    from shipctl.ewe import digest as ewe_digest

    if not ewe_digest.matches(expected, value):
        app.out.info(
            f"digest does not match username {user!r}, msgType {msg_type!r} and the given password"
        )
        return int(ExitCode.FAILED)
    if not given_on_stdin:
        # A working credential sits in the shell history and was in `ps`.
        app.out.warn(
            "a digest given on the command line may be kept in your shell history and"
            f" seen in the process list; pipe it to --verify -: {_pipe(password_stdin)}"
        )
    app.out.info(f"digest matches for username {user!r} and msgType {msg_type!r}")
    return int(ExitCode.OK)


def _pipe(password_stdin: bool) -> str:
    """How to pipe the digest in: after the password line when that comes from stdin too."""
    if password_stdin:
        return (
            "printf '%s\\n%s\\n' \"$PW\" \"$DIGEST\" | shipctl digest --password-stdin --verify -"
        )
    return "printf '%s\\n' \"$DIGEST\" | shipctl digest --verify -"


def _no_digest_on_stdin(password_stdin: bool) -> str:
    if password_stdin:
        return (
            "--verify - with --password-stdin reads two lines from stdin, the password and then"
            f" the digest; the digest line is missing, e.g. {_pipe(True)}"
        )
    return f"--verify -: no digest on stdin; pipe it in one line, e.g. {_pipe(False)}"
