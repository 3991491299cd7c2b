"""Properties of the input reader: anything in → items or one clean error; data round-trips."""

from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shipctl import inputs
from shipctl.errors import InputError, ShipctlError
from shipctl.inputs import Item, open_inputs, read_items

SUFFIXES = [".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".csv", ".txt", "-"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_bytes(data: bytes, suffix: str) -> tuple[list[Item], list[str]]:
    """Read ``data`` as a file with ``suffix`` (or as stdin for "-")."""
    warnings: list[str] = []
    if suffix == "-":
        items = list(read_items(["-"], stdin=io.BytesIO(data), warn=warnings.append))
        return items, warnings
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"input{suffix}"
        path.write_bytes(data)
        items = list(read_items([str(path)], allow_csv=True, warn=warnings.append))
    return items, warnings


def outcome(data: bytes, suffix: str) -> list[Item] | ShipctlError:
    try:
        items, warnings = read_bytes(data, suffix)
    except ShipctlError as error:
        # one clean line (plus an optional hint), never a traceback
        assert error.message and "\n" not in error.message
        assert "Traceback" not in str(error)
        return error
    for item in items:
        assert isinstance(item.data, dict)
        assert item.location.index >= 1
        assert item.location.line is None or item.location.line >= 1
    assert all(isinstance(w, str) and "\n" not in w for w in warnings)
    return items


# -- anything in → items or a clean error ------------------------------------------------------


@FAST
@given(st.binary(max_size=600), st.sampled_from(SUFFIXES))
def test_any_bytes(data, suffix):
    outcome(data, suffix)


@FAST
@given(st.text(max_size=600), st.sampled_from(SUFFIXES))
def test_any_text(text, suffix):
    outcome(text.encode("utf-8", "surrogatepass"), suffix)


# pieces of pasted payloads: JSON, JSON5, Python, YAML and prose, glued at random
PIECES = st.sampled_from([
    "{", "}", "[", "]", ",", ":", '"a"', '"b"', "'c'", "\u201cd\u201d", "\u2018e\u2019", "1",
    "-2.5e3", "0x1F", "true", "True", "None", "null", "NaN", "Infinity", "// note\n",
    "/* x */", "\n", " ", "\t", "\r\n", "key", "-", "---\n", "- ", "#", '"', "'", "\\", "hello",
    "\u00e9", "@", "=", "\ufeff", "{\"to\": {\"phone\": \"12\"}}", "\n---\n",
])


@FAST
@given(st.lists(PIECES, max_size=40).map("".join), st.sampled_from(SUFFIXES))
def test_json_ish_text(text, suffix):
    outcome(text.encode(), suffix)


# -- round trips -------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=15,
)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
indents = st.sampled_from([None, 0, 1, 2, 4, "\t"])


@FAST
@given(objects, indents)
def test_object_round_trip(obj, indent):
    text = json.dumps(obj, indent=indent)
    items, warnings = read_bytes(text.encode(), ".json")
    assert [i.data for i in items] == [obj]
    assert warnings == []


@FAST
@given(st.lists(objects, max_size=5), indents, st.sampled_from([".json", ".txt", "-"]))
def test_list_round_trip(objs, indent, suffix):
    text = json.dumps(objs, indent=indent, ensure_ascii=False)
    items, warnings = read_bytes(text.encode(), suffix)
    assert [i.data for i in items] == objs
    assert [i.location.index for i in items] == list(range(1, len(objs) + 1))
    assert warnings == []


@FAST
@given(st.lists(objects, min_size=1, max_size=6), st.sampled_from([".jsonl", ".ndjson", ".json"]),
       st.sampled_from(["\n", "\r\n"]))
def test_json_lines_round_trip(objs, suffix, newline):
    text = newline.join(json.dumps(o, ensure_ascii=False) for o in objs) + newline
    items, warnings = read_bytes(text.encode(), suffix)
    assert [i.data for i in items] == objs
    assert [i.location.line for i in items] == list(range(1, len(objs) + 1))
    assert warnings == []


@FAST
@given(objects, st.sampled_from([1, 2, "\t"]))
def test_field_lines_point_at_the_key(obj, indent):
    """Every field line recorded for a pretty-printed object is the line holding that key."""
    text = json.dumps(obj, indent=indent)
    items, _ = read_bytes(text.encode(), ".json")
    lines = text.split("\n")
    for path, line in items[0].field_lines.items():
        last = path[-1]
        if isinstance(last, str):
            assert lines[line - 1].lstrip().startswith(json.dumps(last) + ":"), (path, line)


# YAML readers see JSON as YAML: our YAML scalars must mean what JSON means
yaml_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=12)
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | yaml_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(yaml_text, inner, max_size=4),
    max_leaves=12,
)


@FAST
@given(st.dictionaries(yaml_text, yaml_values, max_size=5), st.sampled_from([None, 2]))
def test_json_read_as_yaml_round_trip(obj, indent):
    text = json.dumps(obj, indent=indent)
    items, _ = read_bytes(text.encode(), ".yaml")
    assert [i.data for i in items] == [obj]


@FAST
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b.c", "b.d", "e.0", "e.1", "f.0.g"]),
                                st.text(min_size=1, max_size=10).filter(lambda s: "\0" not in s),
                                min_size=1), min_size=1, max_size=5))
def test_csv_round_trip(rows):
    columns = ["a", "b.c", "b.d", "e.0", "e.1", "f.0.g"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns)
    writer.writeheader()
    writer.writerows(rows)
    items, _ = read_bytes(buffer.getvalue().encode(), ".csv")

    def nested(row: dict) -> dict:
        out: dict = {}
        if "a" in row:
            out["a"] = row["a"]
        b = {k[2:]: row[k] for k in ("b.c", "b.d") if k in row}
        if b:
            out["b"] = b
        e = [row[k] for k in ("e.0", "e.1") if k in row]
        if e:
            out["e"] = e
        if "f.0.g" in row:
            out["f"] = [{"g": row["f.0.g"]}]
        return out

    assert [i.data for i in items] == [nested(r) for r in rows]


# -- lenient round trips -----------------------------------------------------------------------


@FAST
@given(objects)
def test_trailing_commas_are_forgiven_and_reported(obj):
    text = json.dumps(obj, indent=1)
    lenient = text.replace("\n}", ",\n}").replace("\n]", ",\n]")
    assume(lenient != text)
    items, warnings = read_bytes(lenient.encode(), ".json")
    assert [i.data for i in items] == [obj]
    assert len(warnings) == 1 and "parsed leniently: trailing comma at line" in warnings[0]


python_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9)
    | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5).filter(
        str.isprintable), inner, max_size=3),
    max_leaves=10,
)


@FAST
@given(st.dictionaries(st.text("abc'\" ", max_size=5), python_values, min_size=1, max_size=4))
def test_logged_python_dict_reads_back(obj):
    text = repr(obj)
    items, warnings = read_bytes(text.encode(), ".txt")
    assert [i.data for i in items] == [obj]
    try:
        json.loads(text)
    except ValueError:
        assert warnings, "whatever strict JSON refused must be reported"


# -- hostile CSV headers: deep dotted paths, huge list indexes -----------------------------------

# a segment: a field name, a list index (small, large, or thousands of digits), or empty
segments = st.one_of(
    st.sampled_from(["a", "to", "lines", "x y", "é"]),
    st.integers(0, 12_000).map(str),
    st.integers(1, 5000).map(lambda n: "9" * n),
    st.just("0" * 50 + "7"),
    st.just(""),
)
# a column: a few segments, or one repeated hundreds of times (`a.a.a.…`)
columns = st.one_of(
    st.lists(segments, min_size=1, max_size=40).map(".".join),
    st.tuples(st.sampled_from(["a", "0", "12345", "lines.0"]), st.integers(1, 1500)).map(
        lambda sn: ".".join([sn[0]] * sn[1])),
)


def column_is_acceptable(column: str) -> bool:
    parts = column.split(".")
    return (
        0 < len(parts) <= inputs.MAX_DEPTH
        and all(parts)
        and not parts[0].isdigit()
        # compare as text first: int() of 4,301+ digits raises (Python's conversion limit)
        and all(not p.isdigit() or (len(p.lstrip("0")) <= len(str(inputs.MAX_CSV_INDEX))
                                   and int(p) <= inputs.MAX_CSV_INDEX)
                for p in parts)
    )


@FAST
@given(st.lists(columns, min_size=1, max_size=4))
def test_hostile_csv_header_gives_items_or_one_short_error(header):
    assume(all("," not in c and '"' not in c for c in header))
    text = "referenceNo," + ",".join(header) + "\n" + ",".join(["R"] + ["v"] * len(header)) + "\n"
    result = outcome(text.encode(), ".csv")
    if isinstance(result, ShipctlError):
        assert isinstance(result, InputError)
        # the column is named by its number and a shortened name, whatever its length
        assert len(result.message) < 400 + len(tempfile.gettempdir())
        assert ":1: column " in result.message or ":1: not valid CSV: field larger" in (
            result.message
        )
    else:
        # accepted: each column was within the caps, and its value sits at its path
        assert all(column_is_acceptable(c) for c in header)
        assert result[0].data["referenceNo"] == "R"
    if any(not column_is_acceptable(c) for c in header):
        assert isinstance(result, InputError)


# -- integers too long for int() ----------------------------------------------------------------

DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
SMALL = settings(FAST, max_examples=60)


@SMALL
@given(st.integers(1, DIGITS + 50) if DIGITS else st.just(1), st.sampled_from(["", "-"]),
       st.sampled_from(['{"a": %s}', '[{"a": [1, %s]}]', '{"a": 1}\n{"b": %s}\n',
                        "// c\n{'a': %s,}", "a: %s\n", "- b: [%s]\n"]),
       st.sampled_from([".json", ".jsonl", ".yaml", ".txt", "-"]))
def test_long_integer_is_read_or_named(length, sign, template, suffix):
    number = sign + "7" * length
    result = outcome((template % number).encode(), suffix)
    if isinstance(result, ShipctlError) and "number too long" in result.message:
        assert DIGITS and length > DIGITS
        assert result.message.endswith(f": number too long (more than {DIGITS} digits)")
    elif DIGITS and length > DIGITS:
        # refused for another reason (YAML text in a .json file…), never misread
        assert isinstance(result, ShipctlError)


# -- spooled streams read twice the same --------------------------------------------------------


def passes(data: bytes) -> list:
    """Two passes over ``data`` given as stdin: (data, location, field lines) or the error."""
    results = []
    with open_inputs(["-"], stdin=io.BytesIO(data), warn=lambda _message: None) as opened:
        for _ in range(2):
            try:
                results.append([(i.data, i.location, i.field_lines) for i in opened.items()])
            except ShipctlError as error:
                results.append(str(error))
    return results


@FAST
@given(st.one_of(st.binary(max_size=300), st.lists(PIECES, max_size=30).map(
    lambda pieces: "".join(pieces).encode())))
def test_spooled_stdin_reads_the_same_twice(data):
    first, second = passes(data)
    assert first == second
    try:
        once = [(i.data, i.location, i.field_lines)
                for i in read_items(["-"], stdin=io.BytesIO(data), warn=lambda _m: None)]
    except ShipctlError as error:
        once = str(error)
    assert first == once


def test_a_nul_before_bad_utf8_is_reported_the_same_spooled_or_not():
    # found by hypothesis: b"\x00\x80" once said "not UTF-8" read directly, "binary" spooled
    data = b"\x00\x80"
    first, second = passes(data)
    assert first == second == "<stdin>: binary data, not text (NUL byte at line 1)"
