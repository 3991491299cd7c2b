"""`shipctl config …`: profiles, credentials and settings (docs/conventions.md,
Configuration).

Imported at start-up (and on every TAB press), so only typer and the standard library are
imported here; the work is done by ``shipctl.config``, imported inside each command.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from shipctl.app import get_app
from shipctl.commands.groups import command_group
from shipctl.commands.options import (
    OutputFormat,
    OutputOpt,
    ProfileOpt,
    ShowSecretsOpt,
    complete_key_described,
)
from shipctl.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from shipctl.app import Application
    from shipctl.config import KeySpec

group = command_group("Profiles, credentials and settings: set, get, unset, show, profiles, path.")


KeyArg = Annotated[
    str,
    typer.Argument(
        help="A config key, e.g. ewe.username (all keys: `shipctl config show`).",
        autocompletion=complete_key_described,
        show_default=False,
    ),
]


# -- commands -------------------------------------------------------------------------------
@group.command("set")
def set_(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[
        Optional[str],
        typer.Argument(
            help="The value. Omit it for a secret: you are prompted without echo, or one line"
            " is read from stdin when it is not a terminal.",
            show_default=False,
        ),
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Set KEY in a profile of the config file (created 0600 on first use).

    A profile that does not exist yet is created. A value starting with '-' goes after '--'.

    \b
    Examples:
      $ shipctl config set ewe.username acme
      $ shipctl config set ewe.password                      # prompts, no echo
      $ printf '%s\\n' "$PW" | shipctl config set --profile prod ewe.password
    """
    from shipctl import config, secrets

    app = get_app(ctx)
    app.use(profile=profile)
    spec = config.key_spec(key)
    config.check_profile_name(app.profile)
    out = app.out
    if value is None:
        value = _read_value(spec, app.profile, out.stdin_is_tty)
        if spec.secret:
            secrets.register(value)
    elif spec.secret:
        secrets.register(value)
        out.warn(
            f"a secret given on the command line may be kept in your shell history and seen"
            f" in the process list; omit VALUE to be prompted, or pipe it:"
            f" printf '%s\\n' \"$SECRET\" | shipctl config set {spec.name}"
        )
    typed = config.parse_value(spec, value)
    with config.edit(app.config_path, out) as cfg:
        cfg.set(app.profile, spec.name, typed)
    out.info(f"set {spec.name} for profile '{app.profile}' in {cfg.path}")
    if spec.type == "path" and not os.path.isfile(typed):
        # kept anyway (the file may come later), but every command using it would fail
        out.warn(f"{typed} is not a readable file yet")
    if os.environ.get(spec.env):
        out.warn(f"{spec.env} is set in the environment and takes precedence over this value")


def _read_value(spec: "KeySpec", profile: str, interactive: bool) -> str:
    if interactive:
        # err=True: the prompt is not a result, stdout stays clean
        return typer.prompt(
            f"{spec.name} for profile '{profile}'",
            hide_input=spec.secret,
            confirmation_prompt=spec.secret,
            err=True,
        )
    from shipctl import secrets

    line = secrets.read_line()
    if not line:
        raise UsageError(
            f"no value for {spec.name} on stdin: give VALUE, or pipe one line, e.g."
            f" printf '%s\\n' \"$VALUE\" | shipctl config set {spec.name}"
        )
    return line


@group.command()
def get(
    ctx: typer.Context,
    key: KeyArg,
    profile: ProfileOpt = None,
    show_secrets: ShowSecretsOpt = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Print KEY's value for the active profile (flag > env > file > default).

    Secrets are masked unless --show-secrets. Exit 1 when the key is not set anywhere.

    \b
    Examples:
      $ shipctl config get ewe.url
      $ shipctl config get ewe.password --profile prod -o json
    """
    from shipctl import config

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is OutputFormat.json, show_secrets=show_secrets)
    spec = config.key_spec(key)
    setting = app.setting(spec.name)
    if output is OutputFormat.json:
        app.out.write_json(setting.as_dict(show_secrets))
    elif setting.value is not None:
        app.out.print(str(setting.shown(show_secrets)))
    if setting.value is None:
        app.out.info(
            f"{spec.name} is not set for profile '{app.profile}' (not in {spec.env},"
            f" not in {app.config.path}, no default)"
        )
        raise typer.Exit(ExitCode.FAILED)


@group.command()
def unset(ctx: typer.Context, key: KeyArg, profile: ProfileOpt = None) -> None:
    """Remove KEY from a profile of the config file (absent already is fine).

    \b
    Examples:
      $ shipctl config unset --profile staging ewe.password
    """
    from shipctl import config

    app = get_app(ctx)
    app.use(profile=profile)
    spec = config.key_spec(key)
    where = f"profile '{app.profile}'"
    # Look first, so that removing nothing creates no file and no directory.
    loaded = config.load(app.config_path, must_exist=app.config_origin)
    if loaded.raw_or_none(app.profile, spec) is None:
        app.out.info(f"{spec.name} was not set for {where} in {_path(app)}; nothing to do")
        return
    with config.edit(app.config_path, app.out) as cfg:
        removed = cfg.unset(app.profile, spec.name)
    if removed:
        app.out.info(f"unset {spec.name} for {where} in {cfg.path}")
    else:  # removed by someone else in the meantime
        app.out.info(f"{spec.name} was not set for {where} in {cfg.path}; nothing to do")


@group.command()
def show(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    show_secrets: ShowSecretsOpt = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Every key of the active profile: its value (secrets masked) and where it came from.

    The source column says flag, sandbox, the environment variable, the config file, default,
    or unset.

    \b
    Examples:
      $ shipctl config show
      $ SHIPCTL_EWE_PASSWORD=… shipctl config show --profile prod
    """
    from shipctl import config

    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is OutputFormat.json, show_secrets=show_secrets)
    settings = [app.setting(key) for key in config.KEYS]
    if output is OutputFormat.json:
        app.out.write_json(
            {
                "profile": app.profile,
                "config": str(app.config.path),
                "settings": [s.as_dict(show_secrets) for s in settings],
            }
        )
        return
    rows = []
    for setting in settings:
        shown = setting.shown(show_secrets)
        rows.append([setting.key, "" if shown is None else str(shown), setting.source])
    if app.out.stdout_is_tty:
        _show_on_terminal(app, rows)
    else:  # tab-separated, one full row per key, for scripts
        app.out.table(["key", "value", "source"], rows)


def _show_on_terminal(app: "Application", rows: list[list[str]]) -> None:
    """The path once above the table ("file" in the source column), and values never cut:
    a value a user copies (a URL, a path) wraps whole rather than ending in "…"."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = app.out
    path = str(app.config.path)
    console = Console(no_color=not out.color, highlight=False)
    state = "" if app.config.exists else " (does not exist yet)"
    console.print(out.scrub(f"profile '{app.profile}', config file {path}{state}"),
                  soft_wrap=True, markup=False)
    # No side borders: on 80 columns the value column keeps its full width where it can.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    sources = ["file" if source == path else source for _, _, source in rows]
    keys = max(len(key) for key, _, _ in rows)
    widest = max(len(value) for _, value, _ in rows)
    room = console.width - keys - 6  # 6: the two gaps between the three columns
    value_width = source_width = None
    if widest + max(map(len, sources)) > room:
        # Too wide for the terminal: the value keeps as much as it can; what does not fit
        # wraps whole ("fold"), never cut with "…". The source column gives way first.
        value_width = max(min(widest, room - len("default")), 10)
        source_width = max(room - value_width, len("default"))
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold", width=value_width)
    table.add_column("source", overflow="fold", width=source_width)
    for (key, value, _), source in zip(rows, sources, strict=True):
        # Text, not markup: a value like "[x]" is printed as it is
        table.add_row(Text(key), Text(out.scrub(value)), Text(source))
    console.print(table)


@group.command()
def profiles(
    ctx: typer.Context, profile: ProfileOpt = None, output: OutputOpt = OutputFormat.text
) -> None:
    """List the profiles in the config file; '*' marks the active one.

    \b
    Examples:
      $ shipctl config profiles
      $ shipctl config profiles -o json
    """
    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is OutputFormat.json)
    cfg = app.config
    names = cfg.profiles()
    if output is OutputFormat.json:
        app.out.write_json(names)
        return
    for name in names:
        app.out.print(("* " if name == app.profile else "  ") + name)
    if not names:
        app.out.info(
            f"no profiles in {cfg.path} yet; create one with `shipctl config set KEY VALUE`"
        )
    elif app.profile not in names:
        app.out.info(f"the active profile '{app.profile}' is not defined in {cfg.path}")


@group.command()
def path(
    ctx: typer.Context, profile: ProfileOpt = None, output: OutputOpt = OutputFormat.text
) -> None:
    """Print the config file's path (--config, SHIPCTL_CONFIG, or the per-user file).

    \b
    Examples:
      $ shipctl config path
      $ $EDITOR "$(shipctl config path)"
    """
    app = get_app(ctx)
    app.use(profile=profile, json_mode=output is OutputFormat.json)
    target = _path(app)
    if output is OutputFormat.json:
        app.out.write_json({"path": str(target), "exists": target.exists()})
    else:
        app.out.print(str(target))


def _path(app: "Application") -> Path:
    from shipctl import config

    return config.config_path(app.config_path)
