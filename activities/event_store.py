"""The activity that writes a call's events to PostgreSQL, idempotently."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from db.event_store import StoredEvent, append_events
from db.projections import apply_events
from workflows.records import StoreEventsInput

__all__ = ["EventStoreActivities"]


class EventStoreActivities:
    """Activities sharing the worker's connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="store_events")
    async def store_events(self, batch: StoreEventsInput) -> int:
        """Append the batch and bring the call's projections up to date, in one transaction.

        A retry after a lost reply writes nothing twice. Returns how many events were new.
        """
        events = [StoredEvent(batch.call_id, e.seq, e.type, e.version, e.at, e.data) for e in batch.events]
        async with self._pool.acquire() as conn, conn.transaction():
            added = await append_events(conn, events)
            await apply_events(conn, batch.call_id, events)
        return added
