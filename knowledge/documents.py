"""Documents read into sections along their headings: Markdown, plain text, HTML and PDF."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from knowledge.markup import html_blocks, markdown_blocks, text_blocks
from knowledge.pdf import read_pdf
from knowledge.sections import Block, DocumentError, Section, sections

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "SUFFIXES",
    "DocumentError",
    "Section",
    "document_paths",
    "read_document",
    "supported",
]


def _decoded(path: Path, source: str) -> str:
    data = path.read_bytes()
    if b"\0" in data:
        raise DocumentError(f"{source}: binary data, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{source}: not UTF-8 text (byte {exc.start})") from exc


def _text_reader(blocks: Callable[[str], Iterable[Block]]) -> Callable[[Path, str], list[Section]]:
    def read(path: Path, source: str) -> list[Section]:
        return sections(source, blocks(_decoded(path, source)))

    return read


SUFFIXES: dict[str, Callable[[Path, str], list[Section]]] = {
    ".md": _text_reader(markdown_blocks),
    ".markdown": _text_reader(markdown_blocks),
    ".txt": _text_reader(text_blocks),
    ".html": _text_reader(html_blocks),
    ".htm": _text_reader(html_blocks),
    ".pdf": read_pdf,
}


MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


def supported(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def read_document(path: Path, source: str | None = None) -> list[Section]:
    """`path` as sections in reading order; `source` names it in the sections and in errors."""
    source = source or path.name
    reader = SUFFIXES.get(path.suffix.lower())
    if reader is None:
        raise DocumentError(f"{source}: unsupported format (not one of {', '.join(sorted(SUFFIXES))})")
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{source}: {size} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit")
    try:
        return reader(path, source)
    except OSError as exc:
        raise DocumentError(f"{source}: cannot be read ({exc.strerror or exc})") from exc


def document_paths(folder: Path) -> dict[str, Path]:
    """The documents under `folder` by their source name (the relative path), hidden ones left out."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and supported(path) and not any(part.startswith(".") for part in relative.parts):
            found[relative.as_posix()] = path
    return found
