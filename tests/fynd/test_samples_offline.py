"""sample_payloads/fynd (README, Sample payloads) offline: the six JSON samples are valid
bodies, and the docs' request examples as pasted read to the same values — except example 4,
whose missing comma is an error at its line (`fynd apply` on the samples is tested through the
CLI)."""

from __future__ import annotations

import json
import re

import pytest
from factories import FYND_SAMPLE_NAMES, FYND_SAMPLES, fynd_sample

from shipctl.errors import ExitCode, InputError
from shipctl.fynd.models import check
from shipctl.inputs import read_items

from . import (
    EXAMPLE_4_GAP,
    EXAMPLE_4_MENDED,
    PASTED,
    PUBLISHED,
    pasted_examples,
    read_leniently,
    same,
)


def test_the_samples_are_the_six_examples():
    assert sorted(p.name for p in FYND_SAMPLES.iterdir()) == sorted(
        [f"{name}.json" for name in FYND_SAMPLE_NAMES.values()] + ["pasted-from-docs.txt"])


@pytest.mark.parametrize("number", sorted(FYND_SAMPLE_NAMES))
def test_sample_is_a_valid_body_sent_as_written(number):
    text = (FYND_SAMPLES / f"{FYND_SAMPLE_NAMES[number]}.json").read_text(encoding="utf-8")
    data = json.loads(text)  # strict JSON: no comments, no trailing commas
    checked = check(data)
    assert checked.problems == []
    assert same(checked.request, data)
    assert checked.identifiers == [data["statuses"][0]["shipments"][0]["identifier"]]
    if number != 6:  # 6 lists data_updates.entities before products; we send products first
        assert json.dumps(checked.request) == json.dumps(data)


def test_only_example_5_warns_its_reasons_name_lines_it_does_not_send():
    warned = {n: [w.field for w in check(fynd_sample(n)).warnings] for n in FYND_SAMPLE_NAMES}
    prefix = "statuses.0.shipments.0.reasons.products"
    assert warned == {1: [], 2: [], 3: [], 4: [], 6: [], 5: [
        f"{prefix}.0.filters.0.line_number", f"{prefix}.0.filters.1.line_number",
        f"{prefix}.1.filters.0.line_number", f"{prefix}.1.filters.1.line_number",
    ]}


@pytest.mark.parametrize("number", [1, 2, 3, 5, 6])
def test_pasted_example_reads_as_its_sample(number, tmp_path):
    assert same(read_leniently(pasted_examples()[number], tmp_path), fynd_sample(number))


def test_pasted_examples_keep_the_docs_comments_and_trailing_commas(tmp_path):
    examples = pasted_examples()
    assert "// Enter next applicable status" in examples[1]
    assert "// What is reason ID" in examples[3]
    warnings: list[str] = []
    path = tmp_path / "ex1.txt"
    path.write_text(examples[1], encoding="utf-8")
    list(read_items([str(path)], warn=warnings.append))
    assert any("trailing comma" in w for w in warnings)
    assert any("comment" in w for w in warnings)


def test_pasted_example_4_is_refused_at_its_missing_comma(tmp_path):
    text = pasted_examples()[4]
    assert text.count(EXAMPLE_4_GAP) == 1
    path = tmp_path / "ex4.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_items([str(path)]))
    line = text.splitlines().index('"status": "bag_confirmed",') + 1
    assert caught.value.message == f'{path}:{line}:1: unexpected string "status"'
    assert caught.value.hint == (
        f"a comma is missing between two values: add ',' at the end of line {line - 1}")
    assert caught.value.exit_code == ExitCode.USAGE
    # mended, it is sample 4
    assert same(read_leniently(text.replace(EXAMPLE_4_GAP, EXAMPLE_4_MENDED), tmp_path),
                fynd_sample(4))


def test_the_whole_pasted_file_stops_at_example_4():
    lines = PASTED.read_text(encoding="utf-8").splitlines()
    start = lines.index("// 4. Partial Confirmation at Products and Quantity Level")
    line = lines.index('"status": "bag_confirmed",', start) + 1
    with pytest.raises(InputError) as caught:
        list(read_items([str(PASTED)]))
    assert caught.value.message == f'{PASTED}:{line}:1: unexpected string "status"'


def test_the_pasted_examples_are_the_documents_own_text():
    published = PUBLISHED.read_text(encoding="utf-8")
    requests = re.findall(r"\nRequest\n\n(.*?)(?=\n\nResponse\n|\n\n\d\. |\Z)", published,
                          flags=re.DOTALL)
    assert [r.strip() for r in requests] == [pasted_examples()[n]
                                             for n in sorted(FYND_SAMPLE_NAMES)]
