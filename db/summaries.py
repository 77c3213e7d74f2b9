"""Post-call summaries: one row per call, written once the call's events are all stored."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

__all__ = ["Summary", "load_summary", "save_summary"]


@dataclass(frozen=True)
class Summary:
    call_id: str
    summary: str | None
    error: str | None
    model: str


async def save_summary(pool: asyncpg.Pool, summary: Summary) -> None:
    """Store the call's summary; a retried activity overwrites its own earlier row."""
    await pool.execute(
        "INSERT INTO call_summaries (call_id, summary, error, model) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (call_id) DO UPDATE SET summary = $2, error = $3, model = $4, created_at = now()",
        summary.call_id,
        summary.summary,
        summary.error,
        summary.model,
    )


async def load_summary(pool: asyncpg.Pool, call_id: str) -> Summary | None:
    row = await pool.fetchrow(
        "SELECT call_id, summary, error, model FROM call_summaries WHERE call_id = $1", call_id
    )
    return Summary(**dict(row)) if row is not None else None
