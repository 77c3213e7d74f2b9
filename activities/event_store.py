"""The activity that writes a call's events to PostgreSQL, idempotently."""

from __future__ import annotations

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.event_store import MalformedEvent, StoredEvent, append_events, check_event, without_nul
from db.projections import ProjectionGap, apply_events
from rapport.logs import get_logger
from workflows.records import EventRecord, StoreEventsInput, rejected

__all__ = ["EventStoreActivities"]

log = get_logger(__name__)


class EventStoreActivities:
    """Activities sharing the worker's connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="store_events")
    async def store_events(self, batch: StoreEventsInput) -> int:
        """Append the batch and bring the call's projections up to date, in one transaction.

        A retry after a lost reply writes nothing twice. Returns how many events were new.
        """
        events = [_storable(batch.call_id, record) for record in batch.events]
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                added = await append_events(conn, events)
                await apply_events(conn, batch.call_id, events)
        except (MalformedEvent, ProjectionGap, asyncpg.DataError) as exc:
            # Retrying cannot fix either: fail the workflow, visibly, rather than stall it forever.
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        return added


def _storable(call_id: str, record: EventRecord) -> StoredEvent:
    """The event to store: the record, or what stands in for it if it cannot be stored."""
    # Cleaned once for the log and the projections (a transcript's text goes to both).
    event = StoredEvent(call_id, record.seq, record.type, record.version, record.at, without_nul(record.data))
    try:
        check_event(event)
    except MalformedEvent as exc:
        log.warning("event_store.event_rejected", call_id=call_id, seq=record.seq, event_type=record.type)
        stand_in = rejected(record, str(exc))
        return StoredEvent(call_id, stand_in.seq, stand_in.type, stand_in.version, stand_in.at, stand_in.data)
    return event
