"""Australian states, their postcode ranges, and the user's suburb → postcode list.

EWE checks that a suburb "matches" its postcode (docs/ewe.md). No free, complete suburb list
ships in any Python package (docs/ewe.md), so the suburb check runs only against a CSV the user
supplies as ``ewe.postcodes``; the state ↔ postcode-range check needs no file and always runs.
Standard library only: the validate command imports this on every run.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shipctl.errors import ConfigError

STATES = ("NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT")

# Australia Post's allocation (docs/ewe.md), inclusive ranges.
STATE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "ACT": ((200, 299), (2600, 2618), (2900, 2920)),
    "NSW": ((1000, 2599), (2619, 2899), (2921, 2999)),
    "NT": ((800, 999),),
    "VIC": ((3000, 3999), (8000, 8999)),
    "QLD": ((4000, 4999), (9000, 9999)),
    "SA": ((5000, 5999),),
    "WA": ((6000, 6999),),
    "TAS": ((7000, 7999),),
}

# Territories that published locality lists give some places and EWE's `state` field does not
# have: Other Territories (Norfolk, Christmas and Cocos Islands), Jervis Bay Territory, the
# Australian Antarctic Territory. A row with one still says where its suburb is.
OTHER_TERRITORIES = frozenset({"OT", "JBT", "AAT"})

NOT_CONFIGURED_NOTE = (
    "suburbs were not checked against their postcodes (EWE refuses a mismatch with code 10);"
    " to check them, shipctl config set ewe.postcodes FILE (a CSV of suburb,postcode,state)"
)


def in_state(postcode: str, state: str) -> bool:
    number = int(postcode)
    return any(low <= number <= high for low, high in STATE_RANGES[state])


def state_of(postcode: str) -> str | None:
    """The state whose range holds ``postcode`` (ranges do not overlap), or None."""
    for state in STATES:
        if in_state(postcode, state):
            return state
    return None


def describe_ranges(state: str) -> str:
    """"VIC: 3000–3999, 8000–8999" — as people write them, with leading zeros."""
    spans = ", ".join(f"{low:04d}–{high:04d}" for low, high in STATE_RANGES[state])
    return f"{state}: {spans}"


def normalise_suburb(name: str) -> str:
    """Case-insensitive, spacing-insensitive key: " moorabbin  AIRPORT" → "moorabbin airport"."""
    return " ".join(name.split()).casefold()


class PostcodeIndex:
    """Suburb → its postcodes → the states a user-supplied list gives that pair.

    One postcode may belong to several suburbs and several states, and one suburb name to
    several postcodes and states (a locality on a border; two towns of the same name): every
    row counts, none replaces another.
    """

    def __init__(self, source: str, rows: Iterable[tuple[str, str, str | None]] = ()) -> None:
        self.source = source  # file name, used in messages: "postcodes.csv has Greenacre at 2190"
        self._places: dict[str, dict[str, set[str]]] = {}
        self._names: dict[str, str] = {}  # key → suburb as first written in the file
        for suburb, postcode, state in rows:
            self.add(suburb, postcode, state)

    def add(self, suburb: str, postcode: str, state: str | None = None) -> None:
        key = normalise_suburb(suburb)
        self._names.setdefault(key, " ".join(suburb.split()))
        states = self._places.setdefault(key, {}).setdefault(postcode, set())
        if state:
            states.add(state)

    def states_for(self, suburb: str, postcode: str) -> frozenset[str]:
        """The states the list gives SUBURB at POSTCODE; empty when it gives none (or no such
        pair: ask ``matches`` first)."""
        return frozenset(self._places.get(normalise_suburb(suburb), {}).get(postcode, ()))

    def __len__(self) -> int:
        return len(self._places)

    def name_of(self, suburb: str) -> str:
        return self._names.get(normalise_suburb(suburb), suburb)

    def postcodes_for(self, suburb: str) -> list[str]:
        return sorted(self._places.get(normalise_suburb(suburb), {}))

    def matches(self, suburb: str, postcode: str) -> bool:
        return postcode in self._places.get(normalise_suburb(suburb), {})

    def similar(self, suburb: str, limit: int = 3) -> list[str]:
        """Suburbs in the list spelt like ``suburb`` (for "did you mean …")."""
        keys = difflib.get_close_matches(normalise_suburb(suburb), self._places, n=limit)
        return [self._names[key] for key in keys]


# Header names seen in Australia Post and community postcode files.
_SUBURB_COLUMNS = ("suburb", "locality", "place_name", "place", "name", "town")
_POSTCODE_COLUMNS = ("postcode", "post_code", "pcode", "postal_code", "zip")
_STATE_COLUMNS = ("state", "state_code", "state_name")


def load_postcodes(path: str | Path) -> PostcodeIndex:
    """Read a CSV of suburb,postcode,state (a header row is optional, in any column order).

    Any problem is a ConfigError naming the file and line, because the file is configuration
    (``ewe.postcodes``) and a half-read list would report false mismatches.
    """
    name = str(path)
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as error:
        raise ConfigError(
            f"ewe.postcodes: cannot read {name}: {error.strerror or error}",
            hint="set ewe.postcodes to a CSV file of suburb,postcode,state",
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"{name}:{line}: not UTF-8 text") from None

    index = PostcodeIndex(Path(name).name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    columns: tuple[int, int, int | None] | None = None
    try:
        for row in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if columns is None:
                columns = _columns_from_header(cells, name, line)
                if columns is not None:
                    continue
                columns = (0, 1, 2 if len(cells) > 2 else None)
            _add_row(index, cells, columns, name, line)
    except csv.Error as error:
        raise ConfigError(f"{name}:{reader.line_num}: not valid CSV: {error}") from None
    if not len(index):
        raise ConfigError(f"{name}: no suburbs found (expected rows of suburb,postcode,state)")
    return index


def _columns_from_header(
    cells: list[str], name: str, line: int
) -> tuple[int, int, int | None] | None:
    lowered = [cell.casefold().replace(" ", "_") for cell in cells]
    if not any(cell in _POSTCODE_COLUMNS for cell in lowered):
        return None  # the first row is data

    def find(candidates: tuple[str, ...]) -> int | None:
        for candidate in candidates:
            if candidate in lowered:
                return lowered.index(candidate)
        return None

    suburb, postcode, state = find(_SUBURB_COLUMNS), find(_POSTCODE_COLUMNS), find(_STATE_COLUMNS)
    if suburb is None or postcode is None:
        raise ConfigError(
            f"{name}:{line}: header has no suburb column (expected suburb,postcode,state)"
        )
    return suburb, postcode, state


def _add_row(
    index: PostcodeIndex,
    cells: list[str],
    columns: tuple[int, int, int | None],
    name: str,
    line: int,
) -> None:
    suburb_at, postcode_at, state_at = columns
    needed = max(c for c in columns if c is not None)
    if len(cells) <= needed:
        raise ConfigError(
            f"{name}:{line}: expected suburb,postcode,state, found {len(cells)} column(s)"
        )
    suburb, postcode = cells[suburb_at], cells[postcode_at]
    if not suburb:
        raise ConfigError(f"{name}:{line}: empty suburb")
    if len(postcode) == 3 and postcode.isdigit():
        postcode = "0" + postcode  # spreadsheets drop the leading zero of NT/ACT postcodes
    if not (len(postcode) == 4 and postcode.isascii() and postcode.isdigit()):
        raise ConfigError(f"{name}:{line}: postcode {postcode!r} is not 4 digits")
    state: str | None = None
    if state_at is not None and cells[state_at]:
        state = cells[state_at].upper()
        if state in OTHER_TERRITORIES:
            state = None  # which of EWE's states: the ranges say, and only warn
        elif state not in STATES:
            raise ConfigError(
                f"{name}:{line}: state {cells[state_at]!r} is not one of {', '.join(STATES)}"
            )
    index.add(suburb, postcode, state)


def configured_index(app: Any) -> PostcodeIndex | None:
    """The ``ewe.postcodes`` list of the active profile, or None."""
    path = app.setting("ewe.postcodes").value
    if path in (None, ""):
        return None
    return load_postcodes(Path(str(path)).expanduser())


def note_unchecked(app: Any) -> None:
    """Once per run (validate, modify), when there is no ``ewe.postcodes`` list: EWE's
    "Suburb needs to match with postcode" was not checked, and how to check it. --quiet
    silences it (it is about the run, not about an item)."""
    if not getattr(app.out, "quiet", False):
        app.out.warn(NOT_CONFIGURED_NOTE)
