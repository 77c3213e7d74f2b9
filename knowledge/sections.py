"""What every reader makes of its format: a stream of blocks, then sections along the headings.

A reader turns its format into blocks (a heading with its level, or a paragraph); `sections`
walks that stream with a stack of open headings, so a section's heading path ("Pricing > Growth
plan") means the same whatever the format was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["SPACE", "Block", "DocumentError", "Heading", "Paragraph", "Section", "paragraph", "sections"]


class DocumentError(Exception):
    """A file that cannot be read as a document; the message names the file and the reason."""


@dataclass(frozen=True)
class Section:
    """The text under one heading of one document, without the text of its sub-headings."""

    source: str  # the path relative to the folder ingested, with forward slashes
    headings: tuple[str, ...]  # outermost first; empty for text before a document's first heading
    text: str  # paragraphs separated by blank lines

    @property
    def heading(self) -> str:
        return " > ".join(self.headings)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


Block = Heading | Paragraph

SPACE = re.compile(r"\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")


def paragraph(lines: Sequence[str]) -> Paragraph | None:
    """Hard-wrapped lines as one paragraph; list items keep a line each."""
    out: list[str] = []
    for raw in lines:
        line = SPACE.sub(" ", raw).strip()
        if not line:
            continue
        if out and not _BULLET.match(line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return Paragraph("\n".join(out)) if out else None


def sections(source: str, blocks: Iterable[Block]) -> list[Section]:
    """The blocks grouped under the headings open at each point; headings without text make none."""
    out: list[Section] = []
    open_headings: list[Heading] = []
    body: list[str] = []

    def flush() -> None:
        if body:
            out.append(Section(source, tuple(h.text for h in open_headings), "\n\n".join(body)))
            body.clear()

    for block in blocks:
        if isinstance(block, Heading):
            flush()
            while open_headings and open_headings[-1].level >= block.level:
                open_headings.pop()
            open_headings.append(block)
        else:
            body.append(block.text)
    flush()
    return out
