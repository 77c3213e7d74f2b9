"""Projections of the event log: one row per call, one per turn. Pure to build, easy to check.

`advance` folds events into a call's row; `project` is that fold over the events alone, so
`rapport replay` can rebuild the conversation state from the log and compare it with the tables,
which `apply_events` keeps up to date batch by batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields, replace

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.event_store import StoredEvent

__all__ = [
    "CallRow",
    "Projection",
    "ProjectionGap",
    "TurnRow",
    "advance",
    "apply_events",
    "empty_call",
    "load_projection",
    "project",
]


@dataclass(frozen=True)
class CallRow:
    call_id: str
    statechart: str | None
    statechart_version: str | None
    started_at: float | None
    ended_at: float | None
    end_reason: str | None
    last_seq: int
    # The VAD's end of the caller's speech that the next agent reply answers (its latency's start).
    awaiting_reply_since: float | None = None
    rep_id: str | None = None
    started_wall: float | None = None


_CALL_COLUMNS = ", ".join(f.name for f in fields(CallRow))
_CALL_VALUES = ", ".join(f"${i}" for i in range(1, len(fields(CallRow)) + 1))
_CALL_UPDATES = ", ".join(f"{f.name} = ${i}" for i, f in enumerate(fields(CallRow), 1) if i > 1)


@dataclass(frozen=True)
class TurnRow:
    seq: int
    speaker: str
    text: str
    heard_text: str | None
    interrupted: bool
    at: float
    latency_ms: int | None


@dataclass(frozen=True)
class Projection:
    call: CallRow
    turns: tuple[TurnRow, ...]


class ProjectionGap(RuntimeError):
    """Events handed to a projection do not follow on from what it has seen."""


def _agent_turn(event: StoredEvent, awaiting_since: float | None) -> TurnRow:
    data = event.data
    start = float(data.get("started_at", event.at))
    latency = (
        round((start - awaiting_since) * 1000)
        if awaiting_since is not None and start >= awaiting_since
        else None
    )
    return TurnRow(
        event.seq,
        "agent",
        str(data.get("text", "")),
        str(data.get("heard_text", "")),
        bool(data.get("interrupted", False)),
        start,
        latency,
    )


def advance(call: CallRow, events: Sequence[StoredEvent]) -> tuple[CallRow, tuple[TurnRow, ...]]:
    """Fold events (seq order) into the call's row; returns the new row and the turns they add.

    Events the row has already seen are skipped, so a retried batch changes nothing; a gap is an
    error, because a turn's latency depends on every event before it.
    """
    turns: list[TurnRow] = []
    for event in events:
        if event.seq <= call.last_seq:
            continue
        if event.seq != call.last_seq + 1:
            raise ProjectionGap(f"call {call.call_id!r}: expected seq {call.last_seq + 1}, got {event.seq}")
        data = event.data
        call = replace(call, last_seq=event.seq)
        if event.type == "call_started":
            call = replace(
                call,
                statechart=data.get("statechart"),
                statechart_version=data.get("statechart_version"),
                started_at=event.at,
                rep_id=data.get("rep_id"),
                started_wall=data.get("wall_time"),
            )
        elif event.type == "call_ended":
            call = replace(call, ended_at=event.at, end_reason=data.get("reason"))
        elif event.type == "machine_transition" and data.get("event") == "speech_ended":
            call = replace(call, awaiting_reply_since=event.at)
        elif event.type == "caller_utterance":
            turns.append(TurnRow(event.seq, "caller", str(data.get("text", "")), None, False, event.at, None))
        elif event.type == "agent_utterance":
            turns.append(_agent_turn(event, call.awaiting_reply_since))
            # One reply per end of speech: a second utterance (a nudge, a recovery) has no latency.
            call = replace(call, awaiting_reply_since=None)
    return call, tuple(turns)


def empty_call(call_id: str) -> CallRow:
    return CallRow(call_id, None, None, None, None, None, 0)


def project(call_id: str, events: Sequence[StoredEvent]) -> Projection:
    """The call and its turns, from all its events in seq order: what `rapport replay` rebuilds."""
    call, turns = advance(empty_call(call_id), events)
    return Projection(call, turns)


Executor = asyncpg.Connection | PoolConnectionProxy


async def apply_events(conn: Executor, call_id: str, events: Sequence[StoredEvent]) -> None:
    """Bring the call's rows up to date with a batch just appended (inside the append's transaction).

    Reads only the call's row, never its earlier events, so the cost of a batch does not grow with
    the length of the call.
    """
    row = await conn.fetchrow(f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = $1 FOR UPDATE", call_id)
    before = CallRow(**dict(row)) if row is not None else empty_call(call_id)
    after, turns = advance(before, events)
    if after == before:
        return
    await conn.execute(
        f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES ({_CALL_VALUES})"
        f" ON CONFLICT (call_id) DO UPDATE SET {_CALL_UPDATES}",
        *astuple(after),
    )
    if turns:
        await conn.executemany(
            "INSERT INTO turns (call_id, seq, speaker, text, heard_text, interrupted, at, latency_ms)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [(call_id, *astuple(t)) for t in turns],
        )


async def load_projection(conn: Executor | asyncpg.Pool, call_id: str) -> Projection | None:
    row = await conn.fetchrow(f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = $1", call_id)
    if row is None:
        return None
    turns = await conn.fetch(
        "SELECT seq, speaker, text, heard_text, interrupted, at, latency_ms"
        " FROM turns WHERE call_id = $1 ORDER BY seq",
        call_id,
    )
    return Projection(
        CallRow(**dict(row)),
        tuple(TurnRow(**dict(t)) for t in turns),
    )
