"""The append-only event store: each call's events, numbered from 1, each stored exactly once."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "MalformedEvent",
    "StoredEvent",
    "UnknownCall",
    "append_events",
    "check_event",
    "read_events",
    "without_nul",
]


class UnknownCall(LookupError):
    """No events are stored for this call id."""


class MalformedEvent(ValueError):
    """An event that cannot be stored; the message names the call, the seq and the field."""


@dataclass(frozen=True)
class StoredEvent:
    """One event of one call. `(call_id, seq)` is its identity; `at` is the call clock's time."""

    call_id: str
    seq: int
    type: str
    version: int
    at: float
    data: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "version": self.version,
            "at": self.at,
            "data": dict(self.data),
        }


def _as_json(event: StoredEvent) -> str:
    """The event as a JSON object, or MalformedEvent saying what is wrong with it."""
    where = f"event {event.call_id or '?'}#{event.seq}"
    if not event.call_id:
        raise MalformedEvent(f"{where}: call_id is empty")
    if isinstance(event.seq, bool) or not isinstance(event.seq, int) or event.seq < 1:
        raise MalformedEvent(f"{where}: seq must be an integer from 1, not {event.seq!r}")
    if not event.type:
        raise MalformedEvent(f"{where}: type is empty")
    if isinstance(event.version, bool) or not isinstance(event.version, int) or event.version < 1:
        raise MalformedEvent(f"{where}: version must be an integer from 1, not {event.version!r}")
    if not isinstance(event.at, int | float) or not math.isfinite(event.at):
        raise MalformedEvent(f"{where}: at must be a finite number, not {event.at!r}")
    if not isinstance(event.data, Mapping):
        raise MalformedEvent(f"{where}: data must be an object, not {type(event.data).__name__}")
    record = {"call_id": event.call_id, "seq": event.seq, "type": event.type, "version": event.version}
    try:
        data = without_nul(dict(event.data))
        return json.dumps({**record, "at": float(event.at), "data": data}, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"{where}: data is not JSON ({exc})") from None


def check_event(event: StoredEvent) -> None:
    """MalformedEvent, naming the call, seq and field, if `append_events` could not store it."""
    _as_json(event)


def without_nul(value: Any) -> Any:
    """`value` with NUL characters replaced (U+FFFD): PostgreSQL text and jsonb cannot hold them,
    and a stray one in a transcript should not cost the event."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


async def append_events(
    conn: asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool, events: Sequence[StoredEvent]
) -> int:
    """Store a batch in one statement; events already stored are skipped. Returns how many were new.

    The whole batch is checked before anything is written, so a bad event loses no good ones
    silently: the caller gets the error and still holds the batch.
    """
    if not events:
        return 0
    # One jsonb parameter for the whole batch: array parameters of bigint, float8 or jsonb would
    # make asyncpg look their types up on every new connection (a slow catalogue query).
    batch = "[" + ",".join(_as_json(event) for event in events) + "]"
    rows = await conn.fetch(
        """
        INSERT INTO events (call_id, seq, type, version, at, data)
        SELECT call_id, seq, type, version, at, data FROM jsonb_to_recordset($1::jsonb)
            AS batch(call_id text, seq bigint, type text, version int, at float8, data jsonb)
        ORDER BY seq
        ON CONFLICT (call_id, seq) DO NOTHING
        RETURNING seq
        """,
        batch,
    )
    return len(rows)


async def read_events(
    conn: asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool, call_id: str
) -> list[StoredEvent]:
    """A call's events in seq order; UnknownCall if there are none."""
    rows = await conn.fetch(
        "SELECT seq, type, version, at, data::text AS data FROM events WHERE call_id = $1 ORDER BY seq",
        call_id,
    )
    if not rows:
        raise UnknownCall(f"no events stored for call {call_id!r}")
    return [
        StoredEvent(call_id, row["seq"], row["type"], row["version"], row["at"], json.loads(row["data"]))
        for row in rows
    ]
