"""The classes every shipctl command and group is built from, and the global options that a
command line may give after the subcommand.

``command_group`` makes a group; its commands are ``ShipctlCommand``s unless they name a
subclass (``bulk.BulkCommand``). Their help is ``help_layout.PlainHelp``'s.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer._click.core import Context
from typer.core import TyperCommand, TyperGroup

from shipctl.commands.help_layout import GLOBAL_OPTIONS, PlainHelp


def command_group(help: str, **settings: Any) -> typer.Typer:
    """A command group. Help is click's plain formatter, not rich's: rich's imports would
    cost more than the rest of `--help` for boxes around the same text."""
    settings.setdefault("no_args_is_help", True)
    settings.setdefault("cls", ShipctlGroup)
    # A provider's group is also built on its own (commands.root builds it when used): no
    # --install-completion there, `shipctl completions SHELL` is the one way in.
    settings.setdefault("add_completion", False)
    return ShipctlTyper(help=help, rich_markup_mode=None, **settings)


class ShipctlCommand(PlainHelp, TyperCommand):
    """Every shipctl command: help for people (see help_layout)."""

    # Options whose value may be left out (``--wait [SECONDS]``): a following word is their
    # value only if it is a number (``with_optional_values``).
    optional_values: tuple[str, ...] = ()


class ShipctlGroup(PlainHelp, TyperGroup):
    """Every shipctl command group; the root also accepts global options anywhere."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(self, list(args), ctx)
        return super().parse_args(ctx, args)


class ShipctlTyper(typer.Typer):
    """A typer app whose commands are ShipctlCommands unless they name another class."""

    def command(self, *args, cls=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        return super().command(*args, cls=cls or ShipctlCommand, **kwargs)


def is_number(text: str) -> bool:
    """Whether ``text`` is an optional option's value (seconds: 30, 1.5, .5)."""
    return re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text) is not None


def with_optional_values(args: list[str], names: tuple[str, ...]) -> list[str]:
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
            if following is not None and is_number(following):
                result.append(f"{arg}={following}")
                i += 2
                continue
            result.append(f"{arg}=")
        else:
            result.append(arg)
        i += 1
    return result


def _options(command: Any) -> dict[str, Any]:
    return {
        name: param
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
    }


def _values_taken(command: Any, param: Any, args: list[str], i: int) -> int:
    """How many of the words after ``args[i]`` (an option of ``command``) are its value."""
    arg = args[i]
    if "=" in arg and arg.startswith("--"):
        return 0
    if not arg.startswith("--") and len(arg) > 2:  # -pNAME
        return 0
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return 0
    following = args[i + 1] if i + 1 < len(args) else None
    if arg in getattr(command, "optional_values", ()):
        return 1 if following is not None and is_number(following) else 0
    return param.nargs


def hoist_global_options(root: Any, args: list[str], ctx: Context | None = None) -> list[str]:
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
