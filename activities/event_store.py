"""The activity that writes a call's events to PostgreSQL, idempotently."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from db.event_store import StoredEvent, append_events
from workflows.records import StoreEventsInput

__all__ = ["EventStoreActivities"]


class EventStoreActivities:
    """Activities sharing the worker's connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="store_events")
    async def store_events(self, batch: StoreEventsInput) -> int:
        """Append the batch; a retry after a lost reply writes nothing twice. Returns new rows."""
        return await append_events(
            self._pool,
            [StoredEvent(batch.call_id, e.seq, e.type, e.version, e.at, e.data) for e in batch.events],
        )
