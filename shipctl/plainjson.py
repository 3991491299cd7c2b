"""JSON text whose numbers keep their exact digits, written in plain notation.

``json.dumps`` writes floats with ``repr``: 0.0000001 becomes ``1e-07`` and a 20-digit decimal
loses its last digits. EWE's Java side reads decimals (its documentation says "decimal",
docs/ewe.md), so what we send and what ``--dry-run`` shows are written here instead: a
``Decimal`` in plain notation with its own digits, a float read from input
(``inputs.WrittenFloat``) with the digits it was written with, any other float with its shortest
round-trip digits, still in plain notation. Standard library only; everything but numbers is
written by ``json`` itself.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

# Beyond this many digits a number is written in exponent form rather than spelt out: no
# document of ours holds such a number (EWE's rules refuse it first), but nothing here should
# ever turn a short "1e-100000" into 100,000 characters.
_PLAIN_LIMIT = 1000


def plain(number: Decimal) -> str:
    """``Decimal("1E-7")`` → ``0.0000001``; ``Decimal("10.990")`` → ``10.990``."""
    if not number.is_finite():
        raise ValueError(f"{number} is not a number JSON can hold")
    if abs(number.adjusted()) > _PLAIN_LIMIT or -number.as_tuple().exponent > _PLAIN_LIMIT:
        return str(number)
    return format(number.copy_abs() if number.is_zero() else number, "f")  # no "-0"


def exact(number: float) -> Decimal:
    """A float as a Decimal with the digits it was written with (``WrittenFloat.text``), or
    its shortest round-trip digits: never the binary expansion (0.1 is 0.1, not 0.1000…055)."""
    text = getattr(number, "text", None)
    if isinstance(text, str):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            pass
    return Decimal(repr(float(number)))


def dumps(
    value: Any,
    *,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
) -> str:
    """``json.dumps`` with the same options, numbers as this module's docstring says."""
    if separators is None:
        separators = (",", ": ") if indent is not None else (", ", ": ")
    item_separator, key_separator = separators
    # json's own C string encoders: this runs for every item a bulk run sends
    string = encode_basestring_ascii if ensure_ascii else encode_basestring

    def scalar(node: Any) -> str:
        kind = type(node)
        if kind is str:
            return string(node)
        if kind is int:
            return int.__repr__(node)
        if node is None or kind is bool:
            return "null" if node is None else ("true" if node else "false")
        if kind is Decimal:
            return plain(node)
        if isinstance(node, float):
            if not math.isfinite(node):
                return json.dumps(node)  # NaN / Infinity, as json writes them
            return plain(exact(node))
        if isinstance(node, Decimal):
            return plain(node)
        return json.dumps(node, ensure_ascii=ensure_ascii, default=str)

    def name_of(name: Any) -> str:
        if isinstance(name, str):
            return name
        # json's own conversions of non-string keys: true, null, 1, 1.5
        return json.dumps(name) if name is None or isinstance(name, (bool, float)) else str(name)

    def key(name: Any) -> str:
        return string(name_of(name))

    def join(parts: list[str], depth: int) -> str:
        if indent is None:
            return item_separator.join(parts)
        inner = "\n" + " " * (indent * (depth + 1))
        return inner + (item_separator + inner).join(parts) + "\n" + " " * (indent * depth)

    def write(node: Any, depth: int) -> str:
        if isinstance(node, dict):
            if not node:
                return "{}"
            # by the names written (json itself refuses to sort keys of mixed types)
            pairs = sorted(node.items(), key=lambda pair: name_of(pair[0])) if sort_keys \
                else node.items()
            return "{" + join(
                [key(k) + key_separator + write(v, depth + 1) for k, v in pairs], depth
            ) + "}"
        if isinstance(node, (list, tuple)):
            if not node:
                return "[]"
            return "[" + join([write(v, depth + 1) for v in node], depth) + "]"
        return scalar(node)

    return write(value, 0)



def layout(value: Any, pad: str = "") -> str:
    """``dumps(value, ensure_ascii=False)`` on one line when ``pad`` is "", else
    ``dumps(value, indent=2, ensure_ascii=False)`` laid out as if ``value`` sat at the depth
    ``pad`` gives ("\\n" and two spaces per level), so a streamed document can be written one
    part at a time. The common kinds are written here without ``dumps``' per-call set-up:
    every record of ``-o json`` and ``-o jsonl`` goes through it."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is dict or kind is list or kind is tuple:
        if not value:
            return "{}" if kind is dict else "[]"
        inner = pad + "  " if pad else ""
        between = "," + inner if pad else ", "
        if kind is not dict:
            return "[" + inner + between.join([layout(item, inner) for item in value]) + pad + "]"
        try:
            parts = [encode_basestring(key) + ": " + layout(item, inner)
                     for key, item in value.items()]
        except TypeError:  # a key that is not text: dumps names it as json does
            return _dumped(value, pad)
        return "{" + inner + between.join(parts) + pad + "}"
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return _dumped(value, pad)


def _dumped(value: Any, pad: str) -> str:
    if not pad:
        return dumps(value, ensure_ascii=False)
    return dumps(value, indent=2, ensure_ascii=False).replace("\n", pad)
