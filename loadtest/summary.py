"""The load report's `summary`: the run in the figures the scaling targets are stated in."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from db.query_times import QueryTimes
from loadtest.probes import Probes
from rapport.stats import percentile

if TYPE_CHECKING:
    from loadtest.job import CallResult

__all__ = ["summarise"]


def _p(values: Sequence[float], q: float) -> float | None:
    return round(percentile(values, q), 1) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def _db(query_times: QueryTimes | None) -> dict[str, Any]:
    if query_times is None:
        # The worker runs elsewhere (TEMPORAL_ADDRESS): its queries are not this process's to time.
        return {"db_query_p99_ms": None, "db_queries": 0, "db_slowest": []}
    worker = {shape: ms for (who, shape), ms in query_times.samples.items() if who == "worker"}
    every = [ms for samples in worker.values() for ms in samples]
    slowest = sorted(worker.items(), key=lambda kv: percentile(kv[1], 99), reverse=True)[:5]
    return {
        "db_query_p99_ms": _p(every, 99),
        "db_queries": len(every),
        "db_slowest": [
            {"statement": shape[:120], "count": len(ms), "p99_ms": _p(ms, 99)} for shape, ms in slowest
        ],
    }


def summarise(
    concurrency: int,
    results: Sequence[CallResult],
    probes: Probes,
    query_times: QueryTimes | None,
    wall_s: float,
) -> dict[str, Any]:
    replies = [r for result in results for r in result.replies]
    v2v = [r.voice_to_voice_ms for r in replies]
    overhead = [r.overhead_ms for r in replies if r.overhead_ms is not None]
    sent = sum(r.events_sent for r in results)
    stored = sum(r.events_stored for r in results)
    samples = probes.samples
    # While the calls were all up: the first and last seconds are the ramp and the tail.
    busy = [s for s in samples if s.active_calls >= max(1, round(concurrency * 0.9))] or samples
    return {
        "calls": len(results),
        "concurrency": concurrency,
        "completed": sum(r.error is None for r in results),
        "errors": sum(r.error is not None for r in results),
        "replies": len(replies),
        "unanswered_turns": sum(max(0, r.caller_turns - len(r.replies)) for r in results if r.error is None),
        "voice_to_voice_ms_p50": _p(v2v, 50),
        "voice_to_voice_ms_p95": _p(v2v, 95),
        "overhead_ms_p50": _p(overhead, 50),
        "overhead_ms_p95": _p(overhead, 95),
        "overhead_ms_max": round(max(overhead), 1) if overhead else None,
        "replies_unattributed": len(replies) - len(overhead),
        "fakes_ms_p50": {
            "stt_final": _p([r.stt_final_ms for r in replies if r.stt_final_ms is not None], 50),
            "llm_ttft": _p([r.llm_ttft_ms for r in replies if r.llm_ttft_ms is not None], 50),
            "tts_ttfa": _p([r.tts_ttfa_ms for r in replies if r.tts_ttfa_ms is not None], 50),
        },
        "events_sent": sent,
        "events_stored": stored,
        "events_lost": sent - stored,
        **_db(query_times),
        "cpu": {
            "machine_percent_mean": _mean([s.machine_cpu for s in busy]),
            "machine_percent_max": max((s.machine_cpu for s in samples), default=None),
            "agent_processes_percent_mean": _mean([s.agents_cpu for s in busy]),
            "temporal_worker_percent_mean": _mean([s.worker_cpu for s in busy]),
            "temporal_server_percent_mean": _mean([s.temporal_cpu for s in busy]),
            "postgres_percent_mean": _mean([s.postgres_cpu for s in busy]),
        },
        "event_loop_lag_ms_p50": _p(probes.lag_ms, 50),
        "event_loop_lag_ms_p99": _p(probes.lag_ms, 99),
        "worker_load_max": max((s.worker_load for s in samples), default=None),
        "wall_s": round(wall_s, 1),
    }
