"""Help that reads like gh's, made by overriding parts of typer's bundled click.

``PlainHelp`` is mixed into every shipctl command and group (``shipctl.commands.groups``):
plain metavars (N, FILE, NAME, text|json), no "x>=1" range notes, no flag name broken at its
hyphen, and the root's global options listed under "Inherited flags" (they are accepted after
the subcommand too: ``groups.ShipctlGroup`` moves them in front of it).

What this relies on in ``typer._click``, which is typer's private copy of click (checked
against typer 0.27.0 and 0.28.0, the versions pyproject's ``typer>=0.27,<0.29`` allows;
``tests/commands/test_help_layout.py`` fails when one of these changes):

- ``_textwrap.TextWrapper``, replaced while help is written: ``formatting.wrap_text``
  imports it at each call, so the replacement is what it uses.
- ``formatting.HelpFormatter`` (``write_usage``, ``write_text``, ``write_dl``, ``section``)
  and ``core.Context.formatter_class``.
- ``types.IntParamType``, ``types.FloatParamType``, ``types._NumberRangeBase`` and its
  ``_describe_range()``, whose text is cut out of the help records.
- ``core.Command`` methods overridden: ``collect_usage_pieces``, ``format_options``,
  ``format_epilog``, ``shell_complete``; ``shell_completion.CompletionItem``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from typer._click.core import Context
from typer._click.formatting import HelpFormatter
from typer.core import TyperGroup

INHERITED_FLAGS = "Inherited flags"
# The global options accepted anywhere on the command line (the root's, except --version).
GLOBAL_OPTIONS = ("--profile", "-p", "--config", "--sandbox", "--debug", "--quiet", "--color")


@contextmanager
def _words_unbroken():  # noqa: ANN202 - a context manager
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


def plain_metavar(param: Any) -> str | None:
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


def help_record(param: Any, ctx: Context) -> tuple[str, str] | None:
    """click's help record without the range note ("[default: 4; x>=1]" → "[default: 4]")."""
    from typer._click import types

    record = param.get_help_record(ctx)
    if record is None or not isinstance(param.type, types._NumberRangeBase):
        return record
    name, text = record
    described = param.type._describe_range()
    text = text.replace(f"; {described}]", "]").replace(f"  [{described}]", "")
    return name, text.replace(f"[{described}]", "")


class PlainHelp:
    """Help for people: see this module's docstring. Mixed in before typer's class."""

    context_class = _Context

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is not None:
                continue
            if param.param_type_name == "argument":
                param.metavar = (param.name or "").upper() + ("..." if param.nargs != 1 else "")
            elif not (getattr(param, "is_flag", False) or getattr(param, "count", False)):
                param.metavar = plain_metavar(param)

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
            record = help_record(param, ctx)
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

    def inherited(self, ctx: Context) -> list:
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
                for param in self.inherited(ctx)
                for name in param.opts
                if name.startswith(incomplete) and name.startswith("--")
            )
        return results

    def format_epilog(self, ctx: Context, formatter: HelpFormatter) -> None:
        root = ctx.find_root()
        if root is not ctx:  # a subcommand: the root's options apply to it too
            rows = [
                record
                for param in self.inherited(ctx)
                if (record := help_record(param, root)) is not None
            ]
            if rows:
                with formatter.section(INHERITED_FLAGS):
                    formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)
