"""Scorecards: a call's metrics (stored first) and its rubric (stored when the LLM has judged)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["Scorecard", "load_scorecard", "save_metrics", "save_rubric"]

Executor = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool


@dataclass(frozen=True)
class Scorecard:
    call_id: str
    metrics: Mapping[str, Any]
    rubric: Sequence[Mapping[str, Any]]
    rubric_name: str | None
    rubric_status: str
    rubric_error: str | None
    score: float | None
    summary: str | None

    def as_json(self) -> dict[str, Any]:
        """What `rapport scorecard --json` prints and the dashboard's API serves."""
        return {
            "call_id": self.call_id,
            "metrics": dict(self.metrics),
            "rubric": [dict(c) for c in self.rubric],
            "rubric_name": self.rubric_name,
            "rubric_status": self.rubric_status,
            "rubric_error": self.rubric_error,
            "score": self.score,
            "summary": self.summary,
        }


async def save_metrics(conn: Executor, call_id: str, metrics: Mapping[str, Any]) -> None:
    """The scorecard's first part: exact metrics, the rubric pending. A retry rewrites the metrics."""
    await conn.execute(
        "INSERT INTO scorecards (call_id, metrics, rubric_status) VALUES ($1, $2::jsonb, 'pending')"
        " ON CONFLICT (call_id) DO UPDATE SET metrics = $2::jsonb, updated_at = now()",
        call_id,
        json.dumps(metrics),
    )


async def save_rubric(
    conn: Executor,
    call_id: str,
    *,
    rubric_name: str,
    criteria: Sequence[Mapping[str, Any]],
    score: float | None,
    error: str | None = None,
) -> None:
    """The rubric's verdict, or (`error` set) why there is none; the scorecard is then final."""
    await conn.execute(
        "UPDATE scorecards SET rubric = $2::jsonb, rubric_name = $3, rubric_status = $4, rubric_error = $5,"
        " score = $6, updated_at = now() WHERE call_id = $1",
        call_id,
        json.dumps(list(criteria)),
        rubric_name,
        "failed" if error else "scored",
        error,
        score,
    )


async def load_scorecard(conn: Executor, call_id: str) -> Scorecard | None:
    row = await conn.fetchrow(
        "SELECT s.call_id, s.metrics::text AS metrics, s.rubric::text AS rubric, s.rubric_name,"
        " s.rubric_status, s.rubric_error, s.score, m.summary"
        " FROM scorecards s LEFT JOIN call_summaries m USING (call_id) WHERE s.call_id = $1",
        call_id,
    )
    if row is None:
        return None
    return Scorecard(
        call_id=row["call_id"],
        metrics=json.loads(row["metrics"]),
        rubric=json.loads(row["rubric"]),
        rubric_name=row["rubric_name"],
        rubric_status=row["rubric_status"],
        rubric_error=row["rubric_error"],
        score=row["score"],
        summary=row["summary"],
    )
