"""Every link in the project's Markdown leads somewhere: a file that exists, a heading that exists.

The README cross-references its sections by GitHub's heading anchors (`](#evaluation-scriptsevaluatepy)`),
which break silently when a heading is reworded.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ["README.md", "runs/README.md", "roms/README.md", "docs/benchmark-history.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, letters, digits, '-' and '_' kept, spaces as '-'."""
    kept = (c for c in heading.strip().lower() if c in "-_ " or unicodedata.category(c)[0] in "LN")
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a Markdown text's headings (a repeated one gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        s = slug(heading)
        out.add(f"{s}-{seen[s]}" if s in seen else s)
        seen[s] = seen.get(s, 0) + 1
    return out


def resolves(doc: Path, link: str) -> bool:
    """Whether a relative link of ``doc`` names a file that exists and, after '#', one of its headings."""
    name, _, anchor = link.partition("#")
    target = (doc.parent / name) if name else doc
    if not target.exists():
        return False
    return not anchor or (target.suffix == ".md" and anchor in anchors(target.read_text(encoding="utf-8")))


def broken_links(doc: Path) -> list[str]:
    """The relative links of ``doc`` whose file or heading anchor does not exist (web links not checked)."""
    links = LINK.findall(doc.read_text(encoding="utf-8"))
    return [link for link in links if not re.match(r"[a-z]+:", link) and not resolves(doc, link)]


def test_broken_links_finds_a_missing_heading_and_a_missing_file(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# Training (`scripts/train_ppo.py`)\n\n## Notes\n## Notes\n```\n# not a heading\n```\n"
                   "[a](#training-scriptstrain_ppopy) [b](#notes-1) [c](#not-a-heading) [d](gone.md) "
                   "[e](doc.md#notes) [f](https://example.com/#x)\n", encoding="utf-8")
    assert broken_links(doc) == ["#not-a-heading", "gone.md"]


@pytest.mark.parametrize("name", DOCS)
def test_every_link_in_the_docs_resolves(name):
    assert broken_links(ROOT / name) == []
