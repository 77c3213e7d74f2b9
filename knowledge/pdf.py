"""PDF documents through pypdf: text runs with their font size and position on the page.

Lines set larger than the body text are headings (levels by size); the lines that recur at the top
or bottom of most pages are running headers and footers, and are dropped; a paragraph cut by a page
break is joined again. A PDF without larger headings falls back to title lines as plain text has
them (ALL CAPS, numbered), and failing those to one section a page.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.markup import MAX_HEADING_WORDS, text_blocks
from knowledge.sections import SPACE, Block, DocumentError, Heading, Section, paragraph, sections

__all__ = ["MAX_PDF_PAGES", "MAX_PDF_SECONDS", "read_pdf"]

# A knowledge base is a product's documentation, not a library: what is bigger than this, or slower
# to read, is refused with the reason instead of holding the ingest (and a core) for minutes.
MAX_PDF_PAGES = 500
MAX_PDF_SECONDS = 60.0


_HEADING_SCALE = 1.15  # a line this much larger than the body text is a heading
_PARAGRAPH_GAP = 1.4  # a vertical gap this many times the usual line pitch starts a paragraph
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–\s]*\d+[-–\s]*(?:(?:of|/)\s*\d+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class _Line:
    page: int
    text: str
    size: float  # the font size, in points, of most of the line's characters
    y: float | None  # the baseline, from the bottom of the page; None when the PDF did not say


def _pdf_page_lines(page: Any, number: int) -> list[_Line]:
    lines: list[_Line] = []
    parts: list[str] = []
    sizes: Counter[float] = Counter()
    y: list[float] = []

    def end_line() -> None:
        text = SPACE.sub(" ", "".join(parts)).strip()
        if text:
            lines.append(
                _Line(number, text, sizes.most_common(1)[0][0] if sizes else 0.0, y[0] if y else None)
            )
        parts.clear()
        sizes.clear()
        y.clear()

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: object, font_size: float) -> None:
        # The size and position on the page: the text matrix times the transformation matrix.
        scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        size = round(font_size * (scale or 1.0), 1)
        for i, part in enumerate(text.split("\n")):
            if i:
                end_line()
            parts.append(part)
            if part.strip():
                sizes[size] += len(part.strip())
                if not y:
                    y.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])

    page.extract_text(visitor_text=visit)
    end_line()
    return lines


def _running_lines(pages: Sequence[list[_Line]]) -> set[str]:
    """Headers and footers: a page's first or last lines that recur on most pages (digits aside)."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({_shape(line.text) for line in (*lines[:2], *lines[-2:])})
    return {shape for shape, count in seen.items() if count >= max(2, math.ceil(len(pages) / 2))}


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower())


def _pdf_body(pages: Sequence[list[_Line]]) -> list[_Line]:
    running = _running_lines(pages)
    body: list[_Line] = []
    for lines in pages:
        edges = {id(line) for line in (*lines[:2], *lines[-2:])}
        body += [
            line
            for line in lines
            if not (id(line) in edges and (_shape(line.text) in running or _PAGE_NUMBER.match(line.text)))
        ]
    return body


def _is_heading(line: _Line, heading_sizes: Sequence[float]) -> bool:
    return line.size in heading_sizes and len(line.text.split()) <= MAX_HEADING_WORDS


def _pdf_blocks(pages: Sequence[list[_Line]]) -> list[Block]:
    lines = _pdf_body(pages)
    by_size: Counter[float] = Counter()
    for line in lines:
        by_size[line.size] += len(line.text)
    body_size = by_size.most_common(1)[0][0] if by_size else 0.0
    heading_sizes = sorted(
        {
            line.size
            for line in lines
            if line.size >= body_size * _HEADING_SCALE and len(line.text.split()) <= MAX_HEADING_WORDS
        },
        reverse=True,
    )
    if not heading_sizes:
        return _pdf_blocks_by_text(len(pages), lines)
    blocks: list[Block] = []
    for group in _pdf_paragraphs(lines, lambda line: _is_heading(line, heading_sizes)):
        first = group[0]
        if not _is_heading(first, heading_sizes):
            if block := paragraph([line.text for line in group]):
                blocks.append(block)
            continue
        level = heading_sizes.index(first.size) + 1
        previous = blocks[-1] if blocks else None
        if isinstance(previous, Heading) and previous.level == level:
            blocks[-1] = Heading(level, f"{previous.text} {first.text}")  # a heading wrapped in two lines
        else:
            blocks.append(Heading(level, first.text))
    return blocks


def _pdf_paragraphs(lines: Sequence[_Line], alone: Callable[[_Line], bool]) -> list[list[_Line]]:
    """Lines grouped into paragraphs by the vertical gaps between them; `alone` lines stand by themselves."""
    pitch = _line_pitch(lines)
    paragraphs: list[list[_Line]] = []
    for line in lines:
        previous = paragraphs[-1][-1] if paragraphs else None
        if previous is None or alone(line) or alone(previous) or _starts_paragraph(previous, line, pitch):
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


def _line_pitch(lines: Sequence[_Line]) -> float | None:
    """The usual distance between two consecutive lines of one paragraph."""
    gaps = sorted(
        round(a.y - b.y, 1)
        for a, b in itertools.pairwise(lines)
        if a.page == b.page and a.y is not None and b.y is not None and a.y > b.y
    )
    return gaps[len(gaps) // 2] if gaps else None


def _starts_paragraph(previous: _Line, line: _Line, pitch: float | None) -> bool:
    if previous.page != line.page:
        # A paragraph cut by a page break goes on unless the page ended a sentence.
        return previous.text.endswith((".", "!", "?", ":"))
    if pitch is None or previous.y is None or line.y is None:
        return False
    return previous.y - line.y > pitch * _PARAGRAPH_GAP


def _pdf_blocks_by_text(page_count: int, lines: Sequence[_Line]) -> list[Block]:
    """A PDF whose headings are not set larger: title lines as plain text has them, else a section a page."""
    paragraphs = _pdf_paragraphs(lines, lambda _line: False)
    blocks = list(text_blocks("\n\n".join("\n".join(line.text for line in p) for p in paragraphs)))
    if any(isinstance(block, Heading) for block in blocks):
        return blocks
    blocks = []
    for number in range(1, page_count + 1):
        page = [[line.text for line in p if line.page == number] for p in paragraphs]
        if body := [block for text in page if (block := paragraph(text))]:
            blocks += [Heading(1, f"Page {number}"), *body]
    return blocks


def read_pdf(path: Path, source: str) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{source}: the PDF is encrypted with a password")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise DocumentError(f"{source}: {len(reader.pages)} pages, over the {MAX_PDF_PAGES}-page limit")
        deadline = time.monotonic() + MAX_PDF_SECONDS
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            if time.monotonic() > deadline:
                raise DocumentError(f"{source}: reading took over {MAX_PDF_SECONDS:g} s (at page {number})")
            pages.append(_pdf_page_lines(page, number))
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        # pypdf reports damage through many exception types; all of them mean "not readable".
        raise DocumentError(f"{source}: not a readable PDF ({exc or type(exc).__name__})") from exc
    if not any(pages):
        raise DocumentError(f"{source}: the PDF has no text layer (a scan needs OCR first)")
    return sections(source, _pdf_blocks(pages))
