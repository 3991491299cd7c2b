"""The project's documents: the command reference is fresh, and every relative link leads
somewhere (a file that exists, and a heading that exists for a ``#anchor``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipctl.commands import reference

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def test_the_command_reference_is_fresh():
    committed = (DOCS / "commands.md").read_text(encoding="utf-8")
    assert reference.render() == committed, (
        f"docs/commands.md is stale: run '{reference.COMMAND}'")


def _prose(text: str) -> str:
    """The text without fenced blocks (examples may hold anything)."""
    return _FENCE.sub("", text)


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, as GitHub makes them (a repeated one gets -1, -2…)."""
    found: set[str] = set()
    for title in _HEADING.findall(_prose(page.read_text(encoding="utf-8"))):
        slug = reference.anchor(title.replace("`", ""))
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def links(page: Path) -> list[str]:
    # inline code may show link syntax as an example of it: not a link
    text = _CODE.sub("", _prose(page.read_text(encoding="utf-8")))
    return [target for target in _LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]  # http:, mailto: …


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_somewhere(page: Path):
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no heading #{fragment} in "
                          f"{destination.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


# The sections code cites by name ("docs/ewe.md, Digest"): renaming one breaks those citations.
SECTIONS = {
    "ewe.md": ["Endpoint and authentication", "Digest", "Request fields", "Response codes",
               "Examples"],
    "fynd.md": ["Endpoint and authentication", "Request body", "States and transitions",
                "Reasons", "Responses", "Examples"],
    "ecom.md": ["Endpoint and authentication", "Payload fields", "Reason codes", "Answers",
                "Examples"],
    "conventions.md": ["Global options", "Output", "Exit codes", "Outcomes", "Input files",
                       "HTTP behaviour", "Bulk engine", "Configuration", "Sandbox"],
}
_CITATION = re.compile(r"docs/([\w-]+\.md), ([A-Z][\w -]*)")


def headings(page: Path) -> list[str]:
    return [title.replace("`", "") for title in
            _HEADING.findall(_prose(page.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_the_sections_code_cites_exist(name: str):
    assert set(SECTIONS[name]) <= set(headings(DOCS / name))


def test_every_citation_of_a_section_names_one():
    """"docs/conventions.md, Bulk engine" in code, tests and benchmarks: the page has a
    heading the cited words start with ("Exit codes 130 and Bulk engine" cites Exit codes)."""
    wrong = []
    for path in sorted((*REPO.glob("shipctl/**/*.py"), *REPO.glob("tests/**/*.py"),
                        *REPO.glob("benchmarks/**/*.py"))):
        for page, cited in _CITATION.findall(path.read_text(encoding="utf-8")):
            target = DOCS / page
            if not target.exists() or not any(cited.startswith(h) for h in headings(target)):
                wrong.append(f"{path.relative_to(REPO)}: docs/{page}, {cited.strip()}")
    assert not wrong, "citations of sections that do not exist: " + "; ".join(wrong)


def test_the_link_checker_sees_links_and_headings(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# A `b` (c)\n\n## A b c\n\n[x](other.md#y) [w](https://e.org) "
                    "`[z](q.md)`\n```\n[v](u.md)\n```\n", encoding="utf-8")
    assert anchors(page) == {"a-b-c", "a-b-c-1"}
    assert links(page) == ["other.md#y"]


def test_every_test_file_cited_exists():
    # Code, benchmarks and documents name tests as evidence ("tests/batch/test_batch.py
    # measures it"): a moved or renamed test must take its citations along.
    cited = re.compile(r"\btests/[\w/]+\.py\b")
    places = [REPO / "README.md", REPO / "pyproject.toml", *REPO.glob("docs/*.md"),
              *REPO.glob("shipctl/**/*.py"), *REPO.glob("benchmarks/*.py")]
    missing = {(str(place.relative_to(REPO)), path) for place in places
               for path in cited.findall(place.read_text(encoding="utf-8"))
               if not (REPO / path).is_file()}
    assert missing == set()
