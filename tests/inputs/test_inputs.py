"""The one input reader (docs/conventions.md, Input files): shapes, locations, leniency,
hostile input."""

from __future__ import annotations

import inspect
import io
import json
import os
import sys
import threading
from pathlib import Path

import pytest
from conftest import SAMPLES, run_shipctl

from shipctl.errors import ExitCode, InputError, ShipctlError, UsageError
from shipctl.inputs import Item, Location, limits, open_inputs, read_items, sources

DATA = Path(__file__).resolve().parents[1] / "data" / "inputs"


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Work in a temporary directory so file names in messages are short and exact."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, content: str | bytes) -> str:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return name


def read(*paths: str, **options) -> tuple[list[Item], list[str]]:
    warnings: list[str] = []
    items = list(read_items(list(paths), warn=warnings.append, **options))
    return items, warnings


def error_of(*paths: str, **options) -> ShipctlError:
    with pytest.raises(ShipctlError) as caught:
        read(*paths, **options)
    return caught.value


def where(items: list[Item]) -> list[str]:
    return [str(item.location) for item in items]


# -- shapes -------------------------------------------------------------------------------------


def test_one_object_keeps_its_location_and_field_lines(here):
    write("one.json", '{\n  "to": {\n    "name": "Bob",\n    "phone": "12"\n  },\n'
          '  "lines": [\n    "a",\n    "b"\n  ]\n}\n')
    items, warnings = read("one.json")
    assert [i.data for i in items] == [
        {"to": {"name": "Bob", "phone": "12"}, "lines": ["a", "b"]}
    ]
    item = items[0]
    assert item.location == Location("one.json", 1, 1)
    assert item.field_lines == {
        ("to",): 2, ("to", "name"): 3, ("to", "phone"): 4,
        ("lines",): 6, ("lines", 0): 7, ("lines", 1): 8,
    }
    assert item.where(("to", "phone")) == "one.json:4 item 1 to.phone"
    assert item.where(("to", "email")) == "one.json:2 item 1 to.email"  # nearest known parent
    assert warnings == []


def test_list_of_objects_gives_one_item_per_element_at_its_own_line(here):
    write("list.json", '[\n  {"a": 1},\n  {\n    "b": {"c": 2}\n  },\n  {}\n]\n')
    items, warnings = read("list.json")
    assert [i.data for i in items] == [{"a": 1}, {"b": {"c": 2}}, {}]
    assert where(items) == ["list.json:2 item 1", "list.json:3 item 2", "list.json:6 item 3"]
    assert items[1].field_lines == {("b",): 4, ("b", "c"): 4}
    assert items[1].where(("b", "c")) == "list.json:4 item 2 b.c"
    assert warnings == []


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json"])
def test_json_lines_each_line_an_item(here, suffix):
    write(f"bulk{suffix}", '{"n": 1}\n\n{"n": 2, "to": {"phone": "x"}}\r\n  \n{"n": 3}')
    items, warnings = read(f"bulk{suffix}")
    assert [i.data["n"] for i in items] == [1, 2, 3]
    assert where(items) == [f"bulk{suffix}:1 item 1", f"bulk{suffix}:3 item 2",
                            f"bulk{suffix}:5 item 3"]
    assert items[1].where(("to", "phone")) == f"bulk{suffix}:3 item 2 to.phone"
    assert warnings == []


def test_json_lines_line_holding_a_list_gives_each_element(here):
    write("b.jsonl", '{"n": 1}\n[{"n": 2}, {"n": 3}]\n')
    items, _ = read("b.jsonl")
    assert [(i.data["n"], i.location.line, i.location.index) for i in items] == [
        (1, 1, 1), (2, 2, 2), (3, 2, 3)
    ]


def test_one_line_document_is_read_once(here):
    write("one.json", '[{"a": 1}, {"a": 2}]')
    items, _ = read("one.json")
    assert where(items) == ["one.json:1 item 1", "one.json:1 item 2"]


def test_yaml_document_with_field_lines(here):
    write("one.yaml", "# a comment\nreferenceNo: R1\nto:\n  name: Bob\n  lines:\n"
          "    - 6 Chifley Drive\n    - Level 2\n  phone: '0284886811'\n")
    items, warnings = read("one.yaml")
    assert items[0].data == {
        "referenceNo": "R1",
        "to": {"name": "Bob", "lines": ["6 Chifley Drive", "Level 2"], "phone": "0284886811"},
    }
    assert items[0].location == Location("one.yaml", 2, 1)
    assert items[0].where(("to", "phone")) == "one.yaml:8 item 1 to.phone"
    assert items[0].where(("to", "lines", 1)) == "one.yaml:7 item 1 to.lines.1"
    assert warnings == []


def test_yaml_several_documents_each_an_object_or_a_list(here):
    write("multi.yml", "---\na: 1\n---\n- b: 2\n- b: 3\n---\n---\nc: 4\n...\n")
    items, _ = read("multi.yml")
    assert [i.data for i in items] == [{"a": 1}, {"b": 2}, {"b": 3}, {"c": 4}]
    assert where(items) == ["multi.yml:2 item 1", "multi.yml:4 item 2", "multi.yml:5 item 3",
                            "multi.yml:8 item 4"]


def test_yaml_scalars_follow_json_not_yaml_1_1(here):
    # YAML 1.1 would turn these into 448, False, 80 and a date: they are postcodes, states, times
    write("s.yaml", "postcode: 0700\nstate: NO\nslot: 1:20\nday: 2024-05-09\nflag: yes\n"
          "ok: true\nnothing: null\nqty: 12\nvalue: 10.99\nweight: -1.5e3\nneg: -7\n")
    items, _ = read("s.yaml")
    assert items[0].data == {
        "postcode": "0700", "state": "NO", "slot": "1:20", "day": "2024-05-09", "flag": "yes",
        "ok": True, "nothing": None, "qty": 12, "value": 10.99, "weight": -1500.0, "neg": -7,
    }


def test_yaml_and_json_recognised_on_stdin_and_in_other_files(here):
    items, _ = read("-", stdin=io.BytesIO(b"a: 1\nb:\n  - x\n"))
    assert items[0].data == {"a": 1, "b": ["x"]}
    assert items[0].location == Location("<stdin>", 1, 1)
    assert items[0].where(("b", 0)) == "<stdin>:3 item 1 b.0"
    write("pasted.txt", '[\n{"a": 1}\n]\n')
    items, _ = read("pasted.txt")
    assert where(items) == ["pasted.txt:2 item 1"]


def test_read_items_is_a_generator_that_reads_lazily(here):
    gen = read_items(["missing.json"])
    assert inspect.isgenerator(gen)
    with pytest.raises(InputError):
        next(gen)


class OneLineThenFail(io.RawIOBase):
    """A stream that serves its first line, then fails: proves a reader streams."""

    def __init__(self, first: bytes) -> None:
        self.pending = first

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.pending:
            raise AssertionError("read past the first line before yielding its item")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def test_json_lines_are_streamed(here):
    stream = io.BufferedReader(OneLineThenFail(b'{"n": 1}\n'), buffer_size=4)
    items = read_items(["-"], stdin=stream)
    assert next(items).data == {"n": 1}


def test_csv_is_streamed(here, monkeypatch):
    write("s.csv", "")
    monkeypatch.setattr(
        sources, "open",
        lambda *a, **k: io.BufferedReader(OneLineThenFail(b"a\n1\n"), buffer_size=4),
        raising=False,
    )
    items = read_items(["s.csv"], allow_csv=True)
    assert next(items).data == {"a": "1"}


# -- CSV ----------------------------------------------------------------------------------------


def test_csv_dotted_columns_make_nested_objects_and_lists(here):
    write("m.csv",
          "referenceNo,to.name,to.lines.0,to.lines.1,merchandise.0.sku,merchandise.0.quantity,"
          "merchandise.1.sku\r\n"
          'R1,Bob,"6 Chifley\r\nDrive",,A1,2,B1\r\n'
          ",,,,,,\r\n"
          "\r\n"
          "R2,Al,x,y,,,B2\r\n")
    items, warnings = read("m.csv", allow_csv=True)
    assert [i.data for i in items] == [
        {"referenceNo": "R1", "to": {"name": "Bob", "lines": ["6 Chifley\r\nDrive"]},
         "merchandise": [{"sku": "A1", "quantity": "2"}, {"sku": "B1"}]},
        {"referenceNo": "R2", "to": {"name": "Al", "lines": ["x", "y"]},
         "merchandise": [{"sku": "B2"}]},
    ]
    # each row's own line: the quoted cell spans lines 2-3; lines 4 and 5 are empty rows
    assert where(items) == ["m.csv:2 item 1", "m.csv:6 item 2"]
    assert warnings == []


def test_csv_with_bom_and_short_rows(here):
    write("b.csv", "\ufeffa,b.c\n1\n")
    items, _ = read("b.csv", allow_csv=True)
    assert items[0].data == {"a": "1"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("to,to.name", 'c.csv:1: column 2 "to.name": conflicts with column 1 "to"'),
        ("to.name,to", 'c.csv:1: column 2 "to": conflicts with column 1 "to.name"'),
        ("to.0,to.name",
         'c.csv:1: column 2 "to.name": conflicts with column 1 "to.0" (to cannot be both a list'
         " and an object)"),
        ("a,b,a", 'c.csv:1: column 3 "a": appears twice (also column 1 "a")'),
        ("to.lines.1,to.lines.01",
         'c.csv:1: column 2 "to.lines.01": same field as column 1 "to.lines.1"'),
        ("a,,b", "c.csv:1: column 2 has no name"),
        ("a..b", 'c.csv:1: column 1 "a..b": not a dotted name like to.name'),
        ("a,b.", 'c.csv:1: column 2 "b.": not a dotted name like to.name'),
        ("0.a", 'c.csv:1: column 1 "0.a": must start with a field name'),
    ],
)
def test_csv_inconsistent_columns_name_the_column(here, header, message):
    write("c.csv", f"{header}\n1,2,3\n")
    error = error_of("c.csv", allow_csv=True)
    assert isinstance(error, InputError)
    assert error.message == message


def test_csv_row_with_too_many_cells(here):
    write("c.csv", "a,b\n1,2\n1,2,3\n")
    assert error_of("c.csv", allow_csv=True).message == (
        "c.csv:3: 3 cells but the header has 2 columns"
    )


def test_csv_column_depth_and_list_index_are_capped(here):
    deepest = ".".join(["a"] * 32)
    write("ok.csv", f"{deepest},to.lines.9999,to.lines.0003\nx,last,first\n")
    items, _ = read("ok.csv", allow_csv=True)
    data = items[0].data
    for _ in range(31):
        data = data["a"]
    assert data == {"a": "x"}
    # an index only orders the cells: 3 before 9999, and no list of 10,000 entries
    assert items[0].data["to"] == {"lines": ["first", "last"]}


@pytest.mark.parametrize(
    ("column", "message"),
    [
        # 1,200 segments used to recurse until RecursionError (an internal error, exit 1)
        (".".join(["a"] * 1200),
         'c.csv:1: column 2 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…": more than 32 dotted'
         " parts"),
        (".".join(["a"] * 33),
         'c.csv:1: column 2 "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a…": more than 32 dotted'
         " parts"),
        # 5,000 digits used to reach int(): ValueError "Exceeds the limit (4300 digits)"
        ("to.lines." + "9" * 5000,
         'c.csv:1: column 2 "to.lines.999999999999999999999999999999…": list index'
         " 999999999999999999999999999999999999999… is larger than 9999"),
        ("to.lines.99999999",
         'c.csv:1: column 2 "to.lines.99999999": list index 99999999 is larger than 9999'),
        ("to.lines.10000", 'c.csv:1: column 2 "to.lines.10000": list index 10000 is larger'
         " than 9999"),
        ("to.lines.0000000000000007.x", None),  # leading zeros: index 7, accepted
    ],
)
def test_hostile_csv_header_is_a_clean_error(here, column, message):
    write("c.csv", f"referenceNo,{column}\nR1,x\n")
    if message is None:
        items, _ = read("c.csv", allow_csv=True)
        assert items[0].data == {"referenceNo": "R1", "to": {"lines": [{"x": "x"}]}}
        return
    error = error_of("c.csv", allow_csv=True)
    assert isinstance(error, InputError)
    assert error.exit_code == ExitCode.USAGE
    assert error.message == message


def test_hostile_csv_header_through_the_cli(here, cli):
    write("c.csv", "referenceNo," + ".".join(["a"] * 1000) + "\nR1,x\n")
    result = cli("ewe", "validate", "c.csv")
    assert result.code == 2
    assert result.err.startswith('error: c.csv:1: column 2 "a.a.a.')
    assert "more than 32 dotted parts" in result.err
    assert "internal error" not in result.err


def test_csv_named_explicitly_where_not_allowed_is_a_usage_error(here):
    write("x.csv", "a\n1\n")
    error = error_of("x.csv")
    assert isinstance(error, UsageError)
    assert error.message == "x.csv: this command does not take CSV input"


# -- directories ----------------------------------------------------------------------------------


def test_directory_reads_payload_files_sorted_by_name(here):
    write("d/b.yaml", "n: 2\n")
    write("d/a.json", '{"n": 1}')
    write("d/c.jsonl", '{"n": 3}\n')
    write("d/notes.txt", "not a payload")
    write("d/.hidden.json", '{"n": 99}')
    write("d/sub/z.json", '{"n": 4}')
    items, _ = read("d")
    assert [i.data["n"] for i in items] == [1, 2, 3]
    assert [i.location.file for i in items] == [
        os.path.join("d", "a.json"), os.path.join("d", "b.yaml"), os.path.join("d", "c.jsonl")
    ]
    items, _ = read("d", recursive=True)
    assert [i.data["n"] for i in items] == [1, 2, 3, 4]
    assert items[-1].location.file == os.path.join("d", "sub", "z.json")


def test_recursive_directory_with_a_symlink_loop(here):
    write("d/a.json", '{"n": 1}')
    write("d/sub/b.json", '{"n": 2}')
    os.symlink("..", "d/sub/up")
    items, _ = read("d", recursive=True)
    assert [i.location.file for i in items] == [
        os.path.join("d", "a.json"), os.path.join("d", "sub", "b.json")
    ]


def test_directory_skips_csv_with_one_warning_unless_allowed(here):
    write("d/a.json", '{"n": 1}')
    write("d/b.csv", "n\n2\n")
    write("d/c.csv", "n\n3\n")
    items, warnings = read("d")
    assert [i.data for i in items] == [{"n": 1}]
    assert warnings == ["d: skipped 2 .csv files (this command does not take CSV)"]
    items, warnings = read("d", allow_csv=True)
    assert [i.data for i in items] == [{"n": 1}, {"n": "2"}, {"n": "3"}]
    assert warnings == []


def test_directory_without_payload_files(here):
    write("d/readme.txt", "hello")
    write("d/sub/a.json", "{}")
    error = error_of("d")
    assert isinstance(error, InputError)
    assert error.message == (
        "d: no payload files (.json, .jsonl, .ndjson, .yaml, .yml) in this directory"
        " (add -R to read subdirectories)"
    )


# -- stdin ----------------------------------------------------------------------------------------


class FakeTTY(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_no_argument_reads_stdin_when_it_is_not_a_terminal(here):
    items, _ = read(stdin=io.BytesIO(b'{"a": 1}\n{"a": 2}\n'))
    assert where(items) == ["<stdin>:1 item 1", "<stdin>:2 item 2"]


def test_no_argument_and_a_terminal_is_a_usage_error(here):
    error = error_of(stdin=FakeTTY(b""))
    assert isinstance(error, UsageError)
    assert error.message == "no input: give a file, a directory, or - for stdin"


def test_stdin_defaults_to_sys_stdin_buffer(here, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"- a: 1\n"), encoding="utf-8"))
    items, _ = read("-")
    assert where(items) == ["<stdin>:1 item 1"]


def test_stdin_twice_is_a_usage_error(here):
    error = error_of("-", "-", stdin=io.BytesIO(b"{}"))
    assert isinstance(error, UsageError)


class CountingStream(io.BytesIO):
    reads = 0

    def read(self, size=-1):
        self.reads += 1
        return super().read(size)


def test_open_inputs_can_be_read_twice_and_warns_once(here):
    write("a.json", '{"a": 1,}')
    stdin = CountingStream(b"{'b': True}\n")
    warnings: list[str] = []
    with open_inputs(["a.json", "-"], stdin=stdin, warn=warnings.append) as opened:
        first = [(i.data, str(i.location)) for i in opened.items()]
        reads = stdin.reads
        second = [(i.data, str(i.location)) for i in opened.items()]
    assert first == second == [({"a": 1}, "a.json:1 item 1"), ({"b": True}, "<stdin>:1 item 1")]
    assert stdin.reads == reads  # the second pass read the spooled copy, not stdin
    assert warnings == [
        "a.json: parsed leniently: trailing comma at line 1",
        "<stdin>: parsed leniently: single quotes at line 1",
        "<stdin>: parsed leniently: Python literal True at line 1",
    ]


def test_open_inputs_reports_bad_arguments_at_once(here):
    with pytest.raises(InputError) as caught:
        open_inputs(["nope.json"])
    assert caught.value.message == "nope.json: no such file or directory"
    assert caught.value.exit_code == ExitCode.USAGE


# -- paths that can be read only once: FIFOs, <(…)'s /dev/fd/N, /dev/stdin -----------------------

LENIENT_LINES = b'{"referenceNo": "R1"}\n{\'referenceNo\': \'R2\'}\n{"referenceNo": "R3",}\n'


def two_passes(paths: list[str]) -> tuple[list, list, list[str]]:
    """Iterate ``open_inputs(paths).items()`` twice: (first, second, warnings)."""
    warnings: list[str] = []

    def seen(item: Item) -> tuple:
        return item.data, str(item.location), item.field_lines

    with open_inputs(paths, warn=warnings.append) as opened:
        first = [seen(i) for i in opened.items()]
        second = [seen(i) for i in opened.items()]
    return first, second, warnings


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@needs_fifo
@pytest.mark.parametrize("name", ["pipe", "pipe.jsonl"])
def test_fifo_is_spooled_and_read_twice(here, name):
    os.mkfifo(name)
    writes = []

    def writer():
        with open(name, "wb") as fifo:  # blocks until the reader opens it: exactly once
            fifo.write(LENIENT_LINES)
        writes.append(1)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    # were the FIFO opened again for the second pass, that open would wait for a writer for
    # ever: this one comes late and writes nothing, so the test fails instead of hanging
    rescue = threading.Timer(10, lambda: open(name, "wb").close())
    rescue.start()
    try:
        first, second, warnings = two_passes([name])
    finally:
        rescue.cancel()
    thread.join(10)
    assert writes == [1]
    assert first == second
    assert [(data, where) for data, where, _ in first] == [
        ({"referenceNo": "R1"}, f"{name}:1 item 1"),
        ({"referenceNo": "R2"}, f"{name}:2 item 2"),
        ({"referenceNo": "R3"}, f"{name}:3 item 3"),
    ]
    assert warnings == [  # the first pass only
        f"{name}: parsed leniently: single quotes at line 2",
        f"{name}: parsed leniently: trailing comma at line 3",
    ]


def pipe_with(data: bytes) -> int:
    """The read end of a pipe holding ``data`` (its writer already closed), like <(cat f)."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)  # small: fits in the pipe's buffer
    os.close(write_end)
    return read_end


@pytest.mark.skipif(not os.path.exists("/dev/fd/0"), reason="no /dev/fd on this system")
def test_process_substitution_dev_fd_is_read_twice_under_its_own_name(here):
    fd = pipe_with(b"- referenceNo: R1\n  to:\n    name: Bob\n- referenceNo: R2\n")
    name = f"/dev/fd/{fd}"
    try:
        first, second, warnings = two_passes([name, name])  # the same path twice: read twice
    finally:
        os.close(fd)
    assert first == second
    assert [where for _, where, _ in first] == [
        f"{name}:1 item 1", f"{name}:4 item 2", f"{name}:1 item 1", f"{name}:4 item 2",
    ]
    assert first[0][0] == {"referenceNo": "R1", "to": {"name": "Bob"}}
    assert first[0][2][("to", "name")] == 3
    assert warnings == []


@pytest.mark.skipif(not os.path.exists("/dev/stdin"), reason="no /dev/stdin on this system")
def test_dev_stdin_on_a_pipe_is_read_twice(here):
    fd = pipe_with(LENIENT_LINES)
    saved = os.dup(0)
    os.dup2(fd, 0)  # this process's stdin is now the pipe, as in `cat bulk.jsonl | shipctl …`
    try:
        first, second, _ = two_passes(["/dev/stdin"])
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(fd)
    assert first == second
    assert [where for _, where, _ in first] == [
        "/dev/stdin:1 item 1", "/dev/stdin:2 item 2", "/dev/stdin:3 item 3",
    ]


BULK_JSONL = SAMPLES / "ewe" / "bulk.jsonl"


@pytest.mark.skipif(not os.path.exists("/dev/stdin"), reason="no /dev/stdin on this system")
def test_cli_reads_dev_stdin_fed_by_a_pipe(here):
    data = BULK_JSONL.read_bytes()
    references = [json.loads(line)["referenceNo"] for line in data.decode().splitlines()]
    result = run_shipctl("ewe", "validate", "/dev/stdin", input=data)
    assert result.code == 0, result.err
    assert f"/dev/stdin:{len(references)} item {len(references)}" in result.out
    # ewe modify reads its input twice (validate everything, then send): the bug was exit 2
    # "error: /dev/stdin: empty input" on the second pass
    result = run_shipctl("--sandbox", "ewe", "modify", "/dev/stdin", "--dry-run", input=data)
    assert result.code == 0, result.err
    assert "empty input" not in result.err
    for reference in references:
        assert reference in result.out


def test_spooled_stream_has_a_size_cap(here, monkeypatch):
    class Endless(io.RawIOBase):  # `yes '{}' | shipctl …`: never an end
        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = b'{"a": 1}\n' * (len(buffer) // 9)
            buffer[: len(chunk)] = chunk
            return len(chunk)

    monkeypatch.setattr(limits, "MAX_SPOOL", 1 << 20)
    with open_inputs(["-"], stdin=io.BufferedReader(Endless())) as opened:
        with pytest.raises(InputError) as caught:
            next(opened.items())
    assert caught.value.message == "<stdin>: larger than 1 MiB"
    assert caught.value.hint == (
        "a stream is copied to a temporary file to be read twice; save it to a file and give"
        " its name"
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")
def test_endless_binary_stream_is_not_spooled_to_the_disk(here):
    class Zero(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    for path, stdin in (("/dev/zero", None), ("-", io.BufferedReader(Zero()))):
        with open_inputs([path], stdin=stdin) as opened:
            with pytest.raises(InputError) as caught:
                next(opened.items())
        shown = "<stdin>" if path == "-" else path
        assert caught.value.message == f"{shown}: binary data, not text (NUL byte at line 1)"


def test_nul_after_some_lines_is_reported_at_its_line_when_spooled(here):
    data = b'{"a": 1}\n{"a": 2}\n{"a": \x00}\n' + b"more\n" * 100_000
    with open_inputs(["-"], stdin=io.BytesIO(data)) as opened:
        items = opened.items()
        assert next(items).data == {"a": 1}
        assert next(items).data == {"a": 2}
        with pytest.raises(InputError) as caught:
            next(items)
    assert caught.value.message == "<stdin>: binary data, not text (NUL byte at line 3)"


def test_default_warning_goes_to_stderr(here, capsys):
    write("a.json", '{"a": 1,}')
    assert [i.data for i in read_items(["a.json"])] == [{"a": 1}]
    err = capsys.readouterr().err
    assert err == "warning: a.json: parsed leniently: trailing comma at line 1\n"


# -- encodings ------------------------------------------------------------------------------------


def test_utf8_bom_and_crlf(here):
    write("w.json", b'\xef\xbb\xbf{\r\n  "a": "caf\xc3\xa9",\r\n  "b": 2\r\n}\r\n')
    items, _ = read("w.json")
    assert items[0].data == {"a": "café", "b": 2}
    assert items[0].field_lines == {("a",): 2, ("b",): 3}
    write("w.yaml", b"\xef\xbb\xbfa: 1\r\nb: x\r\n")
    items, _ = read("w.yaml")
    assert items[0].data == {"a": 1, "b": "x"}
    write("w.jsonl", b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\r\n')
    items, _ = read("w.jsonl")
    assert [i.data for i in items] == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("name", ["l.json", "l.jsonl", "l.yaml", "l.txt", "l.csv"])
def test_latin1_is_not_utf8(here, name):
    write(name, b'{"a": 1}\n{"b": "caf\xe9"}\n')
    error = error_of(name, allow_csv=True)
    assert isinstance(error, InputError)
    assert error.message == f"{name}: not UTF-8 text (byte 0xe9 at line 2)"


def test_utf16_gets_a_hint(here):
    write("u.json", '{"a": 1}'.encode("utf-16"))
    error = error_of("u.json")
    assert str(error) == "u.json: UTF-16 text, not UTF-8\nhint: save the file as UTF-8"


@pytest.mark.parametrize("name", ["g.json", "g.jsonl", "g.yaml", "g.bin", "g.csv"])
def test_binary_garbage_is_one_clean_error(here, name):
    write(name, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    error = error_of(name, allow_csv=True)
    assert isinstance(error, InputError)
    assert error.message in (
        f"{name}: not UTF-8 text (byte 0x89 at line 1)",
        f"{name}: binary data, not text (NUL byte at line 2)",
    )


def test_nul_bytes_in_utf8_text(here):
    write("n.json", b'{"a":\n 1}\x00\x00')
    assert error_of("n.json").message == "n.json: binary data, not text (NUL byte at line 2)"


# -- lenient reading ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "data", "warnings"),
    [
        ('{\n"a": 1,\n"b": [1, 2,],\n"c": 3,\n}', {"a": 1, "b": [1, 2], "c": 3},
         ["trailing comma at lines 3 and 4"]),
        ('// from the ticket\n{"a": 1, /* old: 2 */\n"b": 3}', {"a": 1, "b": 3},
         ["comment at lines 1 and 2"]),
        ("{\n'a': 'x',\n\"b\": 'y'}", {"a": "x", "b": "y"}, ["single quotes at lines 2 and 3"]),
        ("{a: 1,\n b_c: 2}", {"a": 1, "b_c": 2}, ["unquoted key at lines 1 and 2"]),
        ("{\n\u201ca\u201d: \u201cb\u201d,\n\"c\": \u2018d\u2019}", {"a": "b", "c": "d"},
         ["typographic quotes at lines 2 and 3"]),
        ('{"a": True,\n"b": [False, None],\n"c": "True None"}',
         {"a": True, "b": [False, None], "c": "True None"},
         ["Python literal True at line 1", "Python literal False at line 2",
          "Python literal None at line 2"]),
        ('{"a": 0x1F}', {"a": 31}, ["JSON5 value 0x1F at line 1"]),
    ],
)
def test_each_forgiveness_is_named_with_its_line(here, text, data, warnings):
    write("p.txt", text)
    items, got = read("p.txt")
    assert [i.data for i in items] == [data]
    assert got == [f"p.txt: parsed leniently: {w}" for w in warnings]


def test_typographic_quotes_inside_a_string_are_kept(here):
    write("q.json", '{"a": "He said \u201chi\u201d", "b": 1,}')
    items, warnings = read("q.json")
    assert items[0].data == {"a": "He said \u201chi\u201d", "b": 1}
    assert warnings == ["q.json: parsed leniently: trailing comma at line 1"]


def test_python_dict_from_a_log(here):
    write("log.txt", "{'referenceNo': 'R1', 'to': {'name': \"O'Brien\", 'lines': ['1 Main St'],"
          " 'email': None}, 'active': True}\n")
    items, warnings = read("log.txt")
    assert items[0].data == {"referenceNo": "R1", "to": {"name": "O'Brien",
                             "lines": ["1 Main St"], "email": None}, "active": True}
    assert warnings == [
        "log.txt: parsed leniently: single quotes at line 1",
        "log.txt: parsed leniently: Python literal None at line 1",
        "log.txt: parsed leniently: Python literal True at line 1",
    ]


def test_objects_pasted_back_to_back(here):
    write("b2b.json", '{\n"a": 1\n}\n{\n"a": 2\n},\n{"a": 3}')
    items, warnings = read("b2b.json")
    assert [i.data for i in items] == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert where(items) == ["b2b.json:1 item 1", "b2b.json:4 item 2", "b2b.json:7 item 3"]
    assert items[1].where(("a",)) == "b2b.json:5 item 2 a"
    assert warnings == ["b2b.json: parsed leniently: 3 objects pasted back to back at lines 1,"
                        " 4 and 7"]


def test_object_embedded_in_prose(here):
    write("ticket.txt", "Hi team,\nthe payload below fails (see [1]):\n\n{\n  \"to\": {\n"
          "    \"phone\": \"12\",\n  }\n}\n\nThanks, Bob\n[1] https://example.invalid/x\n")
    items, warnings = read("ticket.txt")
    assert items[0].data == {"to": {"phone": "12"}}
    assert items[0].where(("to", "phone")) == "ticket.txt:6 item 1 to.phone"
    assert warnings == [
        "ticket.txt: parsed leniently: ignored text before line 4",
        "ticket.txt: parsed leniently: trailing comma at line 6",
        "ticket.txt: parsed leniently: ignored text after line 8",
    ]


def test_lenient_json_lines_report_each_kind_once(here):
    write("l.jsonl", '{"n": 1}\n{"n": 2,}\n// a note\n{"n": 3,}\n{"n": 4,}\n')
    items, warnings = read("l.jsonl")
    assert [(i.data["n"], i.location.line) for i in items] == [(1, 1), (2, 2), (3, 4), (4, 5)]
    assert warnings == [
        "l.jsonl: parsed leniently: trailing comma at line 2",
        "l.jsonl: parsed leniently: comment at line 3",
        "l.jsonl: parsed leniently: trailing comma on 2 more lines",
    ]


def test_fynd_response_written_as_a_javascript_object(here):
    # the Fynd document, "Response" of example 2: unquoted keys and single quotes
    write("resp.txt", "{\nstatus: 200,\nfinal_state: {\nbag_invoiced: 'dp_assigned',\n"
          "shipment_id: '12345634657861443427'\n},\nidentifier: '12345634657861443427'\n}\n")
    items, warnings = read("resp.txt")
    assert items[0].data == {
        "status": 200,
        "final_state": {"bag_invoiced": "dp_assigned", "shipment_id": "12345634657861443427"},
        "identifier": "12345634657861443427",
    }
    assert items[0].where(("final_state", "shipment_id")) == (
        "resp.txt:5 item 1 final_state.shipment_id"
    )
    assert warnings == [
        "resp.txt: parsed leniently: unquoted key at lines 2, 3, 4, 5 and 7",
        "resp.txt: parsed leniently: single quotes at lines 4, 5 and 7",
    ]


def test_strict_input_is_never_warned_about(here):
    write("s.json", '{"a": "// not a comment, True, \u201cquoted\u201d", "b": [1, 2]}')
    items, warnings = read("s.json")
    assert items[0].data["a"] == "// not a comment, True, \u201cquoted\u201d"
    assert warnings == []


# -- the APIs' documents as published (tests/data/inputs: the Fynd "Example Request Payload of
# Update Shipment Status API" page whole, and excerpts of it and of EWE's modifyShipment
# document, unchanged: their mistakes are what people paste) ------------------------------------


@pytest.fixture
def api_docs(monkeypatch):
    monkeypatch.chdir(DATA)


def test_fynd_full_confirmation_with_comment_and_trailing_commas(api_docs):
    items, warnings = read("fynd_full_confirmation.txt")
    assert items[0].data == {"statuses": [{
        "shipments": [{"identifier": "12345383008471878029", "products": []}],
        "status": "bag_confirmed",
    }]}
    assert items[0].where(("statuses", 0, "status")) == (
        "fynd_full_confirmation.txt:10 item 1 statuses.0.status"
    )
    assert warnings == [
        "fynd_full_confirmation.txt: parsed leniently: trailing comma at lines 10 and 12",
        "fynd_full_confirmation.txt: parsed leniently: comment at line 10",
    ]


def test_fynd_full_cancellation(api_docs):
    items, warnings = read("fynd_full_cancellation.txt")
    reasons = items[0].data["statuses"][0]["shipments"][0]["reasons"]
    assert reasons["products"][0]["data"] == {"reason_id": 1,
                                              "reason_text": "Product Not Available"}
    assert warnings == [
        "fynd_full_cancellation.txt: parsed leniently: comment at line 13",
        "fynd_full_cancellation.txt: parsed leniently: trailing comma at lines 18, 22 and 27",
    ]


def test_fynd_example_4_missing_comma_points_at_the_line(api_docs):
    # the document forgets the comma after the "shipments" list (line 44) before "status" (line 45)
    error = error_of("fynd_partial_confirmation.txt")
    assert isinstance(error, InputError)
    assert error.message == 'fynd_partial_confirmation.txt:45:1: unexpected string "status"'
    assert error.hint == (
        "a comma is missing between two values: add ',' at the end of line 44"
    )
    assert error.exit_code == ExitCode.USAGE


def test_ewe_request_example_with_its_heading(api_docs):
    items, warnings = read("ewe_request_example.txt")
    data = items[0].data
    assert data["to"]["postcode"] == "3194"
    assert [m["value"] for m in data["merchandise"]] == [10.99, 20.99]
    assert items[0].location == Location("ewe_request_example.txt", 3, 1)
    assert items[0].where(("to", "phone")) == "ewe_request_example.txt:22 item 1 to.phone"
    assert items[0].where(("merchandise", 1, "value")) == (
        "ewe_request_example.txt:50 item 1 merchandise.1.value"
    )
    assert warnings == [
        "ewe_request_example.txt: parsed leniently: ignored text before line 3",
        "ewe_request_example.txt: parsed leniently: trailing comma at lines 29, 40 and 50",
    ]


def test_the_whole_fynd_document_stops_at_example_4(api_docs):
    path = "fynd_update_shipment_status_examples.txt"
    error = error_of(path)
    assert error.message == f'{path}:170:1: unexpected string "status"'
    assert "end of line 169" in error.hint


# -- what it still cannot read --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ('{\n"a": 1\n"b": 2\n}', 'e.json:3:1: unexpected string "b"',
         "a comma is missing between two values: add ',' at the end of line 2"),
        ('[\n{"a": 1}\n{"a": 2}\n]', "e.json:3:1: unexpected '{'",
         "a comma is missing between two values: add ',' at the end of line 2"),
        ('{\n"a" 1\n}', "e.json:2:5: unexpected '1'", "a ':' is missing after the key on line 2"),
        ('{\n"a": [1,\n2\n', "e.json:3:2: unexpected end of input",
         "the '[' opened at line 2 is never closed"),
        ('{"a": "abc\n}', "e.json:1:7: unterminated string",
         "the closing quote is missing (a string cannot span lines)"),
        ('{"a": 1, "b": @}', "e.json:1:15: unexpected character '@'", None),
        ("{\n'a': 'it''s'\n}", "e.json:2:10: unexpected string 's'",
         "a comma is missing between two values: add ',' at the end of line 2"),
    ],
)
def test_unreadable_json_names_line_and_column(here, text, message, hint):
    write("e.json", text)
    error = error_of("e.json")
    assert isinstance(error, InputError)
    assert (error.message, error.hint) == (message, hint)


def test_not_json_at_all(here):
    write("e.json", "hello world")
    assert error_of("e.json").message == "e.json:1:1: expecting value"


@pytest.mark.parametrize(
    ("text", "where", "problem", "hint"),
    [
        ("to:\n  name: x\n  phone: a: b\n", "y.yaml:3:11", "mapping values are not allowed",
         "quote a value that contains ': ', or check the indentation"),
        ('a: "unclosed\n', "y.yaml:2:1", "unexpected end of stream", None),
        ("a: !!python/object:os.system x\n", "y.yaml:1:4",
         "'tag:yaml.org,2002:python/object:os.system'", None),
    ],
)
def test_unreadable_yaml_uses_the_problem_mark(here, text, where, problem, hint):
    write("y.yaml", text)
    error = error_of("y.yaml")
    assert isinstance(error, InputError)
    # where is ours, exactly; the words after it are PyYAML's, which a release may reword
    assert error.message.startswith(f"{where}: ") and problem in error.message, error.message
    assert "\n" not in error.message and "Traceback" not in error.message
    assert error.hint == hint


def test_yaml_tab_indentation_gets_a_hint(here):
    write("y.yaml", "to:\n\tname: x\n")
    error = error_of("y.yaml")
    # libyaml leaves the character out of its message, the pure-Python scanner names it
    assert error.message in ("y.yaml:2:1: found character that cannot start any token",
                             "y.yaml:2:1: found character '\\t' that cannot start any token")
    assert error.hint == "YAML indentation must use spaces, not tabs"


def test_json_with_comments_in_a_yaml_file_is_read_as_json(here):
    write("j.yaml", '{\n"a": "x", // note\n"b": 2,\n}\n')  # YAML refuses the comment
    items, warnings = read("j.yaml")
    assert items[0].data == {"a": "x", "b": 2}
    assert warnings == ["j.yaml: parsed leniently: comment at line 2",
                        "j.yaml: parsed leniently: trailing comma at line 3"]


# -- hostile input --------------------------------------------------------------------------------


def test_missing_file(here):
    error = error_of("nope.json")
    assert isinstance(error, InputError)
    assert error.message == "nope.json: no such file or directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_chmod(here):
    write("secret.json", "{}")
    os.chmod("secret.json", 0)
    assert error_of("secret.json").message == "secret.json: permission denied"


def test_unreadable_file(here, monkeypatch):
    write("secret.json", "{}")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(sources, "open", refuse, raising=False)
    error = error_of("secret.json")
    assert isinstance(error, InputError)
    assert error.message == "secret.json: permission denied"


@pytest.mark.parametrize("content", ["", "  \n\n\t\n", "\ufeff"])
@pytest.mark.parametrize("name", ["e.json", "e.jsonl", "e.yaml", "e.txt", "e.csv"])
def test_empty_input(here, content, name):
    write(name, content)
    assert error_of(name, allow_csv=True).message == f"{name}: empty input"


def test_empty_stdin(here):
    assert error_of("-", stdin=io.BytesIO(b"")).message == "<stdin>: empty input"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("42", "s.json:1: expected an object or a list of objects, found a whole number"),
        ('\n\n"x"', "s.json:3: expected an object or a list of objects, found text"),
        ("null", "s.json:1: expected an object or a list of objects, found null"),
        ('[{"a": 1},\n 2]', "s.json:2 item 2: expected an object, found a whole number"),
        ('[[{"a": 1}]]', "s.json:1 item 1: expected an object, found a list"),
    ],
)
def test_values_that_are_not_objects(here, text, message):
    write("s.json", text)
    assert error_of("s.json").message == message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * 5000 + "]" * 5000),
        ("deep.json", '{"a":' * 5000 + "1" + "}" * 5000),
        ("deep.json", "[[1,]," + "[" * 5000 + "]" * 5000 + "]"),  # lenient, after fixes
        ("deep.json", "// c\n" + "[" * 5000 + "]" * 5000),  # lenient, after fixes
        ("deep.json", "[['a']," + "[" * 5000 + "]" * 5000 + "]"),  # lenient: json5 itself
        ("deep.jsonl", '{"a": 1}\n' + "[" * 5000 + "]" * 5000 + "\n"),
        ("deep.yaml", "[" * 5000 + "]" * 5000),
        ("deep.yaml", "a: " + "{a: " * 5000 + "1" + "}" * 5000),
        ("deep.txt", "x: " + "[" * 5000 + "]" * 5000),
    ],
)
def test_deep_nesting(here, name, text):
    write(name, text)
    error = error_of(name)
    assert isinstance(error, InputError)
    assert "nesting too deep" in error.message


def test_yaml_alias_bomb_and_recursive_alias(here):
    lol = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level, prev in zip("bcdefghi", "abcdefgh", strict=True):
        lol += f"{level}: &{level} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    write("bomb.yaml", lol)
    message = "bomb.yaml: too many YAML alias expansions (or a recursive alias)"
    assert error_of("bomb.yaml").message == message
    write("loop.yaml", "a: &a [*a]\n")
    assert error_of("loop.yaml").message == message.replace("bomb", "loop")


def test_lenient_reading_has_a_size_limit(here, monkeypatch):
    monkeypatch.setattr(limits, "LENIENT_LIMIT", 1024)
    write("big.json", '{"a": [' + "1, " * 400 + "],}")
    error = error_of("big.json")
    assert error.message == "big.json:1:1206: trailing comma before ']'"
    assert error.hint == (
        "lenient parsing (comments, trailing commas…) is limited to inputs of 1 KiB"
    )


def test_json5_parser_has_a_size_limit(here, monkeypatch):
    monkeypatch.setattr(limits, "JSON5_LIMIT", 1024)
    write("big.json", "{'a': [" + "1, " * 400 + "]}")
    error = error_of("big.json")
    assert error.message == "big.json:1:2: unexpected string 'a'"
    assert error.hint.endswith("the JSON5 parser (single quotes, unquoted keys…) is used only for"
                               " values up to 1 KiB")
    write("small.json", "{'a': [1, 2]}")
    assert read("small.json")[0][0].data == {"a": [1, 2]}


def test_endless_line_is_cut_off(here, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DOCUMENT", 4096)
    write("long.jsonl", '{"a": 1}\n' + "x" * 5000 + "\n")
    assert error_of("long.jsonl").message == "long.jsonl:2: line longer than 4 KiB"
    write("long.json", "{\n" + " " * 5000 + "\n}")
    assert error_of("long.json").message == "long.json: larger than 4 KiB"


def test_endless_binary_stream_stops_at_the_first_block(here):
    class Zero(io.RawIOBase):  # /dev/zero: never a newline, never an end
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    error = error_of("-", stdin=io.BufferedReader(Zero()))
    assert error.message == "<stdin>: binary data, not text (NUL byte at line 1)"


@pytest.mark.slow
def test_fifty_megabyte_single_line(here):
    text = json.dumps({"referenceNo": "R", "note": "x" * 50_000_000})
    write("big.json", text)
    items = list(read_items(["big.json"]))
    assert len(items[0].data["note"]) == 50_000_000
    assert items[0].location == Location("big.json", 1, 1)
    write("bad.json", text[:-1])  # strict fails at the very end; lenient is not attempted
    error = error_of("bad.json")
    assert error.message == f"bad.json:1:{len(text)}: expecting ',' delimiter"
    assert error.hint == (
        "lenient parsing (comments, trailing commas…) is limited to inputs of 2 MiB"
    )


def test_errors_are_one_line_and_exit_2(here):
    write("e.json", '{\n"a": 1\n"b": 2\n}')
    error = error_of("e.json")
    assert "\n" not in error.message
    assert error.exit_code == ExitCode.USAGE


# int() refuses integers of more than 4,300 digits (Python 3.11, 3.10.7): json.loads raises a
# plain ValueError, which used to end as a misleading "num.json:1:1: unexpected '{'"
DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
needs_digit_limit = pytest.mark.skipif(not DIGITS, reason="no int() digit limit here")
LONG = "1" * (DIGITS + 1)


@needs_digit_limit
@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("num.json", '{"a": ' + LONG + "}", "1:7"),
        ("num.json", '{\n  "a": [1, -' + LONG + "]\n}", "2:12"),
        ("num.txt", '{"a": ' + LONG + "}", "1:7"),
        ("num.jsonl", '{"a": 1}\n{"b": [' + LONG + "]}\n", "2:8"),
        ("num.json", '{"a": 1}\n{"b": [' + LONG + "]}\n", "2:8"),  # JSON Lines in a .json
        ("num.json", '// pasted\n{"a": ' + LONG + ",}", "2:7"),  # lenient, after fixes
        ("num.json", "{a: 1, 'b': " + LONG + "}", "1:13"),  # lenient: json5 itself
        ("num.json", 'see {"a": ' + LONG + "} above", "1:11"),  # in prose
        ("num.yaml", "a: 1\nb: -" + LONG + "\n", "2:4"),
        ("num.yaml", "- a: 1\n- b: [" + LONG + "]\n", "2:7"),
    ],
)
def test_too_long_number_says_so(here, name, text, where):
    write(name, text)
    error = error_of(name)
    assert isinstance(error, InputError)
    assert error.exit_code == ExitCode.USAGE
    assert error.message == f"{name}:{where}: number too long (more than {DIGITS} digits)"


@needs_digit_limit
def test_long_digits_that_are_not_an_integer_are_read(here):
    text = json.dumps({"s": LONG, "n": int("1" * DIGITS)})[:-1] + ', "f": ' + LONG + ".5}"
    write("ok.json", text)
    items, _ = read("ok.json")
    assert items[0].data["s"] == LONG  # digits in a string are never converted
    assert items[0].data["n"] == int("1" * DIGITS)  # exactly the limit is fine
    assert items[0].data["f"] == float("inf")  # a float has no digit limit


@needs_digit_limit
def test_too_long_number_through_the_cli(here, cli):
    write("num.json", '{"referenceNo": ' + LONG + "}")
    result = cli("ewe", "validate", "num.json")
    assert result.code == 2
    assert result.err == f"error: num.json:1:17: number too long (more than {DIGITS} digits)\n"
