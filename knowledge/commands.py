"""`rapport kb ingest|search`: knowledge bases from the command line.

Kept here so `rapport/cli.py` only registers and dispatches them; the database and the model are
imported when a command runs, so `rapport --help` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapport.settings import Settings

if TYPE_CHECKING:
    from db.knowledge import IngestReport
    from knowledge.index import Hit

__all__ = ["add_commands", "run"]

_OUTCOME_ORDER = ("failed", "added", "updated", "removed", "unchanged")


def add_commands(commands: Any) -> None:
    """Register `kb` on the `rapport` parser's subparsers."""
    kb = commands.add_parser("kb", help="knowledge bases: ingest a folder of documents, search one")
    sub = kb.add_subparsers(dest="kb_command", required=True)
    ingest = sub.add_parser(
        "ingest",
        help="make a knowledge base hold a folder's documents (exit 1 if any file failed)",
        description="Ingest .md, .txt, .html/.htm and .pdf files under DIR (hidden ones aside). "
        "Only new and changed files are read and embedded; files gone from DIR are removed. "
        "Prints each file's outcome: added, updated, unchanged, removed, or failed with the reason. "
        "Exit status: 0 when every file was ingested, 1 when any failed (the others are stored), "
        "2 for a folder without documents.",
    )
    ingest.add_argument("folder", type=Path, metavar="DIR")
    ingest.add_argument("--name", required=True, help="the knowledge base (created on first ingest)")
    search = sub.add_parser(
        "search",
        help="the chunks best answering a question",
        description="Search a knowledge base. Exit status 2 for an unknown knowledge base.",
    )
    search.add_argument("name", help="the knowledge base")
    search.add_argument("question")
    search.add_argument("-k", type=_at_least_one, default=3, help="how many chunks (default 3)")
    search.add_argument("--json", action="store_true", help='[{"source", "text", "score"}], best first')


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: ask for at least one chunk")
    return value


async def _ingest(settings: Settings, name: str, folder: Path) -> IngestReport:
    from db.knowledge import ingest_folder
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    try:
        return await ingest_folder(pool, name, folder)
    finally:
        await pool.close()


async def _search(settings: Settings, name: str, question: str, k: int) -> list[Hit]:
    from db.knowledge import load_index_chunks
    from knowledge.index import KnowledgeIndex
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    try:
        version, chunks = await load_index_chunks(pool, name)
    finally:
        await pool.close()
    return await asyncio.to_thread(KnowledgeIndex.from_chunks(name, version, chunks).search, question, k)


def _print_report(report: IngestReport) -> None:
    files = sorted(report.files, key=lambda f: (_OUTCOME_ORDER.index(f.outcome), f.source))
    for f in files:
        if f.outcome == "failed":
            print(f"{f.outcome:<9} {f.reason}")  # the reason starts with the file's name
        elif f.outcome in ("added", "updated"):
            print(f"{f.outcome:<9} {f.source} ({f.chunks} chunks)")
        else:
            print(f"{f.outcome:<9} {f.source}")
    counts = ", ".join(
        f"{n} {outcome}" for outcome in _OUTCOME_ORDER if (n := sum(f.outcome == outcome for f in files))
    )
    print(f"knowledge base {report.name!r} version {report.version}: {counts}")


def _print_hits(hits: list[Hit], as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                [{"source": h.source, "text": h.text, "score": round(h.score, 6)} for h in hits], indent=2
            )
        )
        return
    if not hits:
        print("no match")
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. {hit.source} — {hit.heading}  (score {hit.score:.4f})")
        for line in hit.text.splitlines():
            print(textwrap.fill(line, 100, initial_indent="   ", subsequent_indent="   "))


def run(settings: Settings, args: argparse.Namespace) -> int | None:
    """Run the command if it is `kb` (its exit status); None if it is not."""
    if args.command != "kb":
        return None
    from db.knowledge import UnknownKnowledgeBase
    from knowledge.ingest import NoDocuments

    try:
        if args.kb_command == "ingest":
            report = asyncio.run(_ingest(settings, args.name, args.folder))
            _print_report(report)
            return 1 if report.failed else 0
        _print_hits(asyncio.run(_search(settings, args.name, args.question, args.k)), args.json)
        return 0
    except (NoDocuments, UnknownKnowledgeBase) as exc:
        print(f"rapport: {exc}", file=sys.stderr)
        return 2
