"""Support staff paste a push from a ticket: each way tickets mangle JSON is read, validated,
and named in a "parsed leniently" warning (docs/conventions.md, Input files)."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLES
from factories import ecom_push

PRETTY = json.dumps(ecom_push(), indent=2)

# name → (pasted text, words of the leniency warning)
VARIANTS = {
    "trailing commas": (PRETTY[:-2] + ",\n}\n", "trailing comma at line 12"),
    "single quotes": (PRETTY.replace('"', "'"), "single quotes at lines 2,"),
    "python dict repr": (repr(ecom_push()), "single quotes at line 1"),
    "python dict repr with literals": (
        repr({**ecom_push(), "checked": True, "note": None}), "Python literal True at line 1"),
    "smart quotes": (PRETTY.replace('"city": "Vadodara"', "“city”: “Vadodara”"),
                     "typographic quotes at line 11"),
    "prose around": ("Hi team,\nEcom sent us this and our hook said 400:\n\n" + PRETTY
                     + "\n\nRegards,\nRavi\n", "ignored text before line 4"),
    "bom and crlf": ("\ufeff" + PRETTY.replace("\n", "\r\n") + "\r\n",
                     "byte-order mark (BOM) at the start ignored"),
    "two back to back": (PRETTY + PRETTY.replace("44591782", "44591783"),
                         "2 objects pasted back to back at lines 1 and 13"),
    "two on one line": (json.dumps(ecom_push()) + json.dumps(ecom_push(number="2")),
                        "2 objects pasted back to back at line 1"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_paste_validates_with_a_leniency_warning(cli, name):
    text, words = VARIANTS[name]
    result = cli("ecom", "validate", input=text.encode("utf-8"))
    assert result.code == 0, result.all
    assert "warning: <stdin>: parsed leniently: " + words in result.err
    verdicts = [line for line in result.out.splitlines() if not line.startswith(" ")][:-1]
    assert verdicts and all(v.startswith("VALID after repairing ") for v in verdicts), result.out
    assert " 0 invalid" in result.out.splitlines()[-1]


def test_the_repaired_paste_still_names_its_problems_lines(cli):
    bad = PRETTY.replace('"Employee"', "'employee'")[:-2] + ",\n}\n"
    result = cli("ecom", "validate", input="From the ticket:\n" + bad)
    assert result.code == 1
    # the key is on line 9 of what was pasted: one line of prose, then the object
    assert ('  <stdin>:9 item 1 employee: unknown key "employee": did you mean "Employee"?'
            " (keys are case-sensitive)") in result.out.splitlines()


def test_the_ticket_sample(cli):
    result = cli("ecom", "validate", SAMPLES / "ecom" / "pasted-from-ticket.txt")
    assert result.code == 0, result.all
    for words in ("ignored text before line 6", "single quotes", "trailing comma at line 17",
                  "ignored text after line 18"):
        assert words in result.err
    assert result.out.startswith("VALID after repairing 4 formatting problems ")


def test_a_paste_from_an_email_reply(cli):
    quoted = "".join("> " + line for line in PRETTY.splitlines(keepends=True))
    result = cli("ecom", "validate", input=quoted)
    assert result.code == 0, result.all
    assert "parsed leniently: email quoting (> ) removed" in result.err
