"""Fynd tests. What several of them share: the docs' request examples as pasted, and a comparison
of JSON values that tells null, "", absent, 1, 1.0 and true apart. The samples, as requests, come
from tests/factories.py, Fynd."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from factories import FYND_SAMPLES, REPO

PASTED = FYND_SAMPLES / "pasted-from-docs.txt"
# Fynd's "Example Request Payload of Update Shipment Status API" page as published, whole
PUBLISHED = REPO / "tests" / "data" / "inputs" / "fynd_update_shipment_status_examples.txt"

# Example 4 as published: the "shipments" list is not followed by its comma.
EXAMPLE_4_GAP = '}\n]\n"status"'
EXAMPLE_4_MENDED = '}\n],\n"status"'


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values. Python's == takes 1 == 1.0 == True; the JSON texts do not."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def pasted_examples() -> dict[int, str]:
    """The request texts in pasted-from-docs.txt, by example number, exactly as pasted."""
    text = PASTED.read_text(encoding="utf-8")
    parts = re.split(r"^// (\d)\. [^\n]*\n", text, flags=re.MULTILINE)
    return {int(parts[n]): parts[n + 1].strip() for n in range(1, len(parts), 2)}


def read_leniently(text: str, tmp_path: Path, name: str = "pasted.txt") -> Any:
    """TEXT through the project's one reader, as `fynd apply` reads a pasted file."""
    from shipctl.inputs import read_items

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    items = list(read_items([str(path)], warn=lambda message: None))
    assert len(items) == 1
    return items[0].data
