"""What ingesting a folder changes, worked out before anything is written.

A file is read, chunked and embedded only when its digest differs from the stored one (or the
embedding model changed since it was stored); a stored file the folder no longer has is removed.
A file that cannot be read is reported with the reason and changes nothing: if an earlier
version of it is stored, that version stays, so one bad upload does not take knowledge away.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from knowledge.chunks import Chunk, chunk_sections, passage
from knowledge.documents import SUFFIXES, DocumentError, document_paths, read_document
from knowledge.index import IndexedChunk

__all__ = [
    "FileOutcome",
    "NoDocuments",
    "Outcome",
    "Plan",
    "PreparedDocument",
    "file_digest",
    "indexed_chunks",
    "knowledge_version",
    "plan_ingest",
]

Outcome = Literal["added", "updated", "unchanged", "removed", "failed"]
Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]


class NoDocuments(ValueError):
    """The folder holds no document to ingest: likely the wrong folder, so nothing is touched."""


@dataclass(frozen=True)
class FileOutcome:
    source: str
    outcome: Outcome
    chunks: int = 0
    reason: str = ""  # why a file failed


@dataclass(frozen=True)
class PreparedDocument:
    """A new or changed file, ready to store: its chunks and their float16 vectors."""

    source: str
    digest: str
    chunks: tuple[Chunk, ...]
    vectors: tuple[bytes, ...]


@dataclass(frozen=True)
class Plan:
    outcomes: tuple[FileOutcome, ...]
    write: tuple[PreparedDocument, ...] = ()
    remove: tuple[str, ...] = ()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def knowledge_version(documents: Iterable[tuple[str, str]], model: str) -> str:
    """A digest of (source, digest) pairs and the model: the same content gives the same version."""
    h = hashlib.sha256(model.encode())
    for source, digest in sorted(documents):
        h.update(f"\n{source}\0{digest}".encode())
    return h.hexdigest()[:16]


def _read(path: Path, source: str) -> list[Chunk]:
    return chunk_sections(read_document(path, source))


def plan_ingest(folder: Path, stored: Mapping[str, str], embed: Embed, reembed: bool = False) -> Plan:
    """Compare `folder` with the `stored` digests (source -> digest); read and embed what changed.

    Blocking (file reads and the model): run it in a worker thread.
    """
    if not folder.is_dir():
        raise NoDocuments(f"{folder}: not a folder")
    paths = document_paths(folder)
    if not paths:
        raise NoDocuments(f"{folder}: no documents ({', '.join(sorted(SUFFIXES))})")
    outcomes: dict[str, FileOutcome] = {}
    changed: list[tuple[str, str, list[Chunk]]] = []
    inside = folder.resolve()
    for source, path in paths.items():
        if not path.resolve().is_relative_to(inside):
            # A link to /etc or another team's folder: what the folder holds is all that is read.
            outcomes[source] = FileOutcome(
                source, "failed", reason=f"{source}: links outside the folder; not read"
            )
            continue
        try:
            digest = file_digest(path)
            if stored.get(source) == digest and not reembed:
                outcomes[source] = FileOutcome(source, "unchanged")
                continue
            chunks = _read(path, source)
        except DocumentError as exc:
            outcomes[source] = FileOutcome(source, "failed", reason=str(exc))
            continue
        except OSError as exc:
            outcomes[source] = FileOutcome(source, "failed", reason=f"{source}: {exc.strerror or exc}")
            continue
        changed.append((source, digest, chunks))
        outcomes[source] = FileOutcome(source, "updated" if source in stored else "added", len(chunks))
    gone = sorted(set(stored) - set(paths))
    outcomes.update({source: FileOutcome(source, "removed") for source in gone})
    # A failed file keeps its stored version, unless that version's vectors are another model's.
    stale = [s for s, o in outcomes.items() if o.outcome == "failed" and s in stored and reembed]
    texts = [passage(c.heading, c.text) for _, _, chunks in changed for c in chunks]
    vectors = np.asarray(embed(texts), "<f2") if texts else np.zeros((0, 0), "<f2")
    write: list[PreparedDocument] = []
    start = 0
    for source, digest, chunks in changed:
        rows = vectors[start : start + len(chunks)]
        start += len(chunks)
        write.append(PreparedDocument(source, digest, tuple(chunks), tuple(row.tobytes() for row in rows)))
    return Plan(tuple(outcomes[s] for s in sorted(outcomes)), tuple(write), tuple(gone + stale))


def indexed_chunks(plan: Plan) -> list[IndexedChunk]:
    """The plan's new chunks as a `KnowledgeIndex` takes them, without a database in between."""
    return [
        IndexedChunk(document.source, chunk.heading, chunk.text, base64.b64encode(vector).decode("ascii"))
        for document in plan.write
        for chunk, vector in zip(document.chunks, document.vectors, strict=True)
    ]
