"""Markdown, plain text and HTML as blocks: headings with their levels, and paragraphs."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser

from knowledge.sections import SPACE, Block, Heading, Paragraph, paragraph

__all__ = ["MAX_HEADING_WORDS", "html_blocks", "markdown_blocks", "text_blocks"]


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_INLINE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->"), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
]


def _inline_markdown(line: str) -> str:
    for pattern, replacement in _INLINE:
        line = pattern.sub(replacement, line)
    return line


def markdown_blocks(text: str) -> Iterator[Block]:
    lines = text.splitlines()
    if lines and lines[0].strip() == "---" and "---" in (line.strip() for line in lines[1:]):
        # YAML front matter is metadata, not text.
        lines = lines[lines.index("---", 1) + 1 :]
    pending: list[str] = []
    fence: str | None = None
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            else:
                pending.append(line)
            continue
        if match := _FENCE.match(line):
            fence = match.group(1)
            continue
        if match := _ATX.match(line):
            if para := paragraph(pending):
                yield para
            pending = []
            yield Heading(len(match.group(1)), _inline_markdown(match.group(2) or "").strip())
            continue
        if (match := _SETEXT.match(line)) and len(pending) == 1 and pending[0].strip():
            yield Heading(1 if match.group(1)[0] == "=" else 2, _inline_markdown(pending[0]).strip())
            pending = []
            continue
        if not line.strip() or _SETEXT.match(line):  # a blank line or a thematic break ends a paragraph
            if para := paragraph(pending):
                yield para
            pending = []
            continue
        if _TABLE_RULE.match(line):
            continue
        pending.append(_inline_markdown(line))
    if para := paragraph(pending):
        yield para


# Plain text: headings are underlined lines, short ALL-CAPS lines or numbered title lines.

_UNDERLINE = re.compile(r"^\s*([=\-~^*#])\1{2,}\s*$")
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(\S.*)$")
MAX_HEADING_WORDS = 12


def _caps_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return (
        len(letters) >= 3
        and all(c.isupper() for c in letters)
        and len(line.split()) <= MAX_HEADING_WORDS
        and not line.rstrip().endswith((".", ",", ";"))
    )


def _numbered_heading(line: str) -> int | None:
    """The depth of a numbered title line ("2.1 Encryption"): short, capitalised, no full stop."""
    match = _NUMBERED.match(line.strip())
    if match is None:
        return None
    title = match.group(2)
    if not title[0].isupper() or len(title.split()) > MAX_HEADING_WORDS or title[-1] in ".,;:!?":
        return None
    return match.group(1).count(".") + 1


def _line_style(lines: Sequence[str], i: int) -> str | None:
    """The heading style of `lines[i]` when it stands alone like a title, else None."""
    line = lines[i].strip()
    before = lines[i - 1].strip() if i > 0 else ""
    after = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if not line or before:
        return None
    if _caps_heading(line):
        return "caps"
    depth = _numbered_heading(line)
    # A numbered line followed by another numbered line is a list, not a title.
    if depth is not None and _numbered_heading(after) is None:
        return f"number{depth}"
    return None


class _Levels:
    """Heading levels by the order styles first appear, as reStructuredText does it."""

    def __init__(self) -> None:
        self._order: dict[str, int] = {}

    def __call__(self, style: str) -> int:
        return self._order.setdefault(style, len(self._order) + 1)


def text_blocks(text: str) -> Iterator[Block]:
    lines = text.splitlines()
    level = _Levels()
    pending: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        underline = _UNDERLINE.match(lines[i + 1]) if i + 1 < len(lines) else None
        style = f"underline{underline.group(1)}" if underline and line.strip() else _line_style(lines, i)
        if style is None:
            if line.strip():
                pending.append(line)
            elif para := paragraph(pending):
                yield para
                pending = []
            i += 1
            continue
        if para := paragraph(pending):
            yield para
        pending = []
        yield Heading(level(style), SPACE.sub(" ", line).strip())
        i += 2 if underline else 1
    if para := paragraph(pending):
        yield para


# HTML.

_SKIPPED = frozenset({"head", "script", "style", "nav", "footer", "noscript", "template", "svg", "iframe"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BREAKS = frozenset(
    {
        "p", "div", "section", "article", "main", "aside", "header", "li", "ul", "ol", "dl", "dt", "dd",
        "table", "tr", "blockquote", "pre", "br", "hr", "figure", "figcaption", "form", "body",
    }
)  # fmt: skip


class _HtmlBlocks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._skipping: list[str] = []
        self._heading: int | None = None
        self._words: list[str] = []

    def _flush(self) -> None:
        text = SPACE.sub(" ", "".join(self._words)).strip()
        self._words = []
        if not text:
            return
        if self._heading is not None:
            self.blocks.append(Heading(self._heading, text))
        else:
            self.blocks.append(Paragraph(text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping.append(tag)
        elif self._skipping:
            return
        elif tag in _HEADINGS:
            self._flush()
            self._heading = _HEADINGS[tag]
        elif tag in _BREAKS:
            self._flush()
        elif tag in ("td", "th"):
            self._words.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping and tag in _BREAKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            # Close the innermost element of that name; an unbalanced end tag closes nothing.
            if tag in self._skipping:
                del self._skipping[len(self._skipping) - 1 - self._skipping[::-1].index(tag)]
        elif self._skipping:
            return
        elif tag in _HEADINGS and self._heading is not None:
            self._flush()
            self._heading = None
        elif tag in _BREAKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._words.append(data)


def html_blocks(text: str) -> list[Block]:
    parser = _HtmlBlocks()
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.blocks
