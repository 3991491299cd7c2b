"""`fynd transition` flags → one updateShipmentStatus body (docs/fynd.md, its flag table).

``OPTIONS`` declares the flags once: the command's Typer signature (``shipctl.fynd.commands``),
the ``Flags`` value it hands on, and the parts of the body (``shipctl.fynd.body``) are all
read from it. Each ``parse_*`` reads one flag value and raises ``ValueError`` whose message
names the form expected (the command prefixes the flag: ``--line one:five: expected LINE:QTY
…``, exit 2). ``build`` assembles the body in the key order of Fynd's "Example Request Payload
of Update Shipment Status API"; ``shipctl.fynd.models.check`` then judges it like any body
from a file. Standard library only: this runs on every `fynd transition`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from shipctl.nesting import MAX_DEPTH, too_deep

__all__ = [
    "ABSENT",
    "DATA_TARGETS",
    "OPTIONS",
    "Comment",
    "DataValue",
    "Flags",
    "Option",
    "Reason",
    "build",
    "parse_comment",
    "parse_data",
    "parse_entity_reason",
    "parse_exclude_next_state",
    "parse_line",
    "parse_reason",
    "refusals",
]

LINE_FORM = "expected LINE:QTY with positive integers, e.g. 1:5"
REASON_FORM = (
    "expected ID:TEXT[@LINE:QTY[,LINE:QTY…]] with a whole-number ID, "
    'e.g. "1:Product Not Available" or "1:Product Not Available@1:3,2:4"'
)
ENTITY_REASON_FORM = 'expected ID:TEXT with a whole-number ID, e.g. "1:Customer not reachable"'
COMMENT_FORM = 'expected TITLE:MESSAGE, e.g. "Packed:left the store at 5pm"'
# data_updates targets whose first entry's `data` --data can set (docs/fynd.md); entity_status has
# its own schema (EntityStatusDataSchema) and is reachable only through --data-file.
DATA_TARGETS = ("products", "entities", "order_item_status", "order")
DATA_UPDATES_ORDER = (*DATA_TARGETS, "entity_status")
# Targets whose entries filter nothing: the SDK's OrderItemDataUpdates and OrderDataUpdates hold
# only `data`, and Fynd's document gives order_item_status at most an empty `filters: []`. The
# `[{}]` ("every product") that --data puts on products and entities has no meaning there.
UNFILTERED = ("order_item_status", "order")
DATA_FORM = (
    f"expected TARGET.PATH=TEXT or TARGET.PATH:=JSON with TARGET one of {', '.join(DATA_TARGETS)}, "
    'e.g. products.store_invoice_id=INV1 or order.meta:={"priority":1}'
)

_WHOLE = re.compile(r"[0-9]+")  # ASCII digits only: int() would also take "٣" and "1_000"


class _Absent:
    """The value of a flag not given (``--exclude-next-state``: absent, null and "" differ)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class Reason(NamedTuple):
    """``--reason`` / ``--entity-reason``: reason_id, reason_text and the filters it applies to,
    as sent (``({},)``: every product)."""

    id: int
    text: str
    filters: tuple[dict[str, int], ...] = ({},)

    def entry(self) -> dict[str, Any]:
        return {
            "filters": [dict(f) for f in self.filters],  # copies: the default is shared
            "data": {"reason_id": self.id, "reason_text": self.text},
        }


class Comment(NamedTuple):
    title: str
    message: str


class DataValue(NamedTuple):
    """``--data products.meta.x=VALUE``: target "products", path ("meta", "x"), the value."""

    target: str
    path: tuple[str, ...]
    value: Any


# -- parsers ------------------------------------------------------------------------------------
def _positive(text: str, form: str) -> int:
    text = text.strip()
    # at most 18 digits: no line or quantity is larger, and int() of thousands of digits raises
    if not _WHOLE.fullmatch(text) or len(text) > 18 or int(text) < 1:
        raise ValueError(form)
    return int(text)


def parse_line(text: str) -> tuple[int, int]:
    """``--line 1:5`` → (1, 5): line_number and quantity."""
    line, colon, quantity = text.partition(":")
    if not colon:
        raise ValueError(LINE_FORM)
    return _positive(line, LINE_FORM), _positive(quantity, LINE_FORM)


def _id_and_text(text: str, form: str) -> tuple[int, str]:
    # the id is everything before the first colon; the text may hold colons of its own
    number, colon, words = text.partition(":")
    number = number.strip()
    if not colon or not _WHOLE.fullmatch(number) or len(number) > 18 or not words.strip():
        raise ValueError(form)
    return int(number), words


def parse_reason(text: str) -> Reason:
    """``--reason "1:Product Not Available@1:3,2:4"`` → a product reason on line 1 (3 units) and
    line 2 (4 units); without ``@`` it applies to every product (filters ``[{}]``)."""
    head, at, tail = text.rpartition("@")
    if not at:
        head = text
    reason_id, words = _id_and_text(head, REASON_FORM)
    if not at:
        return Reason(reason_id, words)
    filters: list[dict[str, int]] = []
    for part in tail.split(","):
        try:
            line, quantity = parse_line(part)
        except ValueError:
            raise ValueError(f"{REASON_FORM} (after @: {part.strip()!r} is not LINE:QTY)") from None
        filters.append({"line_number": line, "quantity": quantity})
    return Reason(reason_id, words, tuple(filters))


def parse_entity_reason(text: str) -> Reason:
    """``--entity-reason "3:Customer not reachable"`` → a reason for the shipment as a whole."""
    reason_id, words = _id_and_text(text, ENTITY_REASON_FORM)
    return Reason(reason_id, words)


def parse_comment(text: str) -> Comment:
    """``--comment "TITLE:MESSAGE"`` → a transition comment (Fynd needs both)."""
    title, colon, message = text.partition(":")
    if not colon or not title.strip() or not message.strip():
        raise ValueError(COMMENT_FORM)
    return Comment(title, message)


def parse_data(text: str) -> DataValue:
    """``--data TARGET.PATH=TEXT`` (a string) or ``TARGET.PATH:=JSON`` (a raw JSON value), as
    HTTPie writes them; PATH may be dotted (``order.meta.priority:=1``)."""
    name, equals, value_text = text.partition("=")
    if not equals:
        raise ValueError(DATA_FORM)
    raw = name.endswith(":")
    if raw:
        name = name[:-1]
    target, _, rest = name.partition(".")
    path = tuple(rest.split(".")) if rest else ()
    if target not in DATA_TARGETS or not path or not all(part.strip() for part in path):
        raise ValueError(DATA_FORM)
    if not raw:
        return DataValue(target, path, value_text)
    if too_deep(value_text) is not None:
        raise ValueError(f"{DATA_FORM} (after := : nested deeper than {MAX_DEPTH} levels)")
    try:
        value = json.loads(value_text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{DATA_FORM} (after := : not JSON: {error})") from None
    return DataValue(target, path, value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    # json reads 1e999 as infinity, which no JSON text can carry: say so here, naming --data
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is out of range")
    return number


def parse_exclude_next_state(text: str) -> str | None:
    """``--exclude-next-state``: a state, the literal ``null`` (JSON null: the other units stay
    where they are) or ``""`` (sent as "")."""
    return None if text == "null" else text


# -- what the flags may not ask together ---------------------------------------------------------
_MISSING: Any = _Absent()


def refusals(
    *,
    lines: Iterable[tuple[int, int] | str] = (),
    invoice_id: str | None = None,
    awb: str | None = None,
    data: Iterable[DataValue | str] = (),
) -> list[str]:
    """What `fynd transition`'s flags ask that cannot mean what was meant, one message each,
    starting with the flag as typed: a line given twice (Fynd moves both quantities: 1:5 and
    1:3 moved 8 units), an empty --invoice-id or --awb, and a key that two flags set to
    different values (only the last would be sent, silently). Values as typed or parsed.

    ``build`` itself takes such values (the last one wins), as a library call may mean it; a
    --data-file's values are a template the flags fill in, so a flag may replace them.
    """
    problems: list[str] = []
    first_line: dict[int, str] = {}
    for value in lines:
        line, quantity = parse_line(value) if isinstance(value, str) else value
        shown = f"--line {value if isinstance(value, str) else f'{line}:{quantity}'}"
        if line in first_line:
            problems.append(f"{shown}: line {line} given twice ({first_line[line]} too): Fynd "
                            "would move both quantities; give each line once, with all its units")
        else:
            first_line[line] = shown
    for flag, given, key in (("--invoice-id", invoice_id, "store_invoice_id"),
                             ("--awb", awb, "delivery_awb_number")):
        if given is not None and not given.strip():
            problems.append(f"{flag}: must not be empty (an empty value names nothing; to send "
                            f"\"\" on purpose: --data products.{key}= --data entities.{key}=)")
    settings: list[tuple[tuple[str, ...], str, Any]] = []  # (target + path, flag shown, value)
    for target in ("products", "entities"):
        if invoice_id is not None:
            settings.append(((target, "store_invoice_id"), f"--invoice-id {invoice_id}",
                             invoice_id))
        if awb is not None:
            settings.append(((target, "delivery_awb_number"), f"--awb {awb}", awb))
    for value in data:
        setting = parse_data(value) if isinstance(value, str) else value
        shown = f"--data {value if isinstance(value, str) else _typed(setting)}"
        settings.append(((setting.target, *setting.path), shown, setting.value))
    problems.extend(_clashes(settings))
    return problems


def _clashes(settings: list[tuple[tuple[str, ...], str, Any]]) -> list[str]:
    """The settings that change or drop a value an earlier one gave, replayed as ``build``
    applies them. Setting a key inside an object an earlier flag gave adds to it, and giving a
    key the value it already has changes nothing: neither is a clash."""
    tree: dict[str, Any] = {}
    done: list[tuple[tuple[str, ...], str]] = []
    problems = []
    for key, shown, value in settings:
        present = _at(tree, key)
        if present is not _MISSING and _loses(present, value):
            culprit, by = _culprit(tree, done, key, value)
            if len(culprit) > len(key):
                problems.append(f"{shown}: replaces {'.'.join(key)}, which holds "
                                f"{'.'.join(culprit)} from {by}; give each key one value")
            else:
                problems.append(f"{shown}: {'.'.join(key)} is also set by {by}, to another "
                                "value; give each key one value")
        node = tree
        for part in key[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # build refuses this one ("cannot set …: … is not an object")
        else:
            node[key[-1]] = copy.deepcopy(value)
        done.append((key, shown))
    return problems


def _culprit(tree: dict[str, Any], done: list[tuple[tuple[str, ...], str]],
             key: tuple[str, ...], value: Any) -> tuple[tuple[str, ...], str]:
    """The latest earlier setting whose value VALUE at KEY would change: one inside KEY first
    (its key is the one lost), else the one whose object holds KEY."""
    inside = [(k, by) for k, by in done if k[: len(key)] == key and len(k) > len(key)
              and _loses(_at(tree, k), _at(value, k[len(key):]))]
    around = [(k, by) for k, by in done if key[: len(k)] == k]
    return (inside or around)[-1]


def _loses(present: Any, value: Any) -> bool:
    """Whether VALUE in place of PRESENT drops or changes anything PRESENT holds."""
    if present is _MISSING:  # a value already replaced: nothing of it left to lose
        return False
    if isinstance(present, dict) and isinstance(value, dict):
        return any(k not in value or _loses(v, value[k]) for k, v in present.items())
    return value is _MISSING or not _same(present, value)


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _same(a: Any, b: Any) -> bool:
    # as JSON texts: Python's == takes 1 == 1.0 == True, which Fynd receives as three values
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _typed(setting: DataValue) -> str:
    name = ".".join((setting.target, *setting.path))
    if isinstance(setting.value, str):
        return f"{name}={setting.value}"
    return f"{name}:={json.dumps(setting.value, ensure_ascii=False)}"


# -- the body -----------------------------------------------------------------------------------
def build(
    identifiers: Sequence[str],
    *,
    to: str,
    lines: Iterable[tuple[int, int] | str] = (),
    reasons: Iterable[Reason | str] = (),
    entity_reasons: Iterable[Reason | str] = (),
    exclude_next_state: Any = ABSENT,
    invoice_id: str | None = None,
    awb: str | None = None,
    data: Iterable[DataValue | str] = (),
    data_file: dict[str, Any] | None = None,
    comments: Iterable[Comment | str] = (),
    force_transition: bool = False,
    lock_after_transition: bool = False,
    unlock_before_transition: bool = False,
    task: bool = False,
) -> dict[str, Any]:
    """One updateShipmentStatus body: one transition to TO, one shipment per identifier, each
    with the same products, reasons, data updates and comments (docs/fynd.md).

    Flag values may be given parsed or as the text typed (then parsed here; the command parses
    them first so that an error can name its flag).
    """
    products = [
        {"line_number": line, "quantity": quantity}
        for line, quantity in (parse_line(x) if isinstance(x, str) else x for x in lines)
    ]
    product_reasons = [_reason(x, parse_reason).entry() for x in reasons]
    entity_entries = [_reason(x, parse_entity_reason).entry() for x in entity_reasons]
    updates = _data_updates(invoice_id, awb, data, data_file)
    notes = [parse_comment(x) if isinstance(x, str) else x for x in comments]

    shipments = []
    for identifier in identifiers:
        # every shipment gets its own copies: a caller editing one must not change the others
        shipment: dict[str, Any] = {"identifier": identifier, "products": _copy(products)}
        if product_reasons or entity_entries:
            shipment["reasons"] = {
                "products": _copy(product_reasons),
                "entities": _copy(entity_entries),
            }
        if updates:
            shipment["data_updates"] = _copy(updates)
        if notes:
            shipment["transition_comments"] = [
                {"title": note.title, "message": note.message} for note in notes
            ]
        shipments.append(shipment)

    transition: dict[str, Any] = {"shipments": shipments, "status": to}
    if exclude_next_state is not ABSENT:
        transition["exclude_bags_next_state"] = exclude_next_state
    body: dict[str, Any] = {"statuses": [transition]}
    for key, given in (
        ("force_transition", force_transition),
        ("lock_after_transition", lock_after_transition),
        ("unlock_before_transition", unlock_before_transition),
        ("task", task),
    ):
        if given:
            body[key] = True
    return body


def _reason(value: Reason | str, parse: Any) -> Reason:
    return parse(value) if isinstance(value, str) else value


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


def _data_updates(
    invoice_id: str | None,
    awb: str | None,
    data: Iterable[DataValue | str],
    data_file: dict[str, Any] | None,
) -> dict[str, Any]:
    """data_updates: the --data-file object first, then --invoice-id and --awb (products and
    entities), then each --data, each setting a key in ``<TARGET>[0].data``."""
    if data_file is not None and not isinstance(data_file, dict):
        raise ValueError("expected a data_updates object, e.g. "
                         '{"entities": [{"filters": [{}], "data": {...}}]}')
    updates: dict[str, Any] = _copy(data_file) if data_file else {}
    settings: list[DataValue] = []
    for target in ("products", "entities"):
        if invoice_id is not None:
            settings.append(DataValue(target, ("store_invoice_id",), invoice_id))
        if awb is not None:
            settings.append(DataValue(target, ("delivery_awb_number",), awb))
    settings.extend(parse_data(x) if isinstance(x, str) else x for x in data)
    for setting in settings:
        _set(updates, setting)
    # the targets in the SDK's order (a data file may list them in any order), then any others
    # so that models.check can name a misspelt one
    ordered = {key: updates[key] for key in DATA_UPDATES_ORDER if key in updates}
    ordered.update((key, value) for key, value in updates.items() if key not in ordered)
    return ordered


def _set(updates: dict[str, Any], setting: DataValue) -> None:
    shown = ".".join((setting.target, *setting.path))
    entries = updates.setdefault(setting.target, [])
    if not isinstance(entries, list):
        raise ValueError(f"cannot set {shown}: data_updates.{setting.target} is not a list")
    if not entries:
        entries.append({"data": {}} if setting.target in UNFILTERED
                       else {"filters": [{}], "data": {}})
    node = entries[0].setdefault("data", {}) if isinstance(entries[0], dict) else None
    for depth, key in enumerate(setting.path):
        if not isinstance(node, dict):
            inner = ".".join((setting.target, "data", *setting.path[:depth]))
            raise ValueError(f"cannot set {shown}: data_updates.{inner} is not an object")
        if depth == len(setting.path) - 1:
            # a copy: a later --data setting a key inside this value must not change the
            # caller's DataValue (nor, through it, another shipment's body)
            node[key] = _copy(setting.value)
        else:
            node = node.setdefault(key, {})


# -- the flags, declared once ---------------------------------------------------------------
class Option(NamedTuple):
    """One flag of `fynd transition`: how it is typed (Typer reads this), the ``Flags`` field
    it fills, and the part of the body it gives (``build``'s keyword, its parser)."""

    name: str  # the Flags field, the command's parameter and (for body flags) build's keyword
    decls: tuple[str, ...]  # "--line"; () for the SHIPMENT_ID argument
    kind: type  # the value's type as typed once: str, bool, Path
    help: str
    metavar: str | None = None
    many: bool = False  # repeatable: a list (empty when not given)
    required: bool = False
    states: bool = False  # its value is a state: TAB completes Fynd's states
    parse: Any = None  # the parser of one value (ValueError names the form), if any
    body: bool = True  # a part of the body (``build``'s keyword ``name``), not a behaviour

    @property
    def default(self) -> Any:
        return False if self.kind is bool else None

    @property
    def flag(self) -> str:
        return self.decls[0] if self.decls else "SHIPMENT_ID"


OPTIONS: tuple[Option, ...] = (
    Option("shipment_ids", (), str, "Shipments to move (one shipments[] entry each, all with"
           " the same products, reasons and data).", "SHIPMENT_ID...", many=True,
           required=True, body=False),
    Option("to", ("--to",), str, "The state to move to: statuses[0].status.", "STATUS",
           required=True, states=True),
    Option("lines", ("--line",), str, "Move QTY units of line LINE (repeatable); without it,"
           " the whole shipment (products: []).", "LINE:QTY", many=True, parse=parse_line),
    Option("reasons", ("--reason",), str, "A product reason (repeatable), for every product or"
           " for the lines and units after @.", "ID:TEXT[@LINE:QTY,…]", many=True,
           parse=parse_reason),
    Option("entity_reasons", ("--entity-reason",), str, "A reason for the shipment as a whole"
           " (repeatable).", "ID:TEXT", many=True, parse=parse_entity_reason),
    Option("exclude_next_state", ("--exclude-next-state",), str, "Where the units not moved"
           " go: a state, null (they stay) or \"\". Without it the key is not sent.", "STATE",
           states=True, parse=parse_exclude_next_state),
    Option("invoice_id", ("--invoice-id",), str, "data_updates store_invoice_id, for products"
           " and entities.", "ID"),
    Option("awb", ("--awb",), str, "data_updates delivery_awb_number, for products and"
           " entities.", "AWB"),
    Option("data", ("--data",), str, "Set a key of data_updates.TARGET[0].data (products,"
           " entities, order_item_status, order); = gives text, := raw JSON (repeatable).",
           "TARGET.PATH=VALUE", many=True, parse=parse_data),
    Option("data_file", ("--data-file",), Path, "A YAML/JSON data_updates object to merge in.",
           "FILE"),
    Option("comments", ("--comment",), str, "A transition comment (repeatable).",
           "TITLE:MESSAGE", many=True, parse=parse_comment),
    Option("force_transition", ("--force-transition",), bool, "Send force_transition: true."),
    Option("lock_after_transition", ("--lock-after-transition",), bool,
           "Send lock_after_transition: true."),
    Option("unlock_before_transition", ("--unlock-before-transition",), bool,
           "Send unlock_before_transition: true."),
    Option("task", ("--task",), bool, "Send task: true (Fynd runs it in the background)."),
    Option("force", ("--force",), bool, "Send a state shipctl does not know (Fynd's states are"
           " per company).", body=False),
    Option("yes", ("--yes", "-y"), bool, "Do not ask before a cancellation (the question is"
           " asked only when standard input is a terminal).", body=False),
)


def _field(option: Option) -> tuple[str, Any, Any]:
    kind: Any = list[option.kind] if option.many else option.kind
    if option.required:
        return option.name, kind, dataclasses.field()
    if option.many:
        return option.name, kind, dataclasses.field(default_factory=list)
    return option.name, kind if option.kind is bool else kind | None, option.default


# The flags of `fynd transition`, as typed: one field per OPTIONS entry, in its order.
Flags = dataclasses.make_dataclass("Flags", [_field(o) for o in OPTIONS])
Flags.__module__ = __name__
Flags.__doc__ = "The flags of `fynd transition`, as typed (``OPTIONS``, in its order)."


def flags_of(values: dict[str, Any]) -> Any:
    """The ``Flags`` of the command's parameters (a repeatable flag not given: [])."""
    return Flags(**{o.name: (list(values[o.name] or []) if o.many else values[o.name])
                    for o in OPTIONS})
