"""EWE modifyShipment: each field's own rule (EWE's "Modify Shipment" API documentation,
docs/ewe.md), as a pydantic type with our wording.

Every rule is a small validator that raises a message we wrote (``fail``), so no pydantic
wording or internal names ever reach the user; ``shipctl.ewe.models`` puts them together into
the request's models and adds the rules that need two fields. What is accepted must be readable
by EWE's Java side: lengths are counted in UTF-16 code units as Java counts them, ``quantity``
fits a Java int, and decimals become ``Decimal``s with the digits they were written with.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, NoReturn

from pydantic import BeforeValidator, PlainValidator
from pydantic_core import PydanticCustomError

from shipctl.ewe import MSG_TYPE
from shipctl.ewe.postcodes import STATES
from shipctl.output import shorten
from shipctl.plainjson import exact, plain
from shipctl.suggest import kind_of

DEFAULT_VERSION = "1.6"  # EWE: version "Could be 1.6"
MAX_NAME = 40  # EWE: name "Maximum 40 characters"
MAX_LINE = 40  # EWE: "Maximum 40 characters for each line"
MAX_LINES = 3  # EWE: "Minimum one line, up to three lines"
PHONE_RULE = "must be 9–20 characters of digits, spaces, -, ( ) and an optional leading +"
# EWE: quantity is an "integer"; EWE's side is Java, whose int holds at most 2³¹ − 1
MAX_QUANTITY = 2**31 - 1
# A decimal written out in plain notation has at most this many digits. Every finite float
# fits (the smallest, 5e-324, has 325); a short "1e-100000" would otherwise send 100,000.
MAX_DECIMAL_DIGITS = 400
# EWE: 9–20 of "() - 0-9"; its own examples use a leading + ("+61 (3) 7010 4321")
_PHONE = re.compile(r"\+?[0-9 ()\-]*")
_POSTCODE = re.compile(r"[0-9]{4}")
_WHOLE = re.compile(r"\+?[0-9]{1,18}")
# an exponent too: a spreadsheet writes 0.0000001 as 1E-07 (sent in plain notation all the same)
_DECIMAL = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,9})?")
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


# -- wording ------------------------------------------------------------------------------------
def fail(message: str) -> NoReturn:
    # The message travels in the context so braces in user data are never treated as a template.
    raise PydanticCustomError("ewe", "{message}", {"message": message})


def shown(value: Any, limit: int = 40) -> str:
    """A value quoted for a message, cut short so a pasted novel does not flood the screen."""
    if isinstance(value, str):
        return f'"{shorten(value, limit)}"'
    return str(value)[:limit]


def is_blank(value: Any) -> bool:
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
            fail("contains a lone UTF-16 surrogate (an escape such as \\ud800), not text")
        return value
    # YAML reads `referenceNo: 12345` or `phone: 61407000000` as a number; the API wants text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    fail(f"expected text, got {kind_of(value)}")


def _required_text(value: Any) -> str:
    if is_blank(value):
        fail("required, but empty")
    return _text(value)


def _optional_text(value: Any) -> str | None:
    # An optional field left empty (e.g. in the template) is simply not sent.
    return None if is_blank(value) else _text(value)


def _limited(what: str, limit: int) -> Callable[[Any], str]:
    def rule(value: Any) -> str:
        if is_blank(value):
            fail(f"required, but empty ({what}, at most {limit} characters)")
        text = _text(value)
        if java_length(text) > limit:
            fail(f"at most {limit} characters ({_counted(text)})")
        return text

    return rule


def _lines_shape(value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        hint = " — put each line in its own entry" if isinstance(value, str) else ""
        fail(f"expected a list of 1–{MAX_LINES} address lines, got {kind_of(value)}{hint}")
    if not value:
        fail(f"needs at least 1 address line (at most {MAX_LINES})")
    if len(value) > MAX_LINES:
        fail(f"at most {MAX_LINES} address lines (it has {len(value)})")
    return list(value)


def state_code(value: Any) -> str:
    if is_blank(value):
        fail(f"required, but empty (one of {' '.join(STATES)})")
    text = _text(value)
    code = text.strip().upper()
    if code not in STATES:
        guess = _STATE_NAMES.get(" ".join(text.split()).casefold())
        hint = f" (did you mean {guess}?)" if guess else ""
        fail(f"{shown(text)} is not a state: use one of {', '.join(STATES)}{hint}")
    return code  # docs/ewe.md: case-insensitive, sent upper-case


def postcode_text(value: Any) -> str:
    if is_blank(value):
        fail("required, but empty (4 digits)")
    if isinstance(value, int) and not isinstance(value, bool) and not 1000 <= value <= 9999:
        fail(f'must be exactly 4 digits written as text, e.g. "0800" (it is the number {value})')
    text = _text(value).strip()
    if not (_POSTCODE.fullmatch(text) and text.isascii()):
        fail(f"must be exactly 4 digits (it is {shown(value)})")
    return text


def _phone(value: Any) -> str:
    text = _text(value)
    if not (9 <= java_length(text) <= 20):
        fail(f"{PHONE_RULE} ({_counted(text, 'characters')})")
    if not _PHONE.fullmatch(text):
        bad = next(
            (c for i, c in enumerate(text) if not (c in "0123456789 ()-" or (c == "+" and i == 0))),
            "+",
        )
        fail(f'{PHONE_RULE} ("{bad}" is not allowed there)')
    if not any(c.isdigit() for c in text):
        fail(f"{PHONE_RULE}, and a phone number needs digits (it has none)")
    return text


def _required_phone(value: Any) -> str:
    if is_blank(value):
        fail(f"required, but empty ({PHONE_RULE.removeprefix('must be ')})")
    return _phone(value)


def _optional_phone(value: Any) -> str | None:
    return None if is_blank(value) else _phone(value)


def email_address(value: Any) -> str | None:
    if is_blank(value):
        return None
    text = _text(value)
    from email_validator import EmailNotValidError, validate_email

    try:
        # strict: RFC 5321's limits too (at most 64 characters before the @); offline, no DNS.
        # Non-ASCII addresses pass here and are warned about (check: EWE may not take them).
        validate_email(text, check_deliverability=False, **_strict_email(validate_email))
    except EmailNotValidError as error:
        fail(f"not a valid email address: {error}")
    except Exception:  # noqa: BLE001 - odd Unicode can trip the IDNA codec; still just invalid
        fail("not a valid email address")
    return text


@functools.lru_cache(maxsize=1)
def _strict_email(validate_email: Callable[..., Any]) -> dict[str, bool]:
    """``strict=True`` where email-validator has it (2.3 and later). Before 2.3 the keyword
    was a TypeError, which the broad ``except`` above turned into "not a valid email address"
    for every address; those versions apply the length limits always."""
    import inspect

    return {"strict": True} if "strict" in inspect.signature(validate_email).parameters else {}


def _msg_type(value: Any) -> str | None:
    # docs/ewe.md: envelope keys an item carries are replaced by the profile's (the caller warns
    # when they differ, from Checked.envelope); the simulator checks the real envelope itself.
    return MSG_TYPE


def version_text(value: Any) -> str:
    if is_blank(value):
        return DEFAULT_VERSION
    # YAML reads `version: 1.6` as a number: sent as the text it was written as
    if isinstance(value, float) and math.isfinite(value):
        return plain(exact(value))
    return _text(value)


def _quantity(value: Any) -> int | None:
    if is_blank(value):
        return None
    number: int
    if isinstance(value, bool):
        fail("must be a positive whole number, got true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        # whole as written: 1.0000000000000001 is the float 1.0, but not a whole number
        written = exact(value) if math.isfinite(value) else None
        if written is None or written != written.to_integral_value():
            fail(f"must be a positive whole number (it is {_as_written(value)})")
        number = int(written)
    elif isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            fail(f"must be a positive whole number (it is {shown(value)})")
        number = int(text)  # EWE's example sends "quantity": "1"; EWE documents an integer
    else:
        fail(f"must be a positive whole number, got {kind_of(value)}")
    if number < 1:
        fail(f"must be a positive whole number, at least 1 (it is {number})")
    if number > MAX_QUANTITY:
        fail(f"at most {MAX_QUANTITY} (it is {_as_written(value)}): EWE reads quantity as a "
             "Java int")
    return number


def _as_written(value: Any) -> str:
    """A number for a message: as the input wrote it (``WrittenFloat.text``), cut short."""
    text = getattr(value, "text", None)
    if not isinstance(text, str):
        text = value.strip() if isinstance(value, str) else str(value)
    return shorten(text, 40)


def _decimal(value: Any) -> int | Decimal | None:
    """A whole number stays an int; anything with a fraction or an exponent becomes a Decimal
    with exactly the digits the input wrote (``WrittenFloat.text``), sent in plain notation."""
    if is_blank(value):
        return None
    number: int | Decimal
    if isinstance(value, bool):
        fail("expected a non-negative number, got true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        # as written: a JSON 1e400 is the float inf, but the number 1 followed by 400 zeros
        written = exact(value) if math.isfinite(value) or hasattr(value, "text") else None
        if written is None or not written.is_finite():
            fail(f"expected a non-negative number (it is {_as_written(value)})")
        number = written
    elif isinstance(value, str):
        text = value.strip()
        body = text[1:] if text.startswith("-") else text
        if not _DECIMAL.fullmatch(body):
            fail(f"expected a non-negative number (it is {shown(value)})")
        number = Decimal(body)  # the pattern admits only what Decimal reads
        if body != text and number:
            fail(f"must not be negative (it is {shown(value)})")  # "-0.0" is zero: sent 0.0
    else:
        fail(f"expected a non-negative number, got {kind_of(value)}")
    if number < 0:
        written = plain(number) if isinstance(number, Decimal) else str(number)
        fail(f"must not be negative (it is {written[:40]})")
    if isinstance(number, int):
        digits = len(str(number))  # the reader refuses more digits than str() may write
    else:
        if number.is_zero():
            number = number.copy_abs()  # no "-0.0" in the body
        digits = max(number.adjusted() + 1, 1) + max(-number.as_tuple().exponent, 0)
    if digits > MAX_DECIMAL_DIGITS:
        fail(f"at most {MAX_DECIMAL_DIGITS} digits when written out (it has {digits})")
    if isinstance(value, str) and body.lstrip("+").isdigit():
        return int(number)  # "2" is sent as 2, as a whole number always was
    return number


def merchandise_shape(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        fail(f"expected a list of merchandise objects, got {kind_of(value)}")
    return list(value)


Text = Annotated[Any, PlainValidator(_required_text)]
OptionalText = Annotated[Any, PlainValidator(_optional_text)]
Name = Annotated[Any, PlainValidator(_limited("name", MAX_NAME))]
Line = Annotated[Any, PlainValidator(_limited("address line", MAX_LINE))]
Lines = Annotated[list[Line], BeforeValidator(_lines_shape)]
State = Annotated[Any, PlainValidator(state_code)]
Postcode = Annotated[Any, PlainValidator(postcode_text)]
Phone = Annotated[Any, PlainValidator(_required_phone)]
OptionalPhone = Annotated[Any, PlainValidator(_optional_phone)]
Email = Annotated[Any, PlainValidator(email_address)]
MsgType = Annotated[Any, PlainValidator(_msg_type)]
Version = Annotated[Any, PlainValidator(version_text)]
Quantity = Annotated[Any, PlainValidator(_quantity)]
Decimal_ = Annotated[Any, PlainValidator(_decimal)]
