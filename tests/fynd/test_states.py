"""Fynd's states offline (`fynd states`, the simulator's map, completion of --to)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from factories import FYND_SAMPLES, REPO

from shipctl.fynd.states import AUTOMATIC, NEXT, STATES, is_cancellation

# Every state named in docs/fynd.md and Fynd's Example Request Payload… page.
NAMED = """
placed bag_confirmed bag_not_confirmed cancelled_customer cancelled_fynd store_reassigned
bag_invoiced ready_for_dp_assignment dp_assigned bag_packed bag_picked bag_not_picked
delivery_done return_dp_assigned return_bag_in_transit return_bag_delivered assigning_dp
assigning_return_dp bag_lost bag_not_handed_over_to_dg handed_over_to_dg out_for_delivery
rto_bag_accepted rto_in_transit refund_approved refund_initiated deadstock dp_not_assigned
""".split()


def test_every_named_state_has_a_one_line_meaning():
    assert set(NAMED) <= set(STATES)
    for state, meaning in STATES.items():
        assert re.fullmatch(r"[a-z_]+", state)
        assert meaning.strip() and "\n" not in meaning


def test_the_samples_use_known_states():
    text = "".join(path.read_text() for path in FYND_SAMPLES.glob("*.json"))
    used = set(re.findall(r'"(?:status|exclude_bags_next_state)": "(\w+)"', text))
    assert used and used <= set(STATES)


def test_the_illustrative_map():
    assert NEXT["placed"] == ("bag_confirmed", "bag_not_confirmed", "cancelled_customer",
                              "cancelled_fynd", "store_reassigned")
    assert NEXT["bag_confirmed"] == ("bag_invoiced", "cancelled_fynd")
    assert NEXT["dp_assigned"] == ("bag_packed",)
    assert NEXT["bag_packed"] == ("bag_picked", "bag_not_picked", "cancelled_customer")
    for state, following in NEXT.items():
        assert state in STATES and set(following) <= set(STATES), state
    assert AUTOMATIC == {"bag_invoiced": "dp_assigned"}
    assert AUTOMATIC["bag_invoiced"] in NEXT["bag_invoiced"]


def test_confirm_invoice_pack_is_a_path_of_the_map():
    path = ["placed", "bag_confirmed", "bag_invoiced", "dp_assigned", "bag_packed"]
    assert all(b in NEXT[a] for a, b in zip(path[:-1], path[1:], strict=True))


@pytest.mark.parametrize(("state", "expected"), [
    ("bag_not_confirmed", True), ("cancelled_customer", True), ("cancelled_fynd", True),
    ("cancelled_anything", True), ("bag_confirmed", False), ("placed", False), ("", False),
    ("not_cancelled_", False),
])
def test_is_cancellation(state, expected):
    assert is_cancellation(state) is expected


def test_standard_library_only():
    # TAB completion imports this module: it must not pull in pydantic or the rest
    code = ("import sys, shipctl.fynd.states; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'requests', 'rich', 'yaml', 'typer')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"
