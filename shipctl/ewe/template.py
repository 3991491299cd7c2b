"""`shipctl ewe template`: a skeleton modifyShipment request with every field and its rule.

One table below drives both formats, so the YAML (commented) and the JSON never disagree; a
test checks the table against the models so a new field cannot be forgotten here.
"""

from __future__ import annotations

import json
from typing import Any

PHONE = "9–20 of digits, spaces, - ( ), optional leading +"

# (key, placeholder, comment); a placeholder that is a list of entries is a nested object, a
# list holding one such list is a list of objects, and a list of strings is a list of strings.
Entry = tuple[str, Any, str]


def _address(phone: str) -> list[Entry]:
    return [
        ("name", "", "required, at most 40 characters"),
        ("lines", [""], "required: 1 to 3 address lines, each at most 40 characters"),
        ("suburb", "", "required; must match the postcode (checked if ewe.postcodes is set)"),
        ("state", "", "required: NSW, VIC, QLD, SA, WA, TAS, NT or ACT"),
        ("postcode", "", 'required: 4 digits, quoted ("0800"); another state\'s range: a warning'),
        ("phone", "", f"{phone}: {PHONE}"),
        ("email", "", "optional: a valid email address (non-ASCII: a warning)"),
    ]


FIELDS: list[Entry] = [
    ("referenceNo", "", "required, or articleId instead: the order reference number"),
    ("articleId", "", "optional: EWE's article id (articleId or referenceNo not null)"),
    ("reason", "", "required: why the shipment is being modified"),
    ("version", "1.6", 'optional: "1.6" when left out; another: a warning'),
    ("from", _address("required"), "required: the sender"),
    ("to", _address("optional"), "required: the receiver"),
    (
        "merchandise",
        [
            [
                ("sku", "", "optional; EWE requires it when the order uses stock"),
                ("goodsName", "", "optional: product name"),
                ("goodsNameCn", "", "optional: product name in Chinese"),
                ("barcode", "", "optional: UPC, one barcode per item"),
                ("description", "", "optional: e.g. milk, red wine (EWE requires it for ECI)"),
                ("country_of_origin", "", "optional: country of origin"),
                ("quantity", "", "optional: a whole number, 1 to 2147483647"),
                ("value", "", "optional: single item price, a number ≥ 0"),
                ("length", "", "optional: single item length in cm, a number ≥ 0"),
                ("width", "", "optional: single item width in cm, a number ≥ 0"),
                ("height", "", "optional: single item height in cm, a number ≥ 0"),
                ("weight", "", "optional: single item weight in kg, a number ≥ 0"),
            ]
        ],
        "optional: one entry per product",
    ),
]

HEADER = """\
# EWE modifyShipment request. Fill in the "" values, then check and send it:
#   shipctl ewe validate change.yaml && shipctl ewe modify change.yaml
# username, digest and msgType are not in this file: shipctl adds them from the profile
# (ewe.username, ewe.password). Optional fields left empty ("") are not sent.
# Several requests in one file: separate them with a line holding only ---
"""

_COMMENT_COLUMN = 28


def render(fmt: str) -> str:
    if fmt == "json":
        return json.dumps(_value(FIELDS), indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return HEADER + "".join(_yaml(FIELDS, indent=""))
    raise ValueError(f"unknown template format {fmt!r}")


def _is_object(placeholder: Any) -> bool:
    return isinstance(placeholder, list) and bool(placeholder) and isinstance(placeholder[0], tuple)


def _value(entries: list[Entry]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, placeholder, _ in entries:
        if _is_object(placeholder):
            document[key] = _value(placeholder)
        elif isinstance(placeholder, list) and placeholder and _is_object(placeholder[0]):
            document[key] = [_value(entry) for entry in placeholder]
        else:
            document[key] = placeholder
    return document


def _line(text: str, comment: str) -> str:
    return f"{text.ljust(_COMMENT_COLUMN - 1)} # {comment}\n"


def _yaml(entries: list[Entry], indent: str, first_prefix: str | None = None) -> list[str]:
    lines: list[str] = []
    for number, (key, placeholder, comment) in enumerate(entries):
        prefix = first_prefix if (number == 0 and first_prefix is not None) else indent
        if _is_object(placeholder):
            lines.append(_line(f"{prefix}{key}:", comment))
            lines.extend(_yaml(placeholder, indent + "  "))
        elif isinstance(placeholder, list) and placeholder and _is_object(placeholder[0]):
            lines.append(_line(f"{prefix}{key}:", comment))
            for entry in placeholder:
                lines.extend(_yaml(entry, indent + "    ", first_prefix=indent + "  - "))
        elif isinstance(placeholder, list):
            lines.append(_line(f"{prefix}{key}:", comment))
            lines.extend(f"{indent}  - {json.dumps(item)}\n" for item in placeholder)
        else:
            lines.append(_line(f"{prefix}{key}: {json.dumps(placeholder)}", comment))
    return lines
