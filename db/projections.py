"""Projections of the event log: one row per call, one per turn. Pure to build, easy to check.

`project` is a function of the events alone, so `rapport replay` can rebuild the conversation
state from the log and compare it with what the tables hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.event_store import StoredEvent

__all__ = ["CallRow", "Projection", "TurnRow", "load_projection", "project", "save_projection"]


@dataclass(frozen=True)
class CallRow:
    call_id: str
    statechart: str | None
    statechart_version: str | None
    started_at: float | None
    ended_at: float | None
    end_reason: str | None
    last_seq: int


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


def project(call_id: str, events: Sequence[StoredEvent]) -> Projection:
    """The call and its turns, from its events in seq order."""
    statechart = version = reason = None
    started = ended = None
    turns: list[TurnRow] = []
    speech_ended: float | None = None
    for event in events:
        data = event.data
        if event.type == "call_started":
            statechart, version, started = data.get("statechart"), data.get("statechart_version"), event.at
        elif event.type == "call_ended":
            ended, reason = event.at, data.get("reason")
        elif event.type == "machine_transition" and data.get("event") == "speech_ended":
            speech_ended = event.at
        elif event.type == "caller_utterance":
            turns.append(TurnRow(event.seq, "caller", str(data.get("text", "")), None, False, event.at, None))
        elif event.type == "agent_utterance":
            start = float(data.get("started_at", event.at))
            latency = (
                round((start - speech_ended) * 1000)
                if speech_ended is not None and start >= speech_ended
                else None
            )
            # One reply per end of speech: a second utterance (a nudge, a recovery) has no latency.
            speech_ended = None
            turns.append(
                TurnRow(
                    event.seq,
                    "agent",
                    str(data.get("text", "")),
                    str(data.get("heard_text", "")),
                    bool(data.get("interrupted", False)),
                    start,
                    latency,
                )
            )
    last_seq = events[-1].seq if events else 0
    return Projection(CallRow(call_id, statechart, version, started, ended, reason, last_seq), tuple(turns))


Executor = asyncpg.Connection | PoolConnectionProxy


async def save_projection(conn: Executor, projection: Projection) -> None:
    """Replace the call's rows with this projection (call inside the append's transaction)."""
    c = projection.call
    await conn.execute(
        """
        INSERT INTO calls
            (call_id, statechart, statechart_version, started_at, ended_at, end_reason, last_seq)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (call_id) DO UPDATE SET statechart = $2, statechart_version = $3, started_at = $4,
            ended_at = $5, end_reason = $6, last_seq = $7
        """,
        c.call_id,
        c.statechart,
        c.statechart_version,
        c.started_at,
        c.ended_at,
        c.end_reason,
        c.last_seq,
    )
    await conn.execute("DELETE FROM turns WHERE call_id = $1", c.call_id)
    await conn.executemany(
        "INSERT INTO turns (call_id, seq, speaker, text, heard_text, interrupted, at, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (c.call_id, t.seq, t.speaker, t.text, t.heard_text, t.interrupted, t.at, t.latency_ms)
            for t in projection.turns
        ],
    )


async def load_projection(conn: Executor | asyncpg.Pool, call_id: str) -> Projection | None:
    row = await conn.fetchrow("SELECT * FROM calls WHERE call_id = $1", call_id)
    if row is None:
        return None
    turns = await conn.fetch(
        "SELECT seq, speaker, text, heard_text, interrupted, at, latency_ms"
        " FROM turns WHERE call_id = $1 ORDER BY seq",
        call_id,
    )
    return Projection(
        CallRow(
            row["call_id"],
            row["statechart"],
            row["statechart_version"],
            row["started_at"],
            row["ended_at"],
            row["end_reason"],
            row["last_seq"],
        ),
        tuple(TurnRow(**dict(t)) for t in turns),
    )
