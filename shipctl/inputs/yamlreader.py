"""YAML: one or more ``---`` documents, with the line of every field; JSON in a .yaml file too.

``yaml`` is imported only when a file needs it. Plain scalars resolve as in YAML 1.2's core
schema (see ``_yaml_loader``), nesting is checked on the parser's flat events before the
composer recurses, and aliases are counted so that a "billion laughs" document stops early.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import IO, Any

from shipctl.errors import InputError
from shipctl.inputs.items import Item, Path_, Value, Warn, WrittenFloat, items_from_values
from shipctl.inputs.jsontext import json_document
from shipctl.inputs.limits import digit_limit, nesting_error
from shipctl.inputs.sources import check_start, decode, read_all
from shipctl.nesting import MAX_DEPTH, too_deep

_yaml_loader_class: Any = None


def _yaml_loader() -> Any:
    """A safe loader (libyaml when present) resolving plain scalars like YAML 1.2's core schema.

    YAML 1.1 turns ``NO`` into false, ``1:20`` into 80, ``0700`` into 448 and dates into
    datetime objects. Shipment files are full of postcodes, phone numbers and dates that must
    stay the strings they look like, so: booleans and null only in their JSON spellings (and
    capitalised), integers without leading zeros, floats, and everything else a string.
    """
    global _yaml_loader_class
    if _yaml_loader_class is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc, valid-type]
            pass

        Loader.yaml_implicit_resolvers = {}
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:bool",
            re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
            list("tTfF"),
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:float",
            re.compile(
                r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
            ),
            list("-+0123456789."),
        )
        Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
        Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
        _yaml_loader_class = Loader
    return _yaml_loader_class


def _construct_float(loader: Any, node: Any) -> float:
    """A float that keeps the digits it was written with (``WrittenFloat``), as JSON's do."""
    value = loader.construct_yaml_float(node)
    if math.isfinite(value):
        try:
            return WrittenFloat(loader.construct_scalar(node).replace("_", ""))
        except ValueError:  # a spelling float() does not read; the value is still right
            pass
    return value


def read_yaml_file(stream: IO[bytes], name: str, warn: Warn) -> Iterator[Item]:
    data = check_start(read_all(stream, name), name)
    text = decode(data, name)
    if not text.strip():
        raise InputError(f"{name}: empty input")
    try:
        values = yaml_values(text, name)
    except InputError as yaml_error:
        # JSON pasted into a .yaml file: YAML refused it (tabs, comments…); try the JSON reader
        if text.lstrip()[:1] not in ("{", "["):
            raise
        try:
            values = json_document(text, name, warn)
        except InputError:
            raise yaml_error from None
    if not values:
        raise InputError(f"{name}: empty input")
    return items_from_values(values, name)


def yaml_values(text: str, name: str) -> list[Value]:
    """Every non-empty YAML document, with the line of each node."""
    import yaml

    values: list[Value] = []
    budget = [2 * len(text) + 10_000]  # node visits, aliases expanded (billion laughs)
    loader = _yaml_loader()(text)
    try:
        _check_yaml_depth(text, name)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines = _node_lines(node, name, budget)
            data = loader.construct_document(node)
            if data is None:  # an empty document ("---" alone)
                continue
            values.append(Value(data, node.start_mark.line + 1, lines))
    except yaml.MarkedYAMLError as error:
        raise _yaml_error(name, text, error) from None
    except yaml.YAMLError as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{name}: not valid YAML: {detail}") from None
    except (RecursionError, MemoryError):  # not reached: depth is checked first; same message
        raise nesting_error(name, 1) from None
    except (ValueError, TypeError, OverflowError) as error:  # a constructor refusing a scalar
        raise InputError(f"{name}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    return values


def _check_yaml_depth(text: str, name: str) -> None:
    """Refuse collections nested deeper than MAX_DEPTH before the composer recurses into them.

    The composer recurses once per level (libyaml's in C, with no limit: 100,000 levels crash
    the process), while the parser's events are flat, so they are counted first. This costs
    about a fifth of the time of reading the YAML.
    """
    import yaml

    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    loader = _yaml_loader()(text)
    try:
        depth = 0
        while True:
            event = loader.get_event()
            if event is None:
                return
            if isinstance(event, starts):
                depth += 1
                if depth > MAX_DEPTH:
                    raise nesting_error(name, event.start_mark.line + 1)
            elif isinstance(event, ends):
                depth -= 1
    finally:
        loader.dispose()


def _yaml_error(name: str, text: str, error: Any) -> InputError:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "not valid YAML"
    if "nesting depth" in problem:
        # libyaml's scanner reads flow brackets ahead and stops at its own limit (1,000 in some
        # builds) before the events reach _check_yaml_depth: name the line our limit is crossed
        offset = too_deep(text)
        line = text.count("\n", 0, offset) + 1 if offset is not None else mark.line + 1
        return nesting_error(name, line)
    if mark is None:
        return InputError(f"{name}: {problem}")
    context_mark = error.context_mark
    if error.context and context_mark is not None and context_mark.line != mark.line:
        problem = f"{problem} ({error.context} at line {context_mark.line + 1})"
    hint = None
    line_text = _line_at(text, mark.line)
    if "\t" in line_text[: mark.column + 1] and "cannot start any token" in problem:
        hint = "YAML indentation must use spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = "quote a value that contains ': ', or check the indentation"
    return InputError(f"{name}:{mark.line + 1}:{mark.column + 1}: {problem}", hint=hint)


def _line_at(text: str, line: int) -> str:
    """The 0-based ``line`` of ``text`` (for a hint; empty when out of range)."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]


def _node_lines(root: Any, name: str, budget: list[int]) -> dict[Path_, int]:
    """{field path: line} of a composed YAML document (iterative; aliases counted).

    ``budget``: node visits left for the whole text, shared by its documents (a one-item list
    so that it can be spent here).
    """
    import yaml

    lines: dict[Path_, int] = {}
    stack: list[tuple[Any, Path_]] = [(root, ())]
    limit = digit_limit()
    alias_error = f"{name}: too many YAML alias expansions (or a recursive alias)"
    while stack:
        node, path = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise InputError(alias_error)
        if isinstance(node, yaml.CollectionNode) and len(path) >= MAX_DEPTH:
            # aliases nest what they stand for: `&a [[…]]` used inside another deep list
            if _is_recursive(root):
                raise InputError(alias_error)
            raise nesting_error(name, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                _check_yaml_int(key_node, name, limit)
                key: str | int = key_node.value
                if key_node.tag == "tag:yaml.org,2002:int":  # `1: …` makes an int key
                    key = int(key)
                child = (*path, key)
                lines[child] = key_node.start_mark.line + 1
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for position, value_node in enumerate(node.value):
                child = (*path, position)
                lines[child] = value_node.start_mark.line + 1
                stack.append((value_node, child))
        else:
            _check_yaml_int(node, name, limit)
    return lines


def _is_recursive(root: Any) -> bool:
    """Does a composed YAML node contain itself (``&a [*a]``)? Iterative depth-first search."""
    import yaml

    done: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in on_path:
            return True
        if id(node) in done or not isinstance(node, yaml.CollectionNode):
            continue
        on_path.add(id(node))
        stack.append((node, True))
        children = node.value
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        stack.extend((child, False) for child in children)
    return False


def _check_yaml_int(node: Any, name: str, limit: int) -> None:
    """An int scalar too long for int(): say where, before the constructor fails somewhere."""
    if limit and node.tag == "tag:yaml.org,2002:int" and len(node.value) > limit:
        if len(node.value.lstrip("+-")) > limit:
            mark = node.start_mark
            raise InputError(
                f"{name}:{mark.line + 1}:{mark.column + 1}:"
                f" number too long (more than {limit} digits)"
            )
