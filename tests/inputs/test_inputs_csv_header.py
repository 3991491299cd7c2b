"""CSV header problems are reported once, at file:1, with a "did you mean"."""

from __future__ import annotations

import io

import pytest
from conftest import SAMPLES

from shipctl.errors import InputError
from shipctl.ewe.models import unknown_column
from shipctl.inputs.csvreader import read_csv

BULK = SAMPLES / "ewe" / "bulk.csv"


def _misspelt(tmp_path, **renames):
    lines = BULK.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    header = [renames.get(column, column) for column in header]
    path = tmp_path / "bulk.csv"
    path.write_text(",".join(header) + "\n" + "".join(lines[1:]))
    return path


@pytest.mark.timeout(60)
def test_misspelt_header_is_one_error_at_line_1(cli, tmp_path):
    path = _misspelt(tmp_path, referenceNo="referenceNumber")
    result = cli("ewe", "validate", path)
    assert result.code == 2
    assert result.err == (
        f'error: {path}:1: column 1 "referenceNumber": unknown field'
        " (did you mean referenceNo?)\n"
    )
    assert "item" not in result.out  # no per-row verdicts


@pytest.mark.timeout(60)
def test_list_index_column_gets_a_suggestion(cli, tmp_path):
    path = _misspelt(tmp_path, **{"merchandise.0.quantity": "merchandise.0.qty",
                                  "to.name": "to.nmae"})
    result = cli("ewe", "validate", path)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert 'column 9 "to.nmae": unknown field (did you mean to.name?)' in result.err
    assert ('column 18 "merchandise.0.qty": unknown field (did you mean merchandise.0.quantity?)'
            in result.err)


@pytest.mark.timeout(60)
def test_modify_stops_on_a_misspelt_header_before_sending(cli, tmp_path):
    path = _misspelt(tmp_path, reason="reasons")
    result = cli("ewe", "modify", path, "--dry-run")
    assert result.code == 2
    assert f'{path}:1: column 2 "reasons": unknown field (did you mean reason?)' in result.err
    assert result.err.count("reasons") == 1


@pytest.mark.timeout(60)
def test_the_sample_header_is_fine(cli):
    result = cli("ewe", "validate", BULK)
    assert result.code == 0, result.all


@pytest.mark.timeout(30)
def test_reader_without_a_check_knows_no_fields():
    data = b"anything.at.all,x\n1,2\n"
    assert [item.data for item in read_csv(io.BytesIO(data), "a.csv")] == [
        {"anything": {"at": {"all": "1"}}, "x": "2"}
    ]
    with pytest.raises(InputError, match=r'^a\.csv:1: column 2 "x": unknown field$'):
        list(read_csv(io.BytesIO(data), "a.csv", lambda path: None if path[0] != "x" else
                      "unknown field"))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("path", "expected"), [
    (("referenceNo",), None),
    (("to", "lines", 0), None),
    (("merchandise", 2, "goodsName"), None),
    (("merchandise", 2, "goods_name"), "unknown field (did you mean merchandise.2.goodsName?)"),
    (("merchandise", 0, "desc"), "unknown field (did you mean merchandise.0.description?)"),
    (("from", "phon"), "unknown field (did you mean from.phone?)"),
    (("zzz",), "unknown field"),
])
def test_unknown_column(path, expected):
    assert unknown_column(path) == expected
