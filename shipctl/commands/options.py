"""Option declarations shared by several commands, so each flag means one thing everywhere."""

from __future__ import annotations

import os
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer._click.core import Context
from typer._click.formatting import HelpFormatter
from typer.core import TyperCommand, TyperGroup

EXIT_CODES_HELP = (
    "Exit codes: 0 everything valid/delivered; 1 an item invalid, rejected or not delivered;"
    " 2 usage error, unreadable input or missing configuration (nothing sent);"
    " 130 interrupted."
)


def command_group(help: str, **settings) -> typer.Typer:
    """A command group. Help is click's plain formatter, not rich's: rich help costs ~45 ms
    of imports per `--help` (2.3× the start-up floor) for boxes around the same text."""
    settings.setdefault("no_args_is_help", True)
    settings.setdefault("cls", ShipctlGroup)
    # A provider's group is also built on its own (commands.root builds it when used): no
    # --install-completion there, `shipctl completions SHELL` is the one way in.
    settings.setdefault("add_completion", False)
    return ShipctlTyper(help=help, rich_markup_mode=None, **settings)


# -- help that reads like gh's ---------------------------------------------------------------
# Every command and group is a ShipctlCommand / ShipctlGroup (ShipctlTyper.command gives its
# commands that class unless they name a subclass, e.g. BulkCommand): plain metavars (N,
# FILE, NAME, text|json), no "x>=1" range notes, no flag name broken at its hyphen, and the
# global options listed under "Inherited flags" (they are accepted after the subcommand too:
# ShipctlGroup.parse_args moves them in front of it).
INHERITED_FLAGS = "Inherited flags"
# The global options accepted anywhere on the command line (the root's, except --version).
GLOBAL_OPTIONS = ("--profile", "-p", "--config", "--sandbox", "--debug", "--quiet", "--color")


@contextmanager
def _words_unbroken():
    """While help is formatted: wrap lines at spaces only, never at a hyphen inside a word
    (click's wrapper would print "--password-" at a line's end and "stdin" on the next)."""
    from typer._click import _textwrap

    wrapper = _textwrap.TextWrapper

    class Unbroken(wrapper):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - textwrap's
            kwargs["break_on_hyphens"] = False
            super().__init__(*args, **kwargs)

    _textwrap.TextWrapper = Unbroken
    try:
        yield
    finally:
        _textwrap.TextWrapper = wrapper


class _Formatter(HelpFormatter):
    def write_usage(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's
        with _words_unbroken():
            super().write_usage(*args, **kwargs)

    def write_text(self, text: str) -> None:
        with _words_unbroken():
            super().write_text(text)

    def write_dl(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's
        with _words_unbroken():
            super().write_dl(*args, **kwargs)


class _Context(Context):
    formatter_class = _Formatter


def _plain_metavar(param) -> str | None:  # noqa: ANN001 - a click parameter
    """What a person would write for this parameter's value: N, FILE, NAME, text|json."""
    from typer._click import types

    kind = param.type
    choices = getattr(kind, "choices", None)  # typer's Choice
    if choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in choices)
    if hasattr(kind, "dir_okay") and hasattr(kind, "file_okay"):  # typer's Path
        return "FILE" if not kind.dir_okay else "DIR" if not kind.file_okay else "PATH"
    if isinstance(kind, (types.IntParamType, types.FloatParamType)):
        return "N"
    return "TEXT"


class _Plain:
    """Help for people: see the comment above INHERITED_FLAGS."""

    context_class = _Context

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is not None:
                continue
            if param.param_type_name == "argument":
                param.metavar = (param.name or "").upper() + ("..." if param.nargs != 1 else "")
            elif not (getattr(param, "is_flag", False) or getattr(param, "count", False)):
                param.metavar = _plain_metavar(param)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                pieces.extend(param.get_usage_pieces(ctx))
                continue
            name = param.make_metavar(ctx)
            if not param.required:
                many = name.endswith("...")
                name = f"[{name.removesuffix('...')}]" + ("..." if many else "")
            pieces.append(name)
        if isinstance(self, TyperGroup):
            pieces.append(self.subcommand_metavar)
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = _help_record(param, ctx)
            if record is not None:
                (args if param.param_type_name == "argument" else opts).append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)
        if isinstance(self, TyperGroup):
            self.format_commands(ctx, formatter)

    def _inherited(self, ctx: Context) -> list:
        """The root's global options that apply to this subcommand ([] for the root)."""
        root = ctx.find_root()
        if root is ctx:
            return []
        own = {name for param in self.params for name in getattr(param, "opts", ())}
        return [
            param
            for param in root.command.get_params(root)
            if set(getattr(param, "opts", ())) & set(GLOBAL_OPTIONS) and not set(param.opts) & own
        ]

    def shell_complete(self, ctx: Context, incomplete: str) -> list:
        """TAB after a subcommand offers the global options too (accepted there)."""
        results = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-"):
            from typer._click.shell_completion import CompletionItem

            results.extend(
                CompletionItem(name, help=param.help)
                for param in self._inherited(ctx)
                for name in param.opts
                if name.startswith(incomplete) and name.startswith("--")
            )
        return results

    def format_epilog(self, ctx: Context, formatter: HelpFormatter) -> None:
        root = ctx.find_root()
        if root is not ctx:  # a subcommand: the root's options apply to it too
            rows = [
                record
                for param in self._inherited(ctx)
                if (record := _help_record(param, root)) is not None
            ]
            if rows:
                with formatter.section(INHERITED_FLAGS):
                    formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


def _help_record(param, ctx: Context) -> tuple[str, str] | None:  # noqa: ANN001 - click's
    """click's help record without the range note ("[default: 4; x>=1]" → "[default: 4]")."""
    from typer._click import types

    record = param.get_help_record(ctx)
    if record is None or not isinstance(param.type, types._NumberRangeBase):
        return record
    name, text = record
    described = param.type._describe_range()
    text = text.replace(f"; {described}]", "]").replace(f"  [{described}]", "")
    return name, text.replace(f"[{described}]", "")


class ShipctlCommand(_Plain, TyperCommand):
    """Every shipctl command: help for people (see _Plain)."""


class ShipctlGroup(_Plain, TyperGroup):
    """Every shipctl command group; the root also accepts global options anywhere."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(self, list(args), ctx)
        return super().parse_args(ctx, args)


class ShipctlTyper(typer.Typer):
    """A typer app whose commands are ShipctlCommands unless they name another class."""

    def command(self, *args, cls=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        return super().command(*args, cls=cls or ShipctlCommand, **kwargs)


def _options(command) -> dict[str, object]:  # noqa: ANN001 - a click command
    return {
        name: param
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
    }


def _values_taken(command, param, args: list[str], i: int) -> int:  # noqa: ANN001
    """How many of the words after ``args[i]`` (an option of ``command``) are its value."""
    arg = args[i]
    if "=" in arg and arg.startswith("--"):
        return 0
    if not arg.startswith("--") and len(arg) > 2:  # -pNAME
        return 0
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return 0
    following = args[i + 1] if i + 1 < len(args) else None
    if arg in getattr(command, "optional_values", ()):  # BulkCommand's --wait [SECONDS]
        return 1 if following is not None and _is_seconds(following) else 0
    if getattr(param, "_flag_needs_value", False):
        return 1 if following is not None and not following.startswith("-") else 0
    return param.nargs


def hoist_global_options(
    root,  # noqa: ANN001 - the root click group
    args: list[str],
    ctx: Context | None = None,
) -> list[str]:
    """``args`` with the global options that follow a subcommand moved in front of it:
    `shipctl ewe modify x.yaml --sandbox` runs as `shipctl --sandbox ewe modify x.yaml`.

    A subcommand's own option of the same name (``--profile/-p`` of most commands) stays
    where it is, as do values of other options (`--report --debug` writes to ./--debug) and
    everything after ``--``. A global option given twice counts once, the later one winning,
    as in front of the subcommand."""
    globals_ = {name: param for name, param in _options(root).items() if name in GLOBAL_OPTIONS}
    command = root
    kept: list[str] = []  # the words left in place
    hoisted: list[str] = []
    at = None  # where the first subcommand word is in ``kept``
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            kept.extend(args[i:])
            break
        if arg.startswith("-") and arg != "-":
            name = arg.partition("=")[0] if arg.startswith("--") else arg[:2]
            own = _options(command)
            param = own.get(name)
            if param is not None or command is root:
                taken = _values_taken(command, param, args, i) if param is not None else 0
                kept.extend(args[i : i + 1 + taken])
                i += 1 + taken
                continue
            param = globals_.get(name)
            if param is not None:
                taken = _values_taken(root, param, args, i)
                if i + 1 + taken <= len(args):
                    hoisted.extend(args[i : i + 1 + taken])
                    i += 1 + taken
                    continue
                if ctx is not None and not ctx.resilient_parsing:  # TAB completion: left be
                    from typer._click.exceptions import BadOptionUsage

                    raise BadOptionUsage(name, f"Option '{name}' requires an argument.", ctx)
            kept.append(arg)
            i += 1
            continue
        kept.append(arg)
        i += 1
        if isinstance(command, TyperGroup):
            if at is None:
                at = len(kept) - 1
            command = command.get_command(ctx, arg)  # the root builds a provider's on use
            if command is None:  # click's "No such command"
                kept.extend(args[i:])
                break
    if not hoisted:
        return args
    return kept[:at] + hoisted + kept[at:]


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="text for people, json for one JSON document on stdout."),
]


class ResultsFormat(str, Enum):
    """Commands that report item by item (validate, bulk runs) also stream JSON Lines."""

    text = "text"
    json = "json"
    jsonl = "jsonl"


ResultsOpt = Annotated[
    ResultsFormat,
    typer.Option("--output", "-o", help="text for people, json for one JSON document on stdout,"
                 " jsonl for one JSON object per line as items finish."),
]

# -- TAB completion: must never raise and must stay cheap -------------------------------------
def complete_profile(incomplete: str, ctx: Optional[typer.Context] = None) -> list[str]:
    """Profile names in the config file (--config, SHIPCTL_CONFIG or the per-user one)."""
    try:
        from shipctl import config

        path = None
        if ctx is not None:
            path = ctx.find_root().params.get("config")
        path = path or os.environ.get("SHIPCTL_CONFIG") or None
        names = config.load(path).profiles()
        if config.DEFAULT_PROFILE not in names:
            names.insert(0, config.DEFAULT_PROFILE)
        return [name for name in names if name.startswith(incomplete or "")]
    except Exception:  # noqa: BLE001 - a broken config must not break the shell's TAB
        return []


def complete_key(incomplete: str) -> list[str]:
    try:
        from shipctl.config import KEYS

        return [key for key in KEYS if key.startswith(incomplete or "")]
    except Exception:  # noqa: BLE001
        return []


def complete_key_described(incomplete: str) -> list[tuple[str, str]]:
    """Config keys with what each one is: zsh, fish and PowerShell show it beside the key."""
    from shipctl.config import KEYS

    return [(key, KEYS[key].help) for key in complete_key(incomplete)]




ProfileOpt = Annotated[
    Optional[str],
    typer.Option(
        "--profile",
        "-p",
        metavar="NAME",
        help="Credentials profile (overrides the global --profile).",
        autocompletion=complete_profile,
    ),
]

ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Show passwords, digests and tokens in clear.")
]

# Paths (not str) so shells complete file names; "-" still means stdin.
PathsArg = Annotated[
    Optional[list[Path]],
    typer.Argument(
        help="Files, directories or - for stdin (default: stdin when it is not a terminal).",
        show_default=False,
    ),
]

RecursiveOpt = Annotated[bool, typer.Option("--recursive", "-R", help="Recurse into directories.")]

DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Validate and print exactly what would be sent; send nothing."),
]

# -- HTTP (SPEC §2 "HTTP behaviour") ---------------------------------------------------------
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="S",
        help="Seconds for one attempt's whole answer, from sending to its last byte "
        "(connect timeout is 10 s).",
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries", min=0, metavar="N", help="Retries of transient failures per request."
    ),
]
CaBundleOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--ca-bundle",
        metavar="FILE",
        help="Extra CA certificate(s) to trust (PEM).",
        dir_okay=False,
    ),
]

# -- Bulk engine (SPEC §2 "Bulk engine") -----------------------------------------------------
JobsOpt = Annotated[
    int, typer.Option("--jobs", "-j", min=1, metavar="N", help="Requests in flight at once.")
]
RateOpt = Annotated[
    Optional[float],
    typer.Option(
        "--rate",
        min=0,
        metavar="R",
        help="At most R requests per second, evenly paced, retries included; 0 = unlimited."
        " Default: the profile's rate setting (EWE: ewe.rate, 1.0).",
    ),
]
# --wait takes an optional value: `--wait` (without limit), `--wait=30`, `--wait 30`. Typer's
# parser has no such option, so BulkCommand rewrites the arguments before parsing: a bare
# --wait becomes `--wait=` (empty: without limit), `--wait 30` becomes `--wait=30` when the
# next argument is a number; anything else after it (a file, another flag) is left alone.
WaitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--wait",
        metavar="[SECONDS]",
        help="When another run holds the --journal, wait for it to finish (at most SECONDS:"
        " --wait=30 or --wait 30; --wait alone waits without limit) instead of exiting 2.",
        show_default=False,
    ),
]
OPTIONAL_VALUES = ("--wait",)


def _is_seconds(text: str) -> bool:
    import re

    return re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text) is not None


def with_optional_values(args: list[str], names: tuple[str, ...] = OPTIONAL_VALUES) -> list[str]:
    """``args`` with each option of ``names`` given its value in the ``--opt=VALUE`` form that
    the parser reads: ``--wait`` → ``--wait=``, ``--wait 30`` → ``--wait=30``."""
    result: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # the rest are arguments, whatever they look like
            result.extend(args[i:])
            break
        if arg in names:
            following = args[i + 1] if i + 1 < len(args) else None
            if following is not None and _is_seconds(following):
                result.append(f"{arg}={following}")
                i += 2
                continue
            result.append(f"{arg}=")
        else:
            result.append(arg)
        i += 1
    return result


def wait_seconds(value: Optional[str]) -> Optional[float]:
    """--wait's value: None (not given), math.inf (without limit) or seconds (0 or more)."""
    if value is None:
        return None
    if value.strip() == "":
        return float("inf")
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:  # nan too
        from shipctl.errors import UsageError

        raise UsageError(
            f"--wait={value}: must be a number of seconds (0 or more), or nothing to wait"
            " without limit"
        )
    return seconds


class BulkCommand(ShipctlCommand):
    """A bulk command: reads ``--wait`` with or without its value (``with_optional_values``)."""

    optional_values = OPTIONAL_VALUES

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # noqa: ANN001 - click's
        return super().parse_args(ctx, with_optional_values(list(args)))


JournalOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--journal",
        metavar="FILE",
        dir_okay=False,
        help="SQLite journal: a re-run skips items that succeeded.",
    ),
]
ReportOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--report",
        metavar="FILE",
        dir_okay=False,
        help="Per-item report: CSV if *.csv, else JSON Lines.",
    ),
]
FailFastOpt = Annotated[
    bool, typer.Option("--fail-fast", help="Stop sending at the first failure.")
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="If any item is invalid, send nothing and exit 1.")
]
ShardOpt = Annotated[
    Optional[str],
    typer.Option("--shard", metavar="K/N", help="Process only shard K of N (0-based)."),
]
