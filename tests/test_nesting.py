"""Our own nesting limit: the same depth, the same message, on every Python.

CI runs this file under every supported CPython; each case is exact, so an interpreter whose
parser or recursion limit behaves differently fails here rather than on a user's machine.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_inputs import error_of, here, read, write  # noqa: F401  (here: a fixture)

from shipctl import nesting
from shipctl.ewe import client
from shipctl.nesting import MAX_DEPTH

TOO_DEEP = f"nesting too deep (more than {MAX_DEPTH} levels of objects and lists)"


def json_nested(depth: int) -> str:
    """An object whose field "a" holds lists nested until ``depth`` levels in all."""
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def yaml_block_nested(depth: int) -> str:
    """Mappings nested by indentation alone: ``depth`` levels, one per line."""
    return "".join("  " * level + "a:\n" for level in range(depth)) + "  " * depth + "1\n"


def test_the_limit_is_documented_and_far_from_any_interpreter():
    assert 10 < MAX_DEPTH < 100  # no API payload nests past ~10; Python recurses to ~1,000


@pytest.mark.parametrize(
    ("name", "deepest_ok", "too_deep", "line"),
    [
        ("one.json", json_nested(MAX_DEPTH), json_nested(MAX_DEPTH + 1), 1),
        # the level that crosses the limit is on line 4, and the message says so
        ("lines.json", '{\n\n"a":\n' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}",
         '{\n\n"a":\n' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", 4),
        ("many.jsonl", '{"a": 1}\n' + json_nested(MAX_DEPTH) + "\n",
         '{"a": 1}\n' + json_nested(MAX_DEPTH + 1) + "\n", 2),
        # lenient: a comment first, so strict JSON refuses it and the repaired text is read
        ("pasted.json", "// from the ticket\n" + json_nested(MAX_DEPTH),
         "// from the ticket\n" + json_nested(MAX_DEPTH + 1), 2),
        # json5 itself: single quotes
        ("quotes.json", "{'a': " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}",
         "{'a': " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", 1),
        ("flow.yaml", "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n",
         "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", 1),
        ("block.yaml", yaml_block_nested(MAX_DEPTH), yaml_block_nested(MAX_DEPTH + 1),
         MAX_DEPTH + 1),
        ("compact.yaml", "a:\n" + "- " * (MAX_DEPTH - 1) + "1\n",
         "a:\n" + "- " * MAX_DEPTH + "1\n", 2),
        ("stdin.txt", "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n",
         "x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", 1),
    ],
)
def test_every_reader_stops_at_the_same_depth_with_the_same_message(
    here, name, deepest_ok, too_deep, line  # noqa: F811
):
    write(name, deepest_ok)
    items, _warnings = read(name)
    assert items, "the deepest allowed input reads"
    write(name, too_deep)
    assert error_of(name).message == f"{name}:{line}: {TOO_DEEP}"


@pytest.mark.parametrize("depth", [5_000, 100_000])
@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("deep.json", lambda n: "[" * n + "]" * n),
        ("deep.jsonl", lambda n: "[" * n + "]" * n + "\n"),
        ("deep.yaml", lambda n: "[" * n + "]" * n),
        ("deep.yaml", lambda n: "a:\n" + "- " * n + "1\n"),  # libyaml would crash at 100,000
    ],
)
def test_hostile_depths_get_the_same_message(here, name, make, depth):  # noqa: F811
    write(name, make(depth))
    assert TOO_DEEP in error_of(name).message


def test_yaml_aliases_nest_what_they_stand_for(here):  # noqa: F811
    half = MAX_DEPTH // 2 + 1
    text = (
        "a: &inner " + "[" * half + "]" * half + "\n"
        "b: " + "[" * (half - 1) + "*inner" + "]" * (half - 1) + "\n"
    )
    write("alias.yaml", text)
    # b's lists hold a's: more than MAX_DEPTH levels once the alias is expanded
    assert error_of("alias.yaml").message == f"alias.yaml:1: {TOO_DEEP}"


def test_csv_columns_share_the_limit(here):  # noqa: F811
    write("ok.csv", ".".join(["a"] * MAX_DEPTH) + "\nx\n")
    assert read("ok.csv", allow_csv=True)[0]
    write("deep.csv", ".".join(["a"] * (MAX_DEPTH + 1)) + "\nx\n")
    assert f"more than {MAX_DEPTH} dotted parts" in error_of("deep.csv", allow_csv=True).message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": 1},]', "t.json:1:10: trailing comma before ']'"),
        ('{"a": 1,\n}', "t.json:1:8: trailing comma before '}'"),
        ('{"a": [1, 2,   ]}', "t.json:1:12: trailing comma before ']'"),
    ],
)
def test_json_messages_do_not_depend_on_the_python(here, text, message, monkeypatch):  # noqa: F811
    # lenient reading would forgive the comma; past its size limit the strict message shows
    from shipctl.inputs import limits

    monkeypatch.setattr(limits, "LENIENT_LIMIT", 4)
    write("t.json", text)
    assert error_of("t.json").message == message


def test_a_server_answer_nested_too_deep_is_a_failed_item_not_a_crash():
    body = ("[" * 100_000 + "]" * 100_000).encode()
    answer = client.parse_answer(200, body)
    assert not answer.ok
    assert "unexpected answer" in answer.text


@given(
    levels=st.lists(st.tuples(st.booleans(), st.text(max_size=4)), max_size=2 * MAX_DEPTH),
    noise=st.text(alphabet='[]{}"\\ab', max_size=8),
)
def test_too_deep_counts_levels_not_brackets_in_strings(levels, noise):
    """Objects and lists nested ``len(levels)`` deep, with brackets and quotes inside strings."""
    import json

    value: object = noise
    for is_object, key in reversed(levels):
        value = {key: value, "n": noise} if is_object else [noise, value]
    text = json.dumps(value)
    if len(levels) > MAX_DEPTH:
        with pytest.raises(nesting.TooDeep):
            nesting.loads(text)
    else:
        assert nesting.loads(text) == value
