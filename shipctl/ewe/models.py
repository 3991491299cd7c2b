"""EWE modifyShipment field rules (EWE's "Modify Shipment" API documentation, docs/ewe.md)
and the one check.

``check(data)`` is the single entry point for everyone who needs the rules: ``shipctl ewe
validate``, ``shipctl ewe modify`` before it sends, and the sandbox simulator when it answers
code 10. It never raises for bad data: it returns the problems, in source order, as plain
English for support staff, and — when there are none — the normalised body to send.

The pydantic models hold the structure (required keys, unknown keys, nesting); each field's own
rule is a small validator in ``shipctl.ewe.fields`` that raises a message we wrote, so no
pydantic wording or internal names ever reach the user. Checks that need two fields (state ↔
postcode, suburb ↔ postcode, referenceNo or articleId) run on the raw data afterwards, so they
are reported even when another field is bad.

Refuse only what the document says is wrong; where it is unsure ("Could be 1.6"), or where
our own data may be wrong (the state ↔ postcode ranges are not in EWE's documentation, and real
localities straddle them), warn and let EWE decide (``Checked.warnings``): a wrong refusal
stops a real shipment. What goes out must be readable by EWE's Java side: lengths are counted
in UTF-16 code units as Java counts them, ``quantity`` fits a Java int, and decimals are
``Decimal``s sent in plain notation with their exact digits (``client.encode``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from shipctl.ewe.fields import (
    DEFAULT_VERSION,
    Decimal_,
    Email,
    Lines,
    MsgType,
    Name,
    OptionalPhone,
    OptionalText,
    Phone,
    Postcode,
    Quantity,
    State,
    Text,
    Version,
    email_address,
    is_blank,
    java_length,
    kind_of,
    merchandise_shape,
    postcode_text,
    shown,
    state_code,
    version_text,
)
from shipctl.ewe.postcodes import (
    PostcodeIndex,
    describe_ranges,
    in_state,
    load_postcodes,
    state_of,
)
from shipctl.inputs import Path_
from shipctl.output import printable
from shipctl.suggest import nearest
from shipctl.validation import Problem, Problems

__all__ = [
    "Checked",
    "ModifyShipment",
    "PostcodeIndex",
    "Problem",
    "check",
    "java_length",
    "load_postcodes",
]


ENVELOPE_KEYS = ("username", "digest", "msgType")  # come from the profile, never from the item
# The two rows of EWE's documentation on the order's identity, quoted in the warning for an
# item without referenceNo: the table marks it Required, the articleId row says either will do.
REFERENCE_ROWS = (
    'EWE: referenceNo "Required | The order reference number"; '
    'articleId "Optional | articleId (articleId or referenceNo not null"'
)

@dataclass
class Checked:
    request: dict[str, Any] | None  # the body to send (without the envelope), None if invalid
    problems: Problems = field(default_factory=list)
    envelope: dict[str, Any] = field(default_factory=dict)  # username/digest/msgType/version given
    reference_no: str | None = None
    # sent all the same, but worth a look: the document is unsure, or our data may be wrong
    warnings: Problems = field(default_factory=list)
    article_id: str | None = None

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def key(self) -> str | None:
        """What names the order: ordering key, shard and label — referenceNo, else articleId
        (EWE: "articleId or referenceNo not null")."""
        return self.reference_no or self.article_id

    @property
    def label(self) -> str:
        """``key`` for people and reports, "-" when there is none; a lone surrogate (a
        "\\ud800" escape in JSON, refused as text) shown as that escape, so printing it or
        writing it to a UTF-8 report cannot fail."""
        return printable(self.key or "-")


# -- the models ---------------------------------------------------------------------------------
class _Strict(BaseModel):
    # extra="forbid": a misspelt optional field would otherwise be silently dropped (docs/ewe.md)
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Strict):
    """``to``: the receiver. EWE: every field required except phone and email."""

    name: Name
    lines: Lines
    suburb: Text
    state: State
    postcode: Postcode
    phone: OptionalPhone = None
    email: Email = None


class Sender(Address):
    """``from``: as ``to``, but the phone is required (EWE)."""

    phone: Phone


class Merchandise(_Strict):
    sku: OptionalText = None
    goodsName: OptionalText = None
    goodsNameCn: OptionalText = None
    barcode: OptionalText = None
    description: OptionalText = None
    country_of_origin: OptionalText = None
    quantity: Quantity = None
    value: Decimal_ = None  # single item price
    length: Decimal_ = None  # cm
    width: Decimal_ = None  # cm
    height: Decimal_ = None  # cm
    weight: Decimal_ = None  # kg


class ModifyShipment(_Strict):
    """A modifyShipment body as users write it: the envelope keys are allowed but not needed."""

    username: OptionalText = None
    digest: OptionalText = None
    msgType: MsgType = None
    version: Version = DEFAULT_VERSION
    referenceNo: OptionalText = None  # required unless articleId is given: see check()
    articleId: OptionalText = None
    reason: Text
    from_: Sender = Field(alias="from")
    to: Address
    merchandise: Annotated[list[Merchandise], BeforeValidator(merchandise_shape)] = []


def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(info.alias or name for name, info in model.model_fields.items())


_TOP_KEYS = _field_names(ModifyShipment)
_ADDRESS_KEYS = _field_names(Address)
_MERCHANDISE_KEYS = _field_names(Merchandise)
_FIELD_ORDER = {
    key: position
    for keys in (_TOP_KEYS, _ADDRESS_KEYS, _MERCHANDISE_KEYS)
    for position, key in enumerate(keys)
}


# -- the entry point ----------------------------------------------------------------------------
def check(data: Any, *, postcodes: PostcodeIndex | None = None) -> Checked:
    """Every rule on one modifyShipment body; never raises for any data."""
    if not isinstance(data, dict):
        message = f"expected an object (a modifyShipment request), got {kind_of(data)}"
        return Checked(request=None, problems=[Problem((), message)])
    envelope = {key: data[key] for key in (*ENVELOPE_KEYS, "version") if key in data}
    reference_no = _identifier(data.get("referenceNo"))
    article_id = _identifier(data.get("articleId"))

    problems: Problems = []
    warnings: Problems = []
    model: ModifyShipment | None = None
    try:
        model = ModifyShipment.model_validate(data)
    except ValidationError as error:
        problems.extend(_problem(e) for e in error.errors(include_url=False))
    _order_identity(data, problems, warnings)
    for side in ("from", "to"):
        address = data.get(side)
        if isinstance(address, dict):
            _address_checks(side, address, postcodes, problems, warnings)
    version = _valid_or_none(version_text, data.get("version"))
    if version not in (None, DEFAULT_VERSION):
        # EWE: version "Could be 1.6": unsure, so EWE decides
        warnings.append(Problem(("version",), f"{shown(version)} is not refused, but "
                                f'EWE says version "Could be {DEFAULT_VERSION}"'))

    def in_source_order(found: Problems) -> Problems:
        return sorted(found, key=lambda problem: _source_order(data, problem.path))

    warnings = in_source_order(warnings)
    if problems:
        return Checked(None, in_source_order(problems), envelope, reference_no, warnings,
                       article_id)
    assert model is not None
    request = model.model_dump(by_alias=True, exclude_none=True, exclude=set(ENVELOPE_KEYS))
    # Optional fields left empty are not sent (the template has every field, most left ""):
    # an entry with nothing filled in is empty too, and so is a list of only such entries.
    merchandise = [entry for entry in request.pop("merchandise", []) if entry]
    if merchandise:
        request["merchandise"] = merchandise
    return Checked(request, [], envelope, reference_no, warnings, article_id)


def _identifier(value: Any) -> str | None:
    """referenceNo / articleId as text, when it is one (YAML may read it as a number)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and not is_blank(value):
        return str(value)
    return None


def _order_identity(data: dict[str, Any], problems: Problems,
                    warnings: Problems) -> None:
    """EWE's documentation marks referenceNo Required, and its articleId row says "articleId or
    referenceNo not null": either will do, and an item with only articleId is sent with a
    warning quoting both rows (EWE decides)."""
    if not is_blank(data.get("referenceNo")):
        return
    if is_blank(data.get("articleId")):
        said = "missing" if "referenceNo" not in data else "empty"
        problems.append(Problem(("referenceNo",), f"required, but {said} (or give articleId: "
                                "EWE says \"articleId or referenceNo not null\")"))
        return
    warnings.append(Problem(("referenceNo",),
                            f"not given: sent with articleId only ({REFERENCE_ROWS})"))


def _problem(error: Any) -> Problem:
    path: Path_ = tuple(error["loc"])
    kind = error["type"]
    if kind == "ewe":
        message = error["ctx"]["message"]
    elif kind == "missing":
        message = "required, but missing"
    elif kind == "extra_forbidden":
        message = _unknown_field(path)
    elif kind == "invalid_key":
        message = "unknown field (field names must be text)"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected an object, got {kind_of(error.get('input'))}"
    else:  # not expected with the validators above; keep pydantic's sentence, minus jargon
        message = str(error.get("msg", "invalid")).replace("Input should be", "should be")
    return Problem(path, message)


def _unknown_field(path: Path_) -> str:
    key = str(path[-1])
    parent = path[:-1]
    if not parent:
        allowed = _TOP_KEYS
    elif parent[0] == "merchandise":
        allowed = _MERCHANDISE_KEYS
    else:
        allowed = _ADDRESS_KEYS
    suggestion = _closest(key, allowed)
    return f"unknown field (did you mean {suggestion}?)" if suggestion else "unknown field"


def unknown_column(path: Path_) -> str | None:
    """What is wrong with a CSV column naming PATH (``("merchandise", 0, "qty")``), or None.

    Checked once on the header, so a misspelt column is one error, not one per row:
    ``unknown field (did you mean merchandise.0.quantity?)``. Only names are judged here; the
    shape of what the cells make (a list where an object belongs…) is the model's to check.
    """
    allowed: tuple[str, ...] | None = _TOP_KEYS
    for depth, part in enumerate(path):
        if allowed is None:
            return None
        if isinstance(part, int) or allowed is _LIST_OF_MERCHANDISE:
            if not isinstance(part, int) or allowed is not _LIST_OF_MERCHANDISE:
                return None  # a shape problem (index vs name): the model says what it expected
            allowed = _MERCHANDISE_KEYS
            continue
        if part not in allowed:
            suggestion = _closest(part, allowed)
            if suggestion is None:
                return "unknown field"
            shown = ".".join(str(p) for p in (*path[:depth], suggestion))
            return f"unknown field (did you mean {shown}?)"
        allowed = _BELOW.get(path[: depth + 1])
    return None


_LIST_OF_MERCHANDISE = ("0",)  # a marker: "merchandise" is followed by an index
_BELOW: dict[Path_, tuple[str, ...]] = {
    ("from",): _ADDRESS_KEYS,
    ("to",): _ADDRESS_KEYS,
    ("merchandise",): _LIST_OF_MERCHANDISE,
}


def _squash(name: str) -> str:
    # "ReferenceNo", "country-of-origin", "goods_name" are near misses of the real names
    return name.casefold().replace("_", "").replace("-", "").replace(" ", "")


def _closest(key: str, allowed: tuple[str, ...]) -> str | None:
    found = nearest(key, allowed, normalise=_squash)
    if found is None:
        # an abbreviation: "qty" for quantity, "desc" for description (one candidate only)
        short = _squash(key)
        if short:
            fits = [name for name in allowed if _abbreviates(short, _squash(name))]
            found = fits[0] if len(fits) == 1 else None
    return found


def _abbreviates(short: str, name: str) -> bool:
    """SHORT is NAME's first letter then some of its letters in order ("qty" ⊂ "quantity")."""
    if len(short) < 2 or len(short) >= len(name) or short[0] != name[0]:
        return False
    letters = iter(name)
    return all(char in letters for char in short)


def _address_checks(side: str, address: dict[str, Any], postcodes: PostcodeIndex | None,
                    problems: Problems, warnings: Problems) -> None:
    """The rules that need two fields; each field's own rule was already reported if broken.

    With the user's ``ewe.postcodes`` list, the list decides exactly: the suburb must be at
    that postcode, and, where the list gives states, in one of the states it gives for that
    pair (one postcode may belong to several states and suburbs). Without it, or where it
    gives no state, the postcode ranges only warn: they are not in EWE's documentation, and
    localities such as those on a state border have a postcode of the neighbouring state.
    """
    email = _valid_or_none(email_address, address.get("email"))
    if email is not None and not email.isascii():
        # valid (RFC 6531), but EWE's documentation only says "a vaild email address": EWE decides
        warnings.append(Problem((side, "email"), (
            f"{shown(email)} has characters beyond ASCII: not refused, but EWE's side may not "
            f"accept an internationalised address")))
    state = _valid_or_none(state_code, address.get("state"))
    postcode = _valid_or_none(postcode_text, address.get("postcode"))
    if postcode is None:
        return
    suburb = address.get("suburb")
    states: frozenset[str] | None = None  # the list's states for this suburb and postcode
    if postcodes is not None and isinstance(suburb, str) and suburb.strip():
        problem = _suburb_problem(suburb, postcode, postcodes)
        if problem:
            problems.append(Problem((side, "suburb"), problem))
            return  # the list cannot say which state an unknown pair is in
        states = postcodes.states_for(suburb, postcode)
    if state is None:
        return
    if states:
        assert postcodes is not None and isinstance(suburb, str)
        if state not in states:
            problems.append(Problem((side, "state"), (
                f"{state} does not match {postcodes.name_of(suburb)} {postcode}: "
                f"{postcodes.source} has it in {' and '.join(sorted(states))}")))
        return
    if not in_state(postcode, state):
        usual = state_of(postcode)
        owner = f"usually a {usual} postcode, not {state}" if usual else (
            "outside every state's usual range")
        warnings.append(Problem((side, "postcode"), (
            f"{postcode} is {owner} ({describe_ranges(state)}); not refused: some localities "
            f"lie across a state border (set ewe.postcodes to check exactly)")))


def _suburb_problem(suburb: str, postcode: str, postcodes: PostcodeIndex) -> str | None:
    if postcodes.matches(suburb, postcode):
        return None
    known = postcodes.postcodes_for(suburb)
    if known:
        return (
            f"{shown(suburb)} does not match postcode {postcode}: "
            f"{postcodes.source} has {postcodes.name_of(suburb)} at {' or '.join(known)}"
        )
    similar = postcodes.similar(suburb)
    hint = f" (did you mean {' or '.join(similar)}?)" if similar else ""
    return f"{shown(suburb)} is not a suburb in {postcodes.source}{hint}"


def _valid_or_none(rule: Callable[[Any], Any], value: Any) -> Any:
    try:
        return rule(value)
    except PydanticCustomError:
        return None


def _source_order(data: Any, path: Path_) -> list[int]:
    """Sort key placing problems in the order their fields appear in the input (so the file
    lines they point at go down the screen); missing fields come after their siblings."""
    key: list[int] = []
    node = data
    for part in path:
        if isinstance(node, dict):
            keys = list(node)
            if part in node:
                key.append(keys.index(part))
                node = node[part]
            else:
                key.append(len(keys) + _FIELD_ORDER.get(str(part), len(_FIELD_ORDER)))
                node = None
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            key.append(part)
            node = node[part]
        else:
            key.append(0)
            node = None
    return key
