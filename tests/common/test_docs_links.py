"""The project's documents link only to files in the repository: README.md and docs/*.md, link by link."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")
_INLINE_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, file: ...


def _prose_lines(path: Path) -> list[str]:
    """The document's lines outside fenced code blocks (a `# comment` in a shell block is no heading)."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def _links(path: Path) -> list[str]:
    found: list[str] = []
    for line in _prose_lines(path):
        text = _CODE_SPAN.sub("", line)
        found.extend(_INLINE_LINK.findall(text))
        reference = _REFERENCE_LINK.match(text)
        if reference:
            found.append(reference.group(1))
    return found


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    text = text.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(path):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _broken(path: Path, target: str) -> str | None:
    """Why a link target does not resolve to a file (and heading) of the repository, or None when it does."""
    if _EXTERNAL.match(target):
        return (
            None if target.lower().startswith(("http://", "https://", "mailto:")) else "not a relative link"
        )
    location, _, fragment = target.partition("#")
    if location.startswith("/"):
        return "an absolute path"
    resolved = (path.parent / unquote(location)).resolve() if location else path
    if not resolved.is_relative_to(ROOT):
        return "outside the repository"
    if not resolved.exists():
        return "no such file"
    if fragment and resolved.suffix == ".md" and unquote(fragment).lower() not in _anchors(resolved):
        return f"no heading #{fragment} in {resolved.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_in_the_repository(document: Path) -> None:
    broken = [(target, why) for target in _links(document) if (why := _broken(document, target))]
    assert broken == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_sends_readers_to_the_design_kept_outside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert [word for word in ("DESIGN.md", "DESIGN §", "../shared") if word in text] == []


def test_the_readme_lists_every_document_of_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = {target.partition("#")[0] for target in _links(ROOT / "README.md")}
    assert [p.name for p in DOCUMENTS if p.parent.name == "docs" and f"docs/{p.name}" not in listed] == []
    assert "## Documentation" in readme


def test_the_checks_catch_what_they_are_for() -> None:
    readme = ROOT / "README.md"
    assert _broken(readme, "../shared/DESIGN.md") == "outside the repository"
    assert _broken(readme, "docs/no-such-file.md") == "no such file"
    assert _broken(readme, "/etc/passwd") == "an absolute path"
    assert _broken(readme, "file:///etc/passwd") == "not a relative link"
    assert _broken(readme, "docs/architecture.md#no-such-heading") is not None
    assert _broken(readme, "docs/architecture.md#the-settle-path-step-by-step") is None
    assert _broken(readme, "#documentation") is None
    assert _slug("The national interface (国家接口)") == "the-national-interface-国家接口"
