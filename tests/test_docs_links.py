"""The README and the pages under docs/ link to files and headings that exist.

The README holds the overview and links into docs/ for the details (and back), so a
renamed heading or a moved file breaks a reader's path silently; this checks every
relative link and its anchor, as GitHub writes heading anchors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out, code = set(), False
    for line in page.read_text().split("\n"):
        if line.startswith("```"):
            code = not code
        elif not code and line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out


def _links(page: Path) -> list[str]:
    """Relative link targets outside code blocks."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [t for t in _LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def test_the_docs_pages_exist_and_the_readme_links_each() -> None:
    docs = {p.name for p in PAGES[1:]}
    assert {"leaderboards.md", "surrogate.md", "oneshot.md", "reproducibility.md"} <= docs
    linked = {Path(t.partition("#")[0]).name for t in _links(ROOT / "README.md")}
    assert docs <= linked, f"docs pages the README does not link: {sorted(docs - linked)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.name}: " + "; ".join(broken)
