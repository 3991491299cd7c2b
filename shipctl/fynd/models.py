"""Fynd updateShipmentStatus request rules (Fynd's "Example Request Payload of Update Shipment
Status API", docs/fynd.md) and the one check.

``check(data)`` is the single entry point: ``fynd transition`` on the body its flags built,
``fynd apply`` on each body it read, and the sandbox simulator. It never raises for bad data:
it returns the problems (and warnings) in source order, as plain English, and — when there are
no problems — the body to send.

The pydantic models hold the structure, with the field names of Fynd's official SDK
(``UpdateShipmentStatusRequestSchema``, ``StatuesRequestSchema`` — sic —,
``ShipmentsRequestSchema`` …), declared in the order Fynd's example writes them: that order is the
key order of the body we send. The body itself is the input's own values re-ordered, never a
pydantic dump, so ``null``, ``""`` and an absent key stay three different things and free-form
``data`` objects go out exactly as given. Checks that need several fields (a known state, a
shipment in two transitions, a cancellation's reason, a reason on a line not sent) run on the
raw data afterwards, so they are reported even when some other field is wrong.
"""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipctl.fynd.states import STATES, has_reason, is_cancellation
from shipctl.inputs import Path_
from shipctl.output import shorten
from shipctl.suggest import kind_of, nearest
from shipctl.validation import Problem, Problems

__all__ = [
    "Checked",
    "Problem",
    "UpdateShipmentStatus",
    "check",
    "field_names",
]

# Fynd's own words for what it rejects inside an HTTP 200 (docs/fynd.md, "Common Error Scenarios").
FYND_REPEATED = "Child bag ids are repeated in multiple transitions"
FYND_REASON_MISSING = "Reason is missing"
FORCE_HINT = "use --force if your company has this state"


@dataclass
class Checked:
    request: dict[str, Any] | None  # the body to send, None when there are problems
    problems: Problems = field(default_factory=list)
    warnings: Problems = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # statuses[].shipments[].identifier

    @property
    def valid(self) -> bool:
        return not self.problems


# -- the models (SDK names, Fynd's order) ------------------------------------------------------
Positive = Annotated[int, Field(ge=1)]
Name = Annotated[str, Field(min_length=1)]  # an identifier or a state: "" names nothing
FreeForm = dict[str, Any]  # `data` and entity filters: Fynd documents no fixed keys
# The default of a key that may be left out. Its type stays non-Optional, so a null is refused
# (only exclude_bags_next_state takes null); and an absent key is never filled in, because the
# body sent is the input re-ordered (``_ordered``), not the model dumped.
OPTIONAL: Any = None


class _Strict(BaseModel):
    # extra="forbid": a misspelt optional key would otherwise be sent and ignored by Fynd.
    # strict: "5" is not a number and true is not 1 — Fynd's "Unable to convert" errors, early.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProductFilter(_Strict):
    """ProductsReasonsFilters / ProductsDataUpdatesFilters: which units of which line."""

    line_number: Positive = OPTIONAL
    quantity: Positive = OPTIONAL
    identifier: str = OPTIONAL


class Product(_Strict):
    """``products[]`` of a shipment: the lines (and units) moving; ``[]`` = the whole shipment."""

    line_number: Positive = OPTIONAL
    quantity: Positive = OPTIONAL
    identifier: str = OPTIONAL


class ReasonData(_Strict):
    reason_id: int = OPTIONAL
    reason_text: str = OPTIONAL


class ProductReason(_Strict):
    filters: list[ProductFilter] = OPTIONAL
    data: ReasonData = OPTIONAL


class EntityReason(_Strict):
    filters: list[FreeForm] = OPTIONAL
    data: ReasonData = OPTIONAL


class Reasons(_Strict):
    products: list[ProductReason] = OPTIONAL
    entities: list[EntityReason] = OPTIONAL


class ProductUpdate(_Strict):
    filters: list[ProductFilter] = OPTIONAL
    data: FreeForm = OPTIONAL


class EntityUpdate(_Strict):
    # entities, order_item_status, order: filters are free-form (example 6 of Fynd's Example
    # Request Payload… page gives order_item_status `"filters": []` although the SDK documents
    # only `data` there)
    filters: list[FreeForm] = OPTIONAL
    data: FreeForm = OPTIONAL


class EntityStatusUpdate(_Strict):
    # EntityStatusDataUpdates: filters as a product's (DataUpdatesFiltersSchema); data is
    # documented as {seller_qc_details: [...]} but kept free-form like every other `data`
    filters: list[ProductFilter] = OPTIONAL
    data: FreeForm = OPTIONAL


class DataUpdates(_Strict):
    products: list[ProductUpdate] = OPTIONAL
    entities: list[EntityUpdate] = OPTIONAL
    order_item_status: list[EntityUpdate] = OPTIONAL
    order: list[EntityUpdate] = OPTIONAL
    entity_status: list[EntityStatusUpdate] = OPTIONAL


class TransitionComment(_Strict):
    title: str
    message: str


class Beneficiary(_Strict):
    beneficiary_id: str = OPTIONAL


class RefundMode(_Strict):
    """RefundModeTransitionData."""

    refund_mode: str = OPTIONAL
    display_name: str = OPTIONAL
    beneficiary_details: Beneficiary = OPTIONAL
    payment_identifiers: list[str] = OPTIONAL


class Shipment(_Strict):
    """ShipmentsRequestSchema."""

    identifier: Name
    products: list[Product] = OPTIONAL
    reasons: Reasons = OPTIONAL
    data_updates: DataUpdates = OPTIONAL
    transition_comments: list[TransitionComment] = OPTIONAL
    refund_modes: list[RefundMode] = OPTIONAL


class Transition(_Strict):
    """StatuesRequestSchema (sic): one target state for some shipments."""

    shipments: Annotated[list[Shipment], Field(min_length=1)]
    status: Name
    exclude_bags_next_state: str | None = None
    split_shipment: bool = OPTIONAL


class UpdateShipmentStatus(_Strict):
    """UpdateShipmentStatusRequestSchema: the whole body."""

    statuses: Annotated[list[Transition], Field(min_length=1)]
    force_transition: bool = OPTIONAL
    lock_after_transition: bool = OPTIONAL
    unlock_before_transition: bool = OPTIONAL
    task: bool = OPTIONAL
    resume_tasks_after_unlock: bool = OPTIONAL


def field_names(model: type[BaseModel] = UpdateShipmentStatus) -> tuple[str, ...]:
    """A model's keys in the order they are sent."""
    return tuple(model.model_fields)


def _child(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, itself or as list elements (None: a plain or free-form value)."""
    for candidate in (annotation, *_args(annotation)):
        origin = typing.get_origin(candidate)
        if origin is list:
            return _child(typing.get_args(candidate)[0])
        # not a generic alias: on Python 3.10 ``isinstance(dict[str, Any], type)`` is true,
        # and issubclass() of it raises
        if origin is None and isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _args(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, Annotated):
        return typing.get_args(annotation)
    return ()


def _model_at(path: Path_) -> type[BaseModel] | None:
    """The model whose object sits at PATH (list indexes skipped), or None inside free-form."""
    model: type[BaseModel] | None = UpdateShipmentStatus
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _child(info.annotation) if info is not None else None
    return model


# -- the entry point ----------------------------------------------------------------------------
def check(data: object, *, force: bool = False) -> Checked:
    """Every rule on one updateShipmentStatus body; never raises for any data."""
    if not isinstance(data, dict):
        message = f"expected an object (an updateShipmentStatus body), got {kind_of(data)}"
        return Checked(None, [Problem((), message)])
    try:
        return _check(data, force)
    except RecursionError:  # the readers cap nesting (shipctl.nesting); a caller's own data may not
        return Checked(None, [Problem((), "nested too deeply")], identifiers=identifiers(data))


def _check(data: dict[str, Any], force: bool) -> Checked:
    problems: Problems = []
    try:
        UpdateShipmentStatus.model_validate(data)
    except ValidationError as error:
        problems.extend(_problem(e) for e in error.errors(include_url=False))
    warnings: Problems = []
    for i, transition in _entries(data, "statuses"):
        problems.extend(_state_problems(i, transition, force))
        problems.extend(_reason_problems(i, transition))
        warnings.extend(_filter_warnings(i, transition))
    problems.extend(_repeated(data))
    found = identifiers(data)
    if not problems:
        request = _ordered(data, UpdateShipmentStatus)
        problems.extend(_not_json(request, ()))
        if not problems:
            return Checked(request, [], _sorted(data, warnings), found)
    return Checked(None, _sorted(data, problems), _sorted(data, warnings), found)


def _ordered(value: Any, model: type[BaseModel] | None) -> Any:
    """VALUE with the keys of each model object in the model's (Fynd's example's) order; free-form
    values as they are."""
    if model is None:
        return value
    if isinstance(value, list):
        return [_ordered(entry, model) for entry in value]
    if not isinstance(value, dict):
        return value
    fields = model.model_fields
    return {
        key: _ordered(value[key], _child(fields[key].annotation))
        for key in fields
        if key in value
    }


# -- the cross-field checks (on the raw data: each tolerates anything) -------------------------
def _entries(node: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, object) of the objects in ``node[key]`` when that is a list; else none."""
    if not isinstance(node, dict):
        return []
    value = node.get(key)
    if not isinstance(value, list):
        return []
    return [(i, entry) for i, entry in enumerate(value) if isinstance(entry, dict)]


def identifiers(data: Any) -> list[str]:
    """The shipment identifiers a body names (statuses[].shipments[].identifier), in order."""
    found: list[str] = []
    for _, transition in _entries(data, "statuses"):
        for _, shipment in _entries(transition, "shipments"):
            identifier = shipment.get("identifier")
            if isinstance(identifier, str):
                found.append(identifier)
            elif isinstance(identifier, int) and not isinstance(identifier, bool):
                found.append(str(identifier))  # a wrong type, but still this job's ordering key
    return found


def _state_problems(i: int, transition: dict[str, Any], force: bool) -> Problems:
    if force:
        return []
    problems = []
    for key in ("status", "exclude_bags_next_state"):
        state = transition.get(key)
        # exclude_bags_next_state: "" and null are Fynd's "no next state"
        if isinstance(state, str) and state and state not in STATES:
            guess = nearest(state, STATES)
            hint = f" (did you mean {guess}?)" if guess else ""
            if key == "exclude_bags_next_state" and state.casefold() in ("none", "null", "nil"):
                # the body may come from a file (fynd apply) or from the flag (fynd transition)
                hint = (" (for JSON null write null without quotes in a file, "
                        "--exclude-next-state null on the command line)")
            problems.append(Problem(("statuses", i, key),
                                    f'unknown state "{state}"{hint}; {FORCE_HINT}'))
    return problems


def _reason_problems(i: int, transition: dict[str, Any]) -> Problems:
    state = transition.get("status")
    if not (isinstance(state, str) and is_cancellation(state)):
        return []
    return [
        Problem(("statuses", i, "shipments", j, "reasons"),
                f"{state} is a cancellation and needs a reason (reasons.products or "
                f'reasons.entities; --reason ID:TEXT) — Fynd answers "{FYND_REASON_MISSING}"')
        for j, shipment in _entries(transition, "shipments")
        if not has_reason(shipment)
    ]


def _line_number(entry: dict[str, Any]) -> int | None:
    value = entry.get("line_number")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _filter_warnings(i: int, transition: dict[str, Any]) -> Problems:
    warnings = []
    for j, shipment in _entries(transition, "shipments"):
        products = _entries(shipment, "products")
        lines = {_line_number(product) for _, product in products} - {None}
        if not lines:
            continue  # no products (the whole shipment) or none with a line number
        shown = ", ".join(str(line) for line in sorted(lines))  # type: ignore[type-var]
        for k, reason in _entries(shipment.get("reasons"), "products"):
            for m, filter_ in _entries(reason, "filters"):
                line = _line_number(filter_)
                if line is not None and line not in lines:
                    path = ("statuses", i, "shipments", j, "reasons", "products", k, "filters",
                            m, "line_number")
                    warnings.append(Problem(
                        path, f"line {line} is not among this shipment's products "
                              f"(lines {shown}): the reason may apply to nothing"))
    return warnings


def _repeated(data: dict[str, Any]) -> Problems:
    """A shipment named twice in one body — in two transitions, or twice in one: Fynd refuses
    the whole request (the sandbox simulator answers both the same way)."""
    first: dict[str, tuple[int, int]] = {}
    problems = []
    for i, transition in _entries(data, "statuses"):
        for j, shipment in _entries(transition, "shipments"):
            identifier = shipment.get("identifier")
            if not isinstance(identifier, str):
                continue
            seen = first.setdefault(identifier, (i, j))
            if seen == (i, j):
                continue
            where = (f"statuses.{seen[0]}" if seen[0] != i
                     else f"this transition (statuses.{i}.shipments.{seen[1]})")
            problems.append(Problem(
                ("statuses", i, "shipments", j, "identifier"),
                f"shipment {identifier} is also in {where}: one transition per shipment in a "
                f'request — Fynd answers "{FYND_REPEATED}"'))
    return problems


def _not_json(value: Any, path: Path_) -> Problems:
    """Free-form values that JSON cannot carry (NaN from a lenient read, a YAML oddity)."""
    if isinstance(value, dict):
        return [p for key, child in value.items() for p in _not_json(child, (*path, key))]
    if isinstance(value, list):
        return [p for n, child in enumerate(value) for p in _not_json(child, (*path, n))]
    if isinstance(value, float) and not math.isfinite(value):
        return [Problem(path, f"{value} is not a number JSON can carry")]
    if value is None or isinstance(value, (str, int, float)):
        return []
    return [Problem(path, f"expected a JSON value, got {kind_of(value)}")]


# -- wording ------------------------------------------------------------------------------------
def _show(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    return shorten(text, limit)


_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _problem(error: Any) -> Problem:
    path: Path_ = tuple(error["loc"])
    kind = error["type"]
    given = error.get("input")
    if path and path[-1] == "[key]":  # pydantic's marker for a dict key (not its value)
        return Problem(path[:-1], f"keys must be text, got {kind_of(given)}")
    if kind == "missing":
        message = "required, but missing"
    elif kind == "extra_forbidden":
        message = _unknown_key(path)
    elif kind in _EXPECTED:
        expected = _EXPECTED[kind]
        if path and path[-1] == "exclude_bags_next_state":  # the one nullable key
            expected = 'a state, "" or null'
        message = f"expected {expected}, got {kind_of(given)}"
        if kind == "string_type" and isinstance(given, int) and not isinstance(given, bool):
            # a shipment id pasted as a number: 12345383008471878029 is text to Fynd
            message += f' (write it in quotes: "{given}")' if expected == "text" else ""
    elif kind == "string_too_short":
        message = "required, but empty"
    elif kind == "too_short":
        message = "needs at least one entry"
    elif kind in ("greater_than_equal", "greater_than"):
        message = f"must be a positive whole number (it is {_show(given)})"
    elif kind == "invalid_key":
        message = "unknown key (keys must be text)"
    else:  # not expected with the models above; keep pydantic's sentence, minus jargon
        message = str(error.get("msg", "invalid")).replace("Input should be", "should be")
    return Problem(path, message)


def _unknown_key(path: Path_) -> str:
    model = _model_at(path[:-1])
    allowed = field_names(model) if model is not None else ()
    guess = nearest(str(path[-1]), allowed, normalise=_squash)
    if guess:
        return f"unknown key (did you mean {guess}?)"
    return f"unknown key (expected one of {', '.join(allowed)})" if allowed else "unknown key"


def _squash(name: str) -> str:
    # "lineNumber", "line-number", "Line Number" are near misses of line_number
    return name.casefold().replace("_", "").replace("-", "").replace(" ", "")


def _sorted(data: Any, problems: Problems) -> Problems:
    """PROBLEMS in the order their fields appear in the input (their file lines go down the
    screen); a missing key comes after its siblings."""
    def key(problem: Problem) -> list[int]:
        order: list[int] = []
        node = data
        for part in problem.path:
            if isinstance(node, dict) and part in node:
                order.append(list(node).index(part))
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                order.append(part)
                node = node[part]
            else:
                order.append(len(node) if isinstance(node, (dict, list)) else 0)
                node = None
        return order

    return sorted(problems, key=key)
