"""Knowledge bases for a call's process: read from Postgres in pages that fit a Temporal payload."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from db.knowledge import load_index_page
from rapport.logs import get_logger
from workflows.records import KnowledgePage, KnowledgeRequest

__all__ = ["KnowledgeActivities"]

log = get_logger(__name__)


class KnowledgeActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="knowledge_page")
    async def knowledge_page(self, request: KnowledgeRequest) -> KnowledgePage:
        """A page of the base's chunks, or none at all when the caller already holds this version.

        An unknown base is an error the workflow does not retry: the name comes from a statechart.
        """
        version, total, page = await load_index_page(
            self._pool, request.name, request.offset, request.limit, unless_version=request.held_version
        )
        if version == request.held_version:
            return KnowledgePage(request.name, version, total=total, chunks=[], current=True)
        log.info("knowledge.page", kb=request.name, offset=request.offset, chunks=len(page))
        return KnowledgePage(request.name, version, total=total, chunks=page)
