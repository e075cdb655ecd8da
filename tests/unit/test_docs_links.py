"""The documentation's relative links lead somewhere: every one in README.md and docs/ names a
file or folder of the repository (and, into a markdown page, one of its headings), so a moved
module or a renamed section breaks this test, not a reader's click."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]

# Written on another branch of issue 15 (design notes by capability); checked like any
# other link once it exists.
_FENCED_BLOCK = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_INLINE_CODE = re.compile(r"`([^`\n]*)`")
# [text](target "title") and [label]: target
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


class Link(NamedTuple):
    path: str  # relative to the document; "" for a heading of the document itself
    fragment: str


def documentation_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def relative_links(markdown: str) -> list[Link]:
    """The relative links of `markdown`, fenced and inline code left out."""
    text = _INLINE_CODE.sub("", _FENCED_BLOCK.sub("", markdown))
    links = []
    for target in _INLINE_LINK.findall(text) + _REFERENCE_LINK.findall(text):
        if _SCHEME.match(target):
            continue
        path, _, fragment = target.partition("#")
        links.append(Link(path.split("?", 1)[0], fragment))
    return links


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated one suffixed -1, -2 …"""
    anchors: set[str] = set()
    for heading in _HEADING.findall(_FENCED_BLOCK.sub("", markdown)):
        text = _INLINE_CODE.sub(r"\1", _LINK_TEXT.sub(r"\1", heading)).strip().lower()
        anchor = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        unique, repeat = anchor, 0
        while unique in anchors:
            repeat += 1
            unique = f"{anchor}-{repeat}"
        anchors.add(unique)
    return anchors


def broken_links(document: Path) -> list[str]:
    broken = []
    for link in relative_links(document.read_text(encoding="utf-8")):
        target = (document.parent / link.path).resolve() if link.path else document
        shown = f"{link.path}#{link.fragment}" if link.fragment else link.path
        if not target.exists() or (
            link.fragment
            and target.suffix == ".md"
            and link.fragment not in heading_anchors(target.read_text(encoding="utf-8"))
        ):
            broken.append(shown)
    return broken


def test_every_guide_in_docs_is_linked_from_the_readme() -> None:
    readme = {link.path for link in relative_links((ROOT / "README.md").read_text())}
    guides = sorted(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md"))
    assert guides, "docs/ holds no guides"
    assert [guide for guide in guides if guide not in readme] == []


def test_every_relative_link_in_the_docs_names_an_existing_path_and_heading() -> None:
    broken = {
        str(document.relative_to(ROOT)): links
        for document in documentation_files()
        if (links := broken_links(document))
    }
    assert broken == {}


def test_links_are_read_outside_code_with_their_fragment() -> None:
    markdown = (
        "See [money](docs/money.md#refunds), [site](https://example.com), [top](#top),\n"
        '[ref]: server/config.py "settings"\n'
        "`[not a link](nowhere.md)`\n"
        "```\n[nor this](nowhere.md)\n```\n"
    )
    assert relative_links(markdown) == [
        Link("docs/money.md", "refunds"),
        Link("", "top"),
        Link("server/config.py", ""),
    ]


def test_heading_anchors_follow_githubs_rules() -> None:
    markdown = "# Money: the law\n## `Prefer: respond-async`\n## Refunds\n## Refunds\n"
    assert heading_anchors(markdown) == {
        "money-the-law",
        "prefer-respond-async",
        "refunds",
        "refunds-1",
    }
