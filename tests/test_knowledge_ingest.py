"""Knowledge bases in PostgreSQL: incremental ingest, versions, loading for search, and `rapport kb`
through the real CLI, with the real embedding model."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from db.knowledge import UnknownKnowledgeBase, ingest_folder, load_index_chunks
from knowledge.documents import MAX_DOCUMENT_BYTES
from knowledge.embedding import DIMENSIONS
from knowledge.index import KnowledgeIndex, decode_vector
from knowledge.ingest import NoDocuments
from rapport.cli import main
from tests.knowledge import CORRUPT_PDF, DOCS, SOURCES


def _name() -> str:
    return f"kb-{uuid.uuid4().hex[:8]}"


def _copy_docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(DOCS, folder)
    return folder


async def _documents(pool: asyncpg.Pool, name: str) -> dict[str, tuple[int, dt.datetime, list[int]]]:
    """source -> (document_id, ingested_at, chunk ids in order)."""
    rows = await pool.fetch(
        "SELECT d.source, d.document_id, d.ingested_at, "
        "ARRAY(SELECT c.chunk_id FROM knowledge_chunks c WHERE c.document_id = d.document_id ORDER BY c.ord)"
        " AS chunks "
        "FROM knowledge_documents d JOIN knowledge_bases b USING (kb_id) WHERE b.name = $1",
        name,
    )
    return {r["source"]: (r["document_id"], r["ingested_at"], list(r["chunks"])) for r in rows}


def _rapport(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "rapport.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


async def test_an_ingested_folder_loads_back_as_chunks_with_vectors_and_a_version(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Every document is added; loading gives the same version and every chunk, by source then position."""
    name = _name()
    report = await ingest_folder(pool, name, _copy_docs(tmp_path))
    assert {f.source for f in report.files} == SOURCES
    assert {f.outcome for f in report.files} == {"added"} and all(f.chunks > 0 for f in report.files)
    version, chunks = await load_index_chunks(pool, name)
    assert version == report.version
    assert len(chunks) == sum(f.chunks for f in report.files)
    assert [c.source for c in chunks] == sorted(c.source for c in chunks)
    assert {c.source for c in chunks} == SOURCES
    assert all(decode_vector(c.vector).shape == (DIMENSIONS,) for c in chunks)
    index = KnowledgeIndex.from_chunks(name, version, chunks)
    assert (index.name, index.version, len(index)) == (name, version, len(chunks))
    assert index.search("How much is the mid tier per truck?")[0].heading == "Pricing > Growth plan"


async def test_reingest_touches_only_changed_files_and_removes_deleted_ones(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A changed file is re-chunked, a new one added, a deleted one's chunks removed; unchanged files keep
    their rows (same ids, same ingested_at); the version changes with the content and only with it."""
    name = _name()
    folder = _copy_docs(tmp_path)
    first = await ingest_folder(pool, name, folder)
    before = await _documents(pool, name)

    again = await ingest_folder(pool, name, folder)
    assert {f.outcome for f in again.files} == {"unchanged"}
    assert again.version == first.version
    assert await _documents(pool, name) == before

    pricing = folder / "pricing.md"
    original_pricing = pricing.read_text(encoding="utf-8")
    pricing.write_text(original_pricing + "\n## Fuel surcharge\n\nNo plan carries a fuel surcharge.\n")
    (folder / "help" / "support.txt").unlink()
    (folder / "faq.md").write_text("# FAQ\n\n## Languages\n\nThe driver app speaks Polish and Portuguese.\n")
    changed = await ingest_folder(pool, name, folder)
    outcomes = {f.source: f.outcome for f in changed.files}
    assert outcomes == {
        "faq.md": "added",
        "pricing.md": "updated",
        "help/support.txt": "removed",
        "features.md": "unchanged",
        "integrations.html": "unchanged",
        "onboarding.txt": "unchanged",
        "security.pdf": "unchanged",
    }
    assert changed.version != first.version
    after = await _documents(pool, name)
    for source in ("features.md", "integrations.html", "onboarding.txt", "security.pdf"):
        assert after[source] == before[source], source
    assert after["pricing.md"][0] == before["pricing.md"][0]  # the same document, re-chunked
    assert after["pricing.md"][1] > before["pricing.md"][1]
    assert not set(after["pricing.md"][2]) & set(before["pricing.md"][2])
    assert "help/support.txt" not in after
    orphans = await pool.fetchval(
        "SELECT count(*) FROM knowledge_chunks WHERE document_id = $1", before["help/support.txt"][0]
    )
    assert orphans == 0
    _, chunks = await load_index_chunks(pool, name)
    assert any(c.heading == "Pricing > Fuel surcharge" for c in chunks)

    # Back to the original content: back to the original version.
    pricing.write_text(original_pricing)
    (folder / "faq.md").unlink()
    shutil.copy(DOCS / "help" / "support.txt", folder / "help" / "support.txt")
    assert (await ingest_folder(pool, name, folder)).version == first.version


async def test_a_file_that_turns_unreadable_keeps_its_stored_version(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A PDF replaced by a broken one is reported as failed; its previous chunks stay searchable."""
    name = _name()
    folder = _copy_docs(tmp_path)
    first = await ingest_folder(pool, name, folder)
    before = await _documents(pool, name)
    shutil.copy(CORRUPT_PDF, folder / "security.pdf")
    report = await ingest_folder(pool, name, folder)
    [failed] = report.failed
    assert failed.source == "security.pdf" and failed.reason.startswith("security.pdf: not a readable PDF")
    assert (await _documents(pool, name))["security.pdf"] == before["security.pdf"]
    assert report.version == first.version


async def test_links_out_of_the_folder_and_oversized_files_are_refused_by_name(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A link to a file outside the folder is not read (its text is stored nowhere), and a file
    over the size limit is refused with its size; each is a failed file, and the rest is stored."""
    name = _name()
    folder = _copy_docs(tmp_path)
    outside = tmp_path / "outside" / "payroll.md"
    outside.parent.mkdir()
    outside.write_text("# Payroll\n\nThe director's salary is 250,000 dollars.\n")
    (folder / "payroll.md").symlink_to(outside)
    with (folder / "huge.txt").open("wb") as huge:  # sparse: the size without the disk
        huge.truncate(MAX_DOCUMENT_BYTES + 1)
    report = await ingest_folder(pool, name, folder)
    reasons = {failed.source: failed.reason for failed in report.failed}
    assert reasons == {
        "huge.txt": f"huge.txt: {MAX_DOCUMENT_BYTES + 1} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit",
        "payroll.md": "payroll.md: links outside the folder; not read",
    }
    assert set(await _documents(pool, name)) == SOURCES
    stored = await pool.fetchval(
        "SELECT string_agg(c.text, ' ') FROM knowledge_chunks c"
        " JOIN knowledge_documents d USING (document_id)"
        " JOIN knowledge_bases b USING (kb_id) WHERE b.name = $1",
        name,
    )
    assert "Routewise" in stored and "salary" not in stored


async def test_a_folder_without_documents_changes_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """An empty folder (likely a wrong path) is refused instead of emptying the knowledge base."""
    name = _name()
    await ingest_folder(pool, name, _copy_docs(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.docx").write_bytes(b"PK")
    with pytest.raises(NoDocuments, match="no documents"):
        await ingest_folder(pool, name, empty)
    with pytest.raises(NoDocuments, match="not a folder"):
        await ingest_folder(pool, name, tmp_path / "missing")
    assert set(await _documents(pool, name)) == SOURCES


async def test_rapport_kb_ingest_names_a_corrupt_pdf_and_stores_the_rest_then_search_prints_json(
    database_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """`rapport kb ingest` prints each file's outcome, the corrupt PDF with its reason, and exits 1;
    `rapport kb search --json` prints [{source, text, score}] best first, -k of them."""
    name = _name()
    folder = _copy_docs(tmp_path)
    shutil.copy(CORRUPT_PDF, folder / "corrupt.pdf")
    ingest = await asyncio.to_thread(_rapport, database_url, "kb", "ingest", str(folder), "--name", name)
    assert ingest.returncode == 1, ingest.stderr
    lines = ingest.stdout.splitlines()
    assert lines[0].startswith("failed    corrupt.pdf: not a readable PDF (")
    assert sorted(line.split()[1] for line in lines[1:7]) == sorted(SOURCES)
    assert all(line.startswith("added") for line in lines[1:7])
    assert lines[-1].startswith(f"knowledge base '{name}' version ") and lines[-1].endswith(
        "1 failed, 6 added"
    )
    _, chunks = await load_index_chunks(pool, name)
    assert {c.source for c in chunks} == SOURCES

    search = await asyncio.to_thread(
        _rapport, database_url, "kb", "search", name, "Do you support SSO?", "--json", "-k", "2"
    )
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert len(hits) == 2 and all(set(h) == {"source", "text", "score"} for h in hits)
    assert hits[0]["score"] >= hits[1]["score"]
    assert hits[0]["source"] == "security.pdf" and "single sign-on over SAML 2.0" in hits[0]["text"]


def test_rapport_kb_search_reads_plainly_without_json(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without --json each hit shows its rank, source, heading path and score, then its text."""
    name = _name()
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["kb", "ingest", str(_copy_docs(tmp_path)), "--name", name]) == 0
    capsys.readouterr()
    assert main(["kb", "search", name, "How much is the mid tier per truck?", "-k", "1"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("1. pricing.md — Pricing > Growth plan  (score ")
    assert shown[1].startswith("   Growth is our middle plan, between Starter and Enterprise")


async def test_an_unknown_knowledge_base_is_named_with_exit_status_2(
    database_url: str, pool: asyncpg.Pool
) -> None:
    """`rapport kb search` on a name never ingested: exit 2, the name in the message, no traceback."""
    with pytest.raises(UnknownKnowledgeBase, match="no knowledge base 'no-such-kb'"):
        await load_index_chunks(pool, "no-such-kb")
    done = await asyncio.to_thread(_rapport, database_url, "kb", "search", "no-such-kb", "anything")
    assert done.returncode == 2
    assert "rapport: no knowledge base 'no-such-kb'" in done.stderr and "Traceback" not in done.stderr
