"""Knowledge bases in PostgreSQL: ingesting a folder incrementally, and loading one for search.

Ingest reads the stored digests, works out the changes off the event loop (`plan_ingest`: only
new and changed files are read and embedded, so an unchanged folder loads no model), then writes
them in one transaction. The base's row is locked by that transaction's first statement, so two
ingests of one base write one after the other; each writes the whole folder's state, so the last
one wins. Unchanged documents' rows are not touched: their ids and `ingested_at` stay.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import numpy as np
import numpy.typing as npt
from asyncpg.pool import PoolConnectionProxy

from knowledge.index import IndexedChunk
from knowledge.ingest import FileOutcome, Plan, knowledge_version, plan_ingest
from rapport.logs import get_logger

__all__ = ["IngestReport", "UnknownKnowledgeBase", "ingest_folder", "load_index_chunks", "load_index_page"]

log = get_logger(__name__)


class UnknownKnowledgeBase(LookupError):
    """No knowledge base has that name; the message names it and those there are."""


@dataclass(frozen=True)
class IngestReport:
    name: str
    version: str
    files: tuple[FileOutcome, ...]

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.outcome == "failed"]


def _embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    from knowledge.embedding import embedder

    return embedder().embed(texts)


async def _write(conn: asyncpg.Connection | PoolConnectionProxy, name: str, model: str, plan: Plan) -> str:
    """Apply the plan; the base's new version."""
    kb_id: int = await conn.fetchval(
        # DO UPDATE, not DO NOTHING: it locks an existing row for the rest of the transaction.
        "INSERT INTO knowledge_bases (name, version, model) VALUES ($1, '', $2) "
        "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING kb_id",
        name,
        model,
    )
    if plan.remove:
        await conn.execute(
            "DELETE FROM knowledge_documents WHERE kb_id = $1 AND source = ANY($2::text[])",
            kb_id,
            list(plan.remove),
        )
    for document in plan.write:
        document_id: int = await conn.fetchval(
            "INSERT INTO knowledge_documents (kb_id, source, digest) VALUES ($1, $2, $3) "
            "ON CONFLICT (kb_id, source) DO UPDATE SET digest = EXCLUDED.digest, ingested_at = now() "
            "RETURNING document_id",
            kb_id,
            document.source,
            document.digest,
        )
        await conn.execute("DELETE FROM knowledge_chunks WHERE document_id = $1", document_id)
        await conn.copy_records_to_table(
            "knowledge_chunks",
            columns=["document_id", "ord", "heading", "text", "embedding"],
            records=[
                (document_id, ord_, chunk.heading, chunk.text, vector)
                for ord_, (chunk, vector) in enumerate(zip(document.chunks, document.vectors, strict=True))
            ],
        )
    stored = await conn.fetch("SELECT source, digest FROM knowledge_documents WHERE kb_id = $1", kb_id)
    version = knowledge_version(((r["source"], r["digest"]) for r in stored), model)
    await conn.execute(
        "UPDATE knowledge_bases SET version = $2, model = $3, "
        "updated_at = CASE WHEN version = $2 THEN updated_at ELSE now() END WHERE kb_id = $1",
        kb_id,
        version,
        model,
    )
    return version


async def ingest_folder(pool: asyncpg.Pool, name: str, folder: Path) -> IngestReport:
    """Make knowledge base `name` hold the documents under `folder`, re-reading only what changed.

    Raises `knowledge.ingest.NoDocuments` for a folder without documents, touching nothing.
    """
    from knowledge.embedding import MODEL

    rows = await pool.fetch(
        "SELECT b.model, d.source, d.digest FROM knowledge_bases b "
        "LEFT JOIN knowledge_documents d USING (kb_id) WHERE b.name = $1",
        name,
    )
    stored = {r["source"]: r["digest"] for r in rows if r["source"] is not None}
    reembed = bool(rows) and rows[0]["model"] != MODEL
    plan = await asyncio.to_thread(plan_ingest, folder, stored, _embed, reembed)
    async with pool.acquire() as conn, conn.transaction():
        version = await _write(conn, name, MODEL, plan)
    counts = {
        o: sum(f.outcome == o for f in plan.outcomes) for o in ("added", "updated", "removed", "failed")
    }
    log.info("knowledge.ingested", kb=name, version=version, **counts)
    return IngestReport(name, version, plan.outcomes)


async def load_index_chunks(pool: asyncpg.Pool, name: str) -> tuple[str, list[IndexedChunk]]:
    """The base's version and every chunk, by source then position, ready for `KnowledgeIndex`."""
    version, _, chunks = await load_index_page(pool, name)
    return version, chunks


async def load_index_page(
    pool: asyncpg.Pool,
    name: str,
    offset: int = 0,
    limit: int | None = None,
    *,
    unless_version: str | None = None,
) -> tuple[str, int, list[IndexedChunk]]:
    """The base's version, its chunk count and chunks `offset`.. (`limit` of them; all if None).

    No chunks are read when the base is at `unless_version`: the asker holds them already.
    """
    # One snapshot: the version, the count and the page agree however often the base is re-ingested.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        head = await conn.fetchrow(
            """
            SELECT b.kb_id, b.version, count(c.chunk_id) AS total
            FROM knowledge_bases b
            LEFT JOIN knowledge_documents d ON d.kb_id = b.kb_id
            LEFT JOIN knowledge_chunks c ON c.document_id = d.document_id
            WHERE b.name = $1
            GROUP BY b.kb_id
            """,
            name,
        )
        if head is None:
            known = await conn.fetch("SELECT name FROM knowledge_bases ORDER BY name")
            listed = (
                ", ".join(repr(r["name"]) for r in known) or "none yet: rapport kb ingest DIR --name NAME"
            )
            raise UnknownKnowledgeBase(f"no knowledge base {name!r} (there are {listed})")
        if head["version"] == unless_version:
            return head["version"], head["total"], []
        rows = await conn.fetch(
            """
            SELECT d.source, c.heading, c.text, c.embedding
            FROM knowledge_documents d
            JOIN knowledge_chunks c ON c.document_id = d.document_id
            WHERE d.kb_id = $1
            ORDER BY d.source, c.ord
            OFFSET $2 LIMIT $3
            """,
            head["kb_id"],
            offset,
            limit,
        )
    chunks = [
        IndexedChunk(r["source"], r["heading"], r["text"], base64.b64encode(r["embedding"]).decode("ascii"))
        for r in rows
    ]
    return head["version"], head["total"], chunks
