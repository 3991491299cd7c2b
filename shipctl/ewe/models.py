"""EWE modifyShipment field rules (seed 004, reference/ewe.md, SPEC §5) and the one check.

``check(data)`` is the single entry point for everyone who needs the rules: ``shipctl ewe
validate``, ``shipctl ewe modify`` before it sends, and the sandbox simulator when it answers
code 10. It never raises for bad data: it returns the problems, in source order, as plain
English for support staff, and — when there are none — the normalised body to send.

The pydantic models hold the structure (required keys, unknown keys, nesting); each field's own
rule is a small validator below that raises a message we wrote, so no pydantic wording or
internal names ever reach the user. Checks that need two fields (state ↔ postcode, suburb ↔
postcode, referenceNo or articleId) run on the raw data afterwards, so they are reported even
when another field is bad.

Refuse only what the document says is wrong; where it is unsure ("Could be 1.6"), or where
our own data may be wrong (the state ↔ postcode ranges are not in the seed, and real
localities straddle them), warn and let EWE decide (``Checked.warnings``): a wrong refusal
stops a real shipment. What goes out must be readable by EWE's Java side: lengths are counted
in UTF-16 code units as Java counts them, ``quantity`` fits a Java int, and decimals are
``Decimal``s sent in plain notation with their exact digits (``client.encode``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from shipctl.ewe import MSG_TYPE
from shipctl.ewe.postcodes import (
    STATES,
    PostcodeIndex,
    describe_ranges,
    in_state,
    load_postcodes,
    state_of,
)
from shipctl.inputs import Path_, dotted
from shipctl.plainjson import exact, plain
from shipctl.suggest import nearest

__all__ = [
    "Checked",
    "ModifyShipment",
    "PostcodeIndex",
    "Problem",
    "check",
    "load_postcodes",
]


DEFAULT_VERSION = "1.6"  # seed: version "Could be 1.6"
ENVELOPE_KEYS = ("username", "digest", "msgType")  # come from the profile, never from the item
MAX_NAME = 40  # seed: name "Maximum 40 characters"
MAX_LINE = 40  # seed: "Maximum 40 characters for each line"
MAX_LINES = 3  # seed: "Minimum one line, up to three lines"
PHONE_RULE = "must be 9–20 characters of digits, spaces, -, ( ) and an optional leading +"
# seed: quantity is an "integer"; EWE's side is Java, whose int holds at most 2³¹ − 1
MAX_QUANTITY = 2**31 - 1
# A decimal written out in plain notation has at most this many digits. Every finite float
# fits (the smallest, 5e-324, has 325); a short "1e-100000" would otherwise send 100,000.
MAX_DECIMAL_DIGITS = 400
# The seed's two rows on the order's identity, quoted in the warning for an item without
# referenceNo: the table marks it Required, the articleId row says either will do.
REFERENCE_ROWS = (
    'seed 004: referenceNo "Required | The order reference number"; '
    'articleId "Optional | articleId (articleId or referenceNo not null"'
)

# seed: 9–20 of "() - 0-9"; its own examples use a leading + ("+61 (3) 7010 4321")
_PHONE = re.compile(r"\+?[0-9 ()\-]*")
_POSTCODE = re.compile(r"[0-9]{4}")
_WHOLE = re.compile(r"\+?[0-9]{1,18}")
_DECIMAL = re.compile(r"\+?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")
_STATE_NAMES = {
    "new south wales": "NSW",
    "victoria": "VIC",
    "queensland": "QLD",
    "south australia": "SA",
    "western australia": "WA",
    "tasmania": "TAS",
    "northern territory": "NT",
    "australian capital territory": "ACT",
}


@dataclass(frozen=True)
class Problem:
    path: Path_  # ("to", "phone"); () for the item as a whole
    message: str

    @property
    def field(self) -> str:
        return dotted(self.path)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.path else self.message


@dataclass
class Checked:
    request: dict[str, Any] | None  # the body to send (without the envelope), None if invalid
    problems: list[Problem] = field(default_factory=list)
    envelope: dict[str, Any] = field(default_factory=dict)  # username/digest/msgType/version given
    reference_no: str | None = None
    # sent all the same, but worth a look: the document is unsure, or our data may be wrong
    warnings: list[Problem] = field(default_factory=list)
    article_id: str | None = None

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def key(self) -> str | None:
        """What names the order: ordering key, shard and label — referenceNo, else articleId
        (seed: "articleId or referenceNo not null")."""
        return self.reference_no or self.article_id

    @property
    def label(self) -> str:
        """``key`` for people and reports, "-" when there is none; a lone surrogate (a
        "\\ud800" escape in JSON, refused as text) shown as that escape, so printing it or
        writing it to a UTF-8 report cannot fail."""
        return (self.key or "-").encode("utf-8", "backslashreplace").decode("utf-8")


# -- wording ------------------------------------------------------------------------------------
def _fail(message: str) -> NoReturn:
    # The message travels in the context so braces in user data are never treated as a template.
    raise PydanticCustomError("ewe", "{message}", {"message": message})


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any, limit: int = 40) -> str:
    """A value quoted for a message, cut short so a pasted novel does not flood the screen."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return f'"{text}"'
    return str(value)[:limit]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def java_length(text: str) -> int:
    """Characters as Java counts them (``String.length()``): UTF-16 code units, so an emoji or
    any other character beyond U+FFFF counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _counted(text: str, noun: str = "") -> str:
    """ "it has 80" — and how, when Java's count differs from the characters one sees."""
    length = java_length(text)
    counted = f"it has {length} {noun}".rstrip()
    if length == len(text):
        return counted
    return f"{counted} as Java counts: each character beyond U+FFFF, such as an emoji, is 2"


_SURROGATE = re.compile("[\ud800-\udfff]")


# -- field rules --------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, str):
        if _SURROGATE.search(value):  # "\ud800" in JSON: no character, and no UTF-8 for it
            _fail("contains a lone UTF-16 surrogate (an escape such as \\ud800), not text")
        return value
    # YAML reads `referenceNo: 12345` or `phone: 61407000000` as a number; the API wants text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    _fail(f"expected text, got {_kind(value)}")


def _required_text(value: Any) -> str:
    if _blank(value):
        _fail("required, but empty")
    return _text(value)


def _optional_text(value: Any) -> str | None:
    # An optional field left empty (e.g. in the template) is simply not sent.
    return None if _blank(value) else _text(value)


def _limited(what: str, limit: int) -> Callable[[Any], str]:
    def rule(value: Any) -> str:
        if _blank(value):
            _fail(f"required, but empty ({what}, at most {limit} characters)")
        text = _text(value)
        if java_length(text) > limit:
            _fail(f"at most {limit} characters ({_counted(text)})")
        return text

    return rule


def _lines_shape(value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        hint = " — put each line in its own entry" if isinstance(value, str) else ""
        _fail(f"expected a list of 1–{MAX_LINES} address lines, got {_kind(value)}{hint}")
    if not value:
        _fail(f"needs at least 1 address line (at most {MAX_LINES})")
    if len(value) > MAX_LINES:
        _fail(f"at most {MAX_LINES} address lines (it has {len(value)})")
    return list(value)


def _state(value: Any) -> str:
    if _blank(value):
        _fail(f"required, but empty (one of {' '.join(STATES)})")
    text = _text(value)
    code = text.strip().upper()
    if code not in STATES:
        guess = _STATE_NAMES.get(" ".join(text.split()).casefold())
        hint = f" (did you mean {guess}?)" if guess else ""
        _fail(f"{_show(text)} is not a state: use one of {', '.join(STATES)}{hint}")
    return code  # SPEC §5: case-insensitive, sent upper-case


def _postcode(value: Any) -> str:
    if _blank(value):
        _fail("required, but empty (4 digits)")
    if isinstance(value, int) and not isinstance(value, bool) and not 1000 <= value <= 9999:
        _fail(f'must be exactly 4 digits written as text, e.g. "0800" (it is the number {value})')
    text = _text(value).strip()
    if not (_POSTCODE.fullmatch(text) and text.isascii()):
        _fail(f"must be exactly 4 digits (it is {_show(value)})")
    return text


def _phone(value: Any) -> str:
    text = _text(value)
    if not (9 <= java_length(text) <= 20):
        _fail(f"{PHONE_RULE} ({_counted(text, 'characters')})")
    if not _PHONE.fullmatch(text):
        bad = next(
            (c for i, c in enumerate(text) if not (c in "0123456789 ()-" or (c == "+" and i == 0))),
            "+",
        )
        _fail(f'{PHONE_RULE} ("{bad}" is not allowed there)')
    if not any(c.isdigit() for c in text):
        _fail(f"{PHONE_RULE}, and a phone number needs digits (it has none)")
    return text


def _required_phone(value: Any) -> str:
    if _blank(value):
        _fail(f"required, but empty ({PHONE_RULE.removeprefix('must be ')})")
    return _phone(value)


def _optional_phone(value: Any) -> str | None:
    return None if _blank(value) else _phone(value)


def _email(value: Any) -> str | None:
    if _blank(value):
        return None
    text = _text(value)
    from email_validator import EmailNotValidError, validate_email

    try:
        # strict: RFC 5321's limits too (at most 64 characters before the @); offline, no DNS.
        # Non-ASCII addresses pass here and are warned about (check: EWE may not take them).
        validate_email(text, check_deliverability=False, strict=True)
    except EmailNotValidError as error:
        _fail(f"not a valid email address: {error}")
    except Exception:  # noqa: BLE001 - odd Unicode can trip the IDNA codec; still just invalid
        _fail("not a valid email address")
    return text


def _msg_type(value: Any) -> str | None:
    # SPEC §5: envelope keys an item carries are replaced by the profile's (the caller warns
    # when they differ, from Checked.envelope); the simulator checks the real envelope itself.
    return MSG_TYPE


def _version(value: Any) -> str:
    if _blank(value):
        return DEFAULT_VERSION
    # YAML reads `version: 1.6` as a number: sent as the text it was written as
    if isinstance(value, float) and math.isfinite(value):
        return plain(exact(value))
    return _text(value)


def _quantity(value: Any) -> int | None:
    if _blank(value):
        return None
    number: int
    if isinstance(value, bool):
        _fail("must be a positive whole number, got true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            _fail(f"must be a positive whole number (it is {_show(value)})")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            _fail(f"must be a positive whole number (it is {_show(value)})")
        number = int(text)  # seed example sends "quantity": "1"; EWE documents an integer
    else:
        _fail(f"must be a positive whole number, got {_kind(value)}")
    if number < 1:
        _fail(f"must be a positive whole number, at least 1 (it is {number})")
    if number > MAX_QUANTITY:
        _fail(f"at most {MAX_QUANTITY} (it is {number}): EWE reads quantity as a Java int")
    return number


def _decimal(value: Any) -> int | Decimal | None:
    """A whole number stays an int; anything with a fraction or an exponent becomes a Decimal
    with exactly the digits the input wrote (``WrittenFloat.text``), sent in plain notation."""
    if _blank(value):
        return None
    number: int | Decimal
    if isinstance(value, bool):
        _fail("expected a non-negative number, got true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            _fail(f"expected a non-negative number (it is {value})")
        number = exact(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and _DECIMAL.fullmatch(text[1:]):
            if Decimal(text):
                _fail(f"must not be negative (it is {_show(value)})")
            text = text[1:]  # "-0.0" is zero, sent as 0.0
        if not _DECIMAL.fullmatch(text):
            _fail(f"expected a non-negative number (it is {_show(value)})")
        try:
            number = Decimal(text) if "." in text else int(text)
        except InvalidOperation:  # not reached: the pattern admits only what Decimal reads
            _fail(f"expected a non-negative number (it is {_show(value)})")
    else:
        _fail(f"expected a non-negative number, got {_kind(value)}")
    if number < 0:
        shown = plain(number) if isinstance(number, Decimal) else str(number)
        _fail(f"must not be negative (it is {shown[:40]})")
    if isinstance(number, Decimal):
        if number.is_zero():
            number = number.copy_abs()  # no "-0.0" in the body
        digits = max(number.adjusted() + 1, 1) + max(-number.as_tuple().exponent, 0)
        if digits > MAX_DECIMAL_DIGITS:
            _fail(f"at most {MAX_DECIMAL_DIGITS} digits when written out "
                  f"(it has {digits})")
    return number


def _merchandise_shape(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        _fail(f"expected a list of merchandise objects, got {_kind(value)}")
    return list(value)


Text = Annotated[Any, PlainValidator(_required_text)]
OptionalText = Annotated[Any, PlainValidator(_optional_text)]
Name = Annotated[Any, PlainValidator(_limited("name", MAX_NAME))]
Line = Annotated[Any, PlainValidator(_limited("address line", MAX_LINE))]
Lines = Annotated[list[Line], BeforeValidator(_lines_shape)]
State = Annotated[Any, PlainValidator(_state)]
Postcode = Annotated[Any, PlainValidator(_postcode)]
Phone = Annotated[Any, PlainValidator(_required_phone)]
OptionalPhone = Annotated[Any, PlainValidator(_optional_phone)]
Email = Annotated[Any, PlainValidator(_email)]
MsgType = Annotated[Any, PlainValidator(_msg_type)]
Version = Annotated[Any, PlainValidator(_version)]
Quantity = Annotated[Any, PlainValidator(_quantity)]
Decimal_ = Annotated[Any, PlainValidator(_decimal)]


# -- the models ---------------------------------------------------------------------------------
class _Strict(BaseModel):
    # extra="forbid": a misspelt optional field would otherwise be silently dropped (SPEC §5)
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Strict):
    """``to``: the receiver. seed: every field required except phone and email."""

    name: Name
    lines: Lines
    suburb: Text
    state: State
    postcode: Postcode
    phone: OptionalPhone = None
    email: Email = None


class Sender(Address):
    """``from``: as ``to``, but the phone is required (seed)."""

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
    merchandise: Annotated[list[Merchandise], BeforeValidator(_merchandise_shape)] = []


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
        message = f"expected an object (a modifyShipment request), got {_kind(data)}"
        return Checked(request=None, problems=[Problem((), message)])
    envelope = {key: data[key] for key in (*ENVELOPE_KEYS, "version") if key in data}
    reference_no = _identifier(data.get("referenceNo"))
    article_id = _identifier(data.get("articleId"))

    problems: list[Problem] = []
    warnings: list[Problem] = []
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
    version = _valid_or_none(_version, data.get("version"))
    if version not in (None, DEFAULT_VERSION):
        # seed: version "Could be 1.6": unsure, so EWE decides
        warnings.append(Problem(("version",), f"{_show(version)} is not refused, but "
                                f'seed 004 says version "Could be {DEFAULT_VERSION}"'))

    def in_source_order(found: list[Problem]) -> list[Problem]:
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
    if isinstance(value, (str, int)) and not isinstance(value, bool) and not _blank(value):
        return str(value)
    return None


def _order_identity(data: dict[str, Any], problems: list[Problem],
                    warnings: list[Problem]) -> None:
    """seed 004 marks referenceNo Required, and its articleId row says "articleId or
    referenceNo not null": either will do, and an item with only articleId is sent with a
    warning quoting both rows (EWE decides)."""
    if not _blank(data.get("referenceNo")):
        return
    if _blank(data.get("articleId")):
        said = "missing" if "referenceNo" not in data else "empty"
        problems.append(Problem(("referenceNo",), f"required, but {said} (or give articleId: "
                                "seed 004 says \"articleId or referenceNo not null\")"))
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
        message = f"expected an object, got {_kind(error.get('input'))}"
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
                    problems: list[Problem], warnings: list[Problem]) -> None:
    """The rules that need two fields; each field's own rule was already reported if broken.

    With the user's ``ewe.postcodes`` list, the list decides exactly: the suburb must be at
    that postcode, and, where the list gives states, in one of the states it gives for that
    pair (one postcode may belong to several states and suburbs). Without it, or where it
    gives no state, the postcode ranges only warn: they are not in the seed, and localities
    such as those on a state border have a postcode of the neighbouring state.
    """
    email = _valid_or_none(_email, address.get("email"))
    if email is not None and not email.isascii():
        # valid (RFC 6531), but the seed only says "a vaild email address": EWE decides
        warnings.append(Problem((side, "email"), (
            f"{_show(email)} has characters beyond ASCII: not refused, but EWE's side may not "
            f"accept an internationalised address")))
    state = _valid_or_none(_state, address.get("state"))
    postcode = _valid_or_none(_postcode, address.get("postcode"))
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
            f"{_show(suburb)} does not match postcode {postcode}: "
            f"{postcodes.source} has {postcodes.name_of(suburb)} at {' or '.join(known)}"
        )
    similar = postcodes.similar(suburb)
    hint = f" (did you mean {' or '.join(similar)}?)" if similar else ""
    return f"{_show(suburb)} is not a suburb in {postcodes.source}{hint}"


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
