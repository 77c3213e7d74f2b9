"""Sections cut into chunks of bounded size, on paragraph and then sentence boundaries.

A chunk is what retrieval returns and what the LLM reads, so it should hold one idea with its
context: a section short enough stays whole; a long one is cut into nearly equal parts at
paragraph boundaries, a paragraph too long for one chunk at sentence boundaries, and a sentence
too long at word boundaries. Each chunk keeps its section's heading path, which `passage` puts
in front of the text for both the embedding and the lexical index.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from knowledge.sections import Section

__all__ = ["MAX_WORDS", "TARGET_WORDS", "Chunk", "chunk_sections", "passage"]

# The embedding model reads 256 word pieces and drops the rest; English runs at about 1.3
# pieces a word, so 200 words and a heading are about what it sees whole.
TARGET_WORDS = 160
MAX_WORDS = 200

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z0-9])")


@dataclass(frozen=True)
class Chunk:
    source: str
    heading: str  # "Pricing > Growth plan"; the file's name for text before any heading
    text: str


def passage(heading: str, text: str) -> str:
    """What is embedded and indexed for a chunk: its heading path, then its text."""
    return f"{heading}\n{text}" if heading else text


def _words(text: str) -> int:
    return len(text.split())


def _units(text: str) -> Iterator[tuple[str, bool]]:
    """Paragraphs, or the sentences (or word runs) of those too long for one chunk; each with
    whether it starts a paragraph."""
    for para in text.split("\n\n"):
        if _words(para) <= MAX_WORDS:
            yield para, True
            continue
        first = True
        for sentence in _SENTENCE_END.split(para):
            words = sentence.split()
            for start in range(0, len(words), MAX_WORDS):
                yield " ".join(words[start : start + MAX_WORDS]), first
                first = False


def _pieces(text: str) -> list[str]:
    total = _words(text)
    if total <= MAX_WORDS:
        return [text]
    # Aim for equal parts, so a section of 260 words is not one of 250 and a stub of 10.
    aim = total / math.ceil(total / TARGET_WORDS)
    pieces: list[str] = []
    size = 0
    for unit, starts_paragraph in _units(text):
        n = _words(unit)
        if not pieces or size >= aim or size + n > MAX_WORDS:
            pieces.append(unit)
            size = n
        else:
            pieces[-1] += ("\n\n" if starts_paragraph else " ") + unit
            size += n
    return pieces


def chunk_sections(sections: Iterable[Section]) -> list[Chunk]:
    """Every section's text in chunks of at most `MAX_WORDS` words, in reading order."""
    chunks: list[Chunk] = []
    for section in sections:
        heading = section.heading or section.source.rsplit("/", 1)[-1]
        chunks += [Chunk(section.source, heading, piece) for piece in _pieces(section.text)]
    return chunks
