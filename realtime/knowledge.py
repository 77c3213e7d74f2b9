"""The knowledge bases a call's stages draw on, held in this process for the whole call.

The call's workflow reads them from Postgres (off the hot path, when the call starts); this
process keeps each base's index by name and version, so the next call on a base that has not
changed gets it without a transfer. Searching runs in a thread: the query's embedding takes
milliseconds of CPU the audio loop must not wait behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from knowledge.index import Hit, IndexedChunk, KnowledgeIndex
from rapport.logs import get_logger

__all__ = ["CallKnowledge", "Fetch", "Retrieved", "held_index"]

log = get_logger(__name__)

PASSAGES = 2
"""Passages per caller turn: each one costs the local model prompt evaluation before it speaks."""
PASSAGE_WORDS = 70

Fetch = Callable[[str, str | None], Awaitable[tuple[str, list[IndexedChunk]] | None]]
"""Asks the call's workflow for a base: (version, chunks), or None when `held` is still current."""

_held: dict[str, KnowledgeIndex] = {}


def held_index(name: str) -> KnowledgeIndex | None:
    """The index this process holds for the base `name`, if any call has loaded it."""
    return _held.get(name)


@dataclass(frozen=True)
class Retrieved:
    """The passages found for one caller turn, and how long finding them took."""

    hits: list[tuple[str, Hit]]
    """(knowledge base, hit), best first."""
    took_ms: float

    def passages(self) -> list[dict[str, object]]:
        """What the event log keeps of them: where each passage came from, not its text."""
        return [
            {"kb": kb, "source": hit.source, "heading": hit.heading, "score": round(hit.score, 4)}
            for kb, hit in self.hits
        ]

    def as_context(self) -> str:
        lines = ["Facts from our documents that may answer the caller (use them if they do):"]
        for _, hit in self.hits:
            words = hit.text.split()
            text = " ".join(words[:PASSAGE_WORDS]) + (" ..." if len(words) > PASSAGE_WORDS else "")
            lines.append(f"- {hit.heading}: {text}" if hit.heading else f"- {text}")
        return "\n".join(lines)


class CallKnowledge:
    """The bases of one call: loaded in the background when it starts, searched per caller turn."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._ready: dict[str, KnowledgeIndex] = {}

    @property
    def loaded(self) -> list[str]:
        return sorted(self._ready)

    async def load(self, names: Iterable[str]) -> None:
        """Have every base in `names` in process; a base that cannot be had is logged and skipped."""
        for name in dict.fromkeys(names):
            held = _held.get(name)
            try:
                fetched = await self._fetch(name, held.version if held is not None else None)
            except Exception as exc:  # the call goes on without that base
                log.warning("knowledge.unavailable", kb=name, error=f"{type(exc).__name__}: {exc}")
                continue
            if fetched is not None:
                version, chunks = fetched
                # Building embeds nothing (the vectors come with the chunks) but does real work.
                held = await asyncio.to_thread(KnowledgeIndex.from_chunks, name, version, chunks)
                _held[name] = held
            assert held is not None
            self._ready[name] = held
            log.info("knowledge.ready", kb=name, version=held.version, chunks=len(held))

    async def search(self, names: Iterable[str], query: str, k: int = PASSAGES) -> Retrieved | None:
        """The best `k` passages for `query` over the loaded bases among `names`; None if none is loaded."""
        indexes = [self._ready[name] for name in dict.fromkeys(names) if name in self._ready]
        if not indexes or not query.strip():
            return None

        def best() -> list[tuple[str, Hit]]:
            # Fused scores are rank-based, so the bases' best passages compare well enough.
            hits = [(index.name, hit) for index in indexes for hit in index.search(query, k)]
            return sorted(hits, key=lambda pair: pair[1].score, reverse=True)[:k]

        started = time.perf_counter()
        hits = await asyncio.to_thread(best)
        return Retrieved(hits, (time.perf_counter() - started) * 1000)
