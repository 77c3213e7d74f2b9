"""The event store on a real PostgreSQL: migrations, idempotent appends, ordered reads, bad input."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from db.event_store import MalformedEvent, StoredEvent, UnknownCall, append_events, read_events
from db.migrate import MigrationError, migrate, pending_migrations


def _events(call_id: str, seqs: range) -> list[StoredEvent]:
    return [
        StoredEvent(call_id, seq, "machine_transition", 1, seq * 0.25, {"machine": "turn_taking", "n": seq})
        for seq in seqs
    ]


async def test_migrations_apply_once_and_are_recorded(pool: asyncpg.Pool) -> None:
    """A second run applies nothing; every shipped migration is in schema_migrations."""
    async with pool.acquire() as conn:
        assert await migrate(conn) == []
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in pending_migrations()]


async def test_concurrent_starters_migrate_without_conflict(pool: asyncpg.Pool) -> None:
    """Two processes starting at once serialise on the advisory lock; neither fails."""
    async with pool.acquire() as a, pool.acquire() as b:
        assert await asyncio.gather(migrate(a), migrate(b)) == [[], []]


def test_a_misnamed_migration_file_is_named_in_the_error(tmp_path: Path) -> None:
    """Migration files must be NNNN_description.sql; anything else is refused by name."""
    (tmp_path / "0001_ok.sql").write_text("SELECT 1;", encoding="utf-8")
    (tmp_path / "2_bad.sql").write_text("SELECT 1;", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"2_bad\.sql"):
        pending_migrations(tmp_path)


async def test_events_come_back_in_seq_order_with_their_data(pool: asyncpg.Pool) -> None:
    """Appended out of order, read in seq order, with type, version, time and data intact."""
    call = uuid.uuid4().hex
    events = _events(call, range(1, 6))
    assert await append_events(pool, events[3:]) == 2
    assert await append_events(pool, events[:3]) == 3
    assert await read_events(pool, call) == events


async def test_a_retried_batch_writes_nothing_twice(pool: asyncpg.Pool) -> None:
    """Re-sending a batch (a retry after a lost reply) stores each event exactly once."""
    call = uuid.uuid4().hex
    batch = _events(call, range(1, 11))
    assert await append_events(pool, batch) == 10
    assert await append_events(pool, batch) == 0
    assert await append_events(pool, _events(call, range(8, 13))) == 2
    assert [e.seq for e in await read_events(pool, call)] == list(range(1, 13))


async def test_stored_events_cannot_be_changed_or_deleted(pool: asyncpg.Pool) -> None:
    """The table is append-only: UPDATE and DELETE are refused by the database itself."""
    call = uuid.uuid4().hex
    await append_events(pool, _events(call, range(1, 2)))
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("UPDATE events SET type = 'x' WHERE call_id = $1", call)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM events WHERE call_id = $1", call)


async def test_an_unknown_call_id_is_a_clear_error(pool: asyncpg.Pool) -> None:
    """Reading a call that has no events names the call id."""
    with pytest.raises(UnknownCall, match="'no-such-call'"):
        await read_events(pool, "no-such-call")


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (StoredEvent("c", 0, "t", 1, 0.0, {}), "seq must be an integer from 1"),
        (StoredEvent("c", 1, "", 1, 0.0, {}), "type is empty"),
        (StoredEvent("", 1, "t", 1, 0.0, {}), "call_id is empty"),
        (StoredEvent("c", 1, "t", 0, 0.0, {}), "version must be an integer from 1"),
        (StoredEvent("c", 1, "t", 1, float("nan"), {}), "at must be a finite number"),
        (StoredEvent("c", 1, "t", 1, 0.0, ["not", "an", "object"]), "data must be an object"),  # type: ignore[arg-type]
        (StoredEvent("c", 1, "t", 1, 0.0, {"x": object()}), "data is not JSON"),
    ],
)
async def test_a_malformed_event_is_refused_naming_what_is_wrong(
    pool: asyncpg.Pool, event: StoredEvent, problem: str
) -> None:
    """The whole batch is refused before any write, and the error names the event and field."""
    call = uuid.uuid4().hex
    good = StoredEvent(call, 1, "call_started", 1, 0.0, {"call_id": call})
    with pytest.raises(MalformedEvent, match=problem):
        await append_events(pool, [good, event])
    with pytest.raises(UnknownCall):
        await read_events(pool, call)
