"""What shipctl.commands.help_layout and groups rely on in typer's private click copy
(typer._click) is still there, in the shape they use. A typer release that changes one of
these fails here, before help or the global options quietly change."""

from __future__ import annotations

import inspect
import textwrap

import pytest
from typer._click import _textwrap, core, exceptions, formatting, shell_completion, types


def parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_wrapper_is_looked_up_at_each_call():
    # help_layout replaces _textwrap.TextWrapper while help is written; wrap_text must import
    # it when called, not hold its own reference.
    assert issubclass(_textwrap.TextWrapper, textwrap.TextWrapper)  # takes break_on_hyphens
    assert "from ._textwrap import TextWrapper" in inspect.getsource(formatting.wrap_text)
    assert not hasattr(formatting, "TextWrapper")


@pytest.mark.parametrize(("method", "expected"), [
    ("write_usage", ["self", "prog", "args", "prefix"]),
    ("write_text", ["self", "text"]),
    ("write_dl", ["self", "rows", "col_max", "col_spacing"]),
    ("section", ["self", "name"]),
])
def test_the_help_formatter(method, expected):
    assert parameters(getattr(formatting.HelpFormatter, method)) == expected


def test_the_context_takes_its_formatter_class():
    assert core.Context.formatter_class is formatting.HelpFormatter
    assert "self.formatter_class(" in inspect.getsource(core.Context.make_formatter)


@pytest.mark.parametrize(("method", "expected"), [
    ("collect_usage_pieces", ["self", "ctx"]),
    ("format_options", ["self", "ctx", "formatter"]),
    ("format_epilog", ["self", "ctx", "formatter"]),
    ("shell_complete", ["self", "ctx", "incomplete"]),
    ("get_params", ["self", "ctx"]),
    ("parse_args", ["self", "ctx", "args"]),
])
def test_the_command_methods_overridden_or_called(method, expected):
    assert parameters(getattr(core.Command, method)) == expected


def test_the_parameter_api_used():
    assert parameters(core.Parameter.get_help_record) == ["self", "ctx"]
    assert parameters(core.Parameter.get_usage_pieces) == ["self", "ctx"]
    assert parameters(core.Parameter.make_metavar) == ["self", "ctx"]
    assert parameters(shell_completion.CompletionItem)[:2] == ["value", "type"]
    assert "help" in parameters(shell_completion.CompletionItem)
    assert issubclass(exceptions.BadOptionUsage, exceptions.UsageError)  # groups raises it


def test_the_range_note_that_help_cuts_out():
    kind = types.IntRange(min=1)
    assert isinstance(kind, types._NumberRangeBase)
    assert kind._describe_range() == "x>=1"
    assert issubclass(types.IntRange, types.IntParamType)
    assert issubclass(types.FloatRange, types.FloatParamType)
