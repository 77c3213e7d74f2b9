"""`rapport load`: N scripted callers, C at a time, against real agent sessions.

Each call is a real `Call` (livekit's AgentSession, the turn-taking machine, Silero VAD, the event
recorder streaming into the call's Temporal workflow and on into PostgreSQL); only the paid cloud
providers are fakes (`loadtest.fakes`). The callers speak real recorded audio, rendered once, and
measure voice-to-voice on their side of the audio, as `rapport call` does.

The calls run in `processes` agent processes (`loadtest.agents`), as LiveKit's worker runs its
jobs in processes of their own, while this process runs the Temporal worker, as `worker.py` would:
an agent process's event loop is never shared with the worker's. The agent processes keep their
Prometheus metrics in a shared folder (multiprocess mode, as livekit's job processes do), which
this process reads for the load function's inputs and serves on `--metrics-port`.

The first wave of callers is spread over `ramp_s` rather than dialling in the same instant: real
calls arrive at random, and callers speaking in lockstep would measure a burst, not a load.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from tqdm import tqdm

from db.query_times import QueryTimes
from loadtest.fakes import FakeCloud
from loadtest.job import MARK, AgentJob, CallResult, save_audio
from loadtest.messages import child_messages
from loadtest.probes import Probes, watch
from loadtest.summary import summarise
from realtime.load import LoadInputs, read_buckets, read_gauge
from realtime.transports.scenario import Scenario
from realtime.transports.scripted import render_turns

__all__ = ["LoadPlan", "run_load", "stored_events"]


@dataclass(frozen=True)
class LoadPlan:
    calls: int
    concurrency: int
    scenario: Scenario
    fakes: FakeCloud
    seed: int = 1
    ramp_s: float = 10.0
    processes: int = 2
    capacity: int = 40
    budget_ms: float = 1500.0
    threshold: float = 0.7

    def inputs(self, cpu: float, active: int, p95_ms: float | None) -> LoadInputs:
        """The load function's inputs, as this host's LiveKit worker would have them."""
        return LoadInputs(cpu, active, self.capacity, p95_ms, self.budget_ms, self.threshold)


def _processes(plan: LoadPlan) -> int:
    return max(1, min(plan.processes, plan.calls, plan.concurrency))


def _jobs(plan: LoadPlan, audio: Path) -> list[AgentJob]:
    processes = _processes(plan)
    # Process k runs calls k, k+P, k+2P, …, and its share of the concurrency: C in all.
    share, extra = divmod(plan.concurrency, processes)
    return [
        AgentJob(
            indices=list(range(k, plan.calls, processes)),
            concurrency=share + (k < extra),
            first_wave=min(plan.calls, plan.concurrency),
            ramp_s=plan.ramp_s,
            seed=plan.seed,
            scenario=str(plan.scenario.path),
            audio=str(audio),
            stt_final=str(plan.fakes.stt_final),
            llm_ttft=str(plan.fakes.llm_ttft),
            tts_ttfa=str(plan.fakes.tts_ttfa),
            llm_token_ms=plan.fakes.llm_token_ms,
        )
        for k in range(processes)
    ]


async def stored_events(pool: asyncpg.Pool, call_ids: Sequence[str]) -> dict[str, int]:
    """How many events PostgreSQL holds for each call."""
    rows = await pool.fetch(
        "SELECT call_id, count(*) AS n FROM events WHERE call_id = ANY($1::text[]) GROUP BY call_id",
        list(call_ids),
    )
    return {row["call_id"]: int(row["n"]) for row in rows}


@dataclass
class _Outcome:
    results: list[CallResult] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)


async def _agent_process(
    job: AgentJob, env: dict[str, str], outcome: _Outcome, on_done: Callable[[bool], None]
) -> None:
    async with contextlib.aclosing(
        child_messages("loadtest.agents", json.dumps(asdict(job)), MARK, env=env)
    ) as messages:
        async for message in messages:
            if message["kind"] == "done":
                on_done(message["ok"])
            elif message["kind"] == "result":
                outcome.results += [CallResult.from_json(c) for c in message["calls"]]
                outcome.lag_ms += message["lag_ms"]
                return


async def run_load(
    plan: LoadPlan,
    *,
    temporal_address: str,
    pool: asyncpg.Pool,
    query_times: QueryTimes | None = None,
    progress: bool = True,
    metrics_dir: Path,
) -> dict[str, Any]:
    """Run the plan; the report (`summary` and per-call results) as JSON-ready data.

    The agent processes record through Temporal at `temporal_address`; `pool` is the worker's
    database (to count what was stored); `metrics_dir` is where they keep their metrics.
    """
    audio_file = metrics_dir.parent / f"{metrics_dir.name}-audio.npz"
    save_audio(await asyncio.to_thread(render_turns, plan.scenario), audio_file)
    env = {**os.environ, "TEMPORAL_ADDRESS": temporal_address, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    bar = tqdm(total=plan.calls, desc="rapport load", unit="call", file=sys.stderr, disable=not progress)
    failures = 0

    def done(ok: bool) -> None:
        nonlocal failures
        failures += not ok
        bar.update()
        bar.set_postfix(errors=failures, refresh=False)

    outcome = _Outcome()
    if query_times is not None:
        query_times.on = True
    started = time.monotonic()
    folder = str(metrics_dir)
    try:
        async with watch(
            lambda: int(read_gauge("rapport_active_calls", folder)), plan.inputs, lambda: read_buckets(folder)
        ) as probes:
            await asyncio.gather(
                *(_agent_process(job, env, outcome, done) for job in _jobs(plan, audio_file))
            )
    finally:
        audio_file.unlink(missing_ok=True)
        bar.close()
    wall_s = time.monotonic() - started
    if query_times is not None:
        query_times.on = False
    results = sorted(outcome.results, key=lambda r: r.index)
    stored = await stored_events(pool, [r.call_id for r in results if r.call_id])
    for result in results:
        result.events_stored = stored.get(result.call_id or "", 0)
    probes.lag_ms += outcome.lag_ms
    return _report(plan, results, probes, query_times, wall_s)


def _report(
    plan: LoadPlan,
    results: list[CallResult],
    probes: Probes,
    query_times: QueryTimes | None,
    wall_s: float,
) -> dict[str, Any]:
    return {
        "run": {
            "calls": plan.calls,
            "concurrency": plan.concurrency,
            "processes": _processes(plan),
            "seed": plan.seed,
            "ramp_s": plan.ramp_s,
            "scenario": str(plan.scenario.path),
            "fakes": {
                "stt_final_ms": str(plan.fakes.stt_final),
                "llm_ttft_ms": str(plan.fakes.llm_ttft),
                "tts_ttfa_ms": str(plan.fakes.tts_ttfa),
                "llm_token_ms": plan.fakes.llm_token_ms,
            },
            "load_function": {
                "capacity": plan.capacity,
                "budget_ms": plan.budget_ms,
                "threshold": plan.threshold,
            },
        },
        "summary": summarise(plan.concurrency, results, probes, query_times, wall_s),
        "calls": [r.as_json() for r in results],
        "samples": [asdict(s) for s in probes.samples],
    }
