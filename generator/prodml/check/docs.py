"""PML6xx: the README and docs are filled in, and the model card names a model version.

A placeholder is TODO, TBD, FIXME, lorem ipsum, an unrendered ``{{ ... }}`` or an angle-bracket
blank such as ``<your name>``, outside code (fenced blocks and inline code are examples: the
runbook's incident template and ``models/<version>/`` are meant as they are). HTML tags and
``<https://...>`` autolinks are not placeholders.
"""

from __future__ import annotations

import re

from prodml.check.base import Check, Project, listing

FAMILY = "prodml-docs"
MODEL_CARD = "docs/model-card.md"
#: Tags a README may use as HTML; any other ``<word>`` outside code reads as a blank to fill.
HTML_TAGS = frozenset(
    {
        "a", "abbr", "b", "br", "code", "details", "div", "em", "hr", "i", "img", "kbd", "li",
        "ol", "p", "picture", "pre", "source", "span", "strong", "sub", "summary", "sup",
        "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_WORDS = re.compile(r"\b(TODO|TBD|FIXME)\b|lorem ipsum|\{\{.*?\}\}", re.I)
_BLANK = re.compile(r"<([a-zA-Z][\w ,.'/-]*)>")
_VERSION = re.compile(
    r"^\|\s*\*\*Version\*\*\s*\|\s*`[^`]+`|\bmodel version\b[:\s]+`?\w", re.I | re.M
)
_FILLED_BY = re.compile(r"\bmake (train|evaluate)\b")


def _blank_out(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match[0])  # keeps line numbers


def placeholders(text: str) -> list[tuple[int, str]]:
    """(line, placeholder) outside code."""
    prose = _CODE_SPAN.sub(_blank_out, _FENCE.sub(_blank_out, text))
    found = []
    for number, line in enumerate(prose.splitlines(), 1):
        found += [(number, m[0]) for m in _WORDS.finditer(line)]
        found += [(number, m[0]) for m in _BLANK.finditer(line) if m[1].lower() not in HTML_TAGS]
    return found


def _report(project: Project, files: list[str]) -> str | None:
    found = [
        f"{file}:{line} {text}"
        for file in files
        for line, text in placeholders(project.text(file) or "")
    ]
    if not found:
        return None
    return f"Placeholders left: {listing(found)}. Write the real text (or delete the line)."


class PML601(Check):
    """README has no placeholders"""

    family = FAMILY

    def verify(self, project: Project) -> str | None:
        if not project.exists("README.md"):
            return "No `README.md`: restore it (`prodml new --replay .cruft.json` renders one)."
        return _report(project, ["README.md"])


class PML602(Check):
    """docs/ have no placeholders"""

    family = FAMILY

    def verify(self, project: Project) -> str | None:
        folder = project.root.joinpath("docs")
        names = (
            sorted(f.name for f in folder.iterdir() if f.name.endswith(".md"))
            if folder.is_dir()
            else []
        )
        return _report(project, [f"docs/{name}" for name in names])


class PML603(Check):
    """Model card names a model version or says how it is filled"""

    family = FAMILY

    def verify(self, project: Project) -> str | None:
        text = project.text(MODEL_CARD)
        if text is None:
            return f"No `{MODEL_CARD}`: `make train` and `make evaluate` write it."
        if _VERSION.search(text) or _FILLED_BY.search(text):
            return None
        return (
            f"`{MODEL_CARD}` names no model version: run `make evaluate` to regenerate it, or "
            'say how it is filled (e.g. "`make evaluate` writes this card").'
        )


CHECKS = (PML601, PML602, PML603)
