"""What a load run watches besides the calls: CPU by process, event-loop lag, the worker's load.

Sampled once a second while the calls run, so the report can say what saturated first: the
machine's CPU, the agent processes' (each one event loop, so one core at most), this process's
(the Temporal worker), the Temporal server's, PostgreSQL's, or the loops falling behind their
timers (the agent processes measure their own lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import psutil

from realtime.load import Buckets, LoadInputs, RecentLatency, worker_load

__all__ = ["Probes", "Sample", "watch"]

SAMPLE_EVERY_S = 1.0
FIND_EVERY_S = 5.0


@dataclass(frozen=True)
class Sample:
    """One second of the run."""

    t: float
    active_calls: int
    machine_cpu: float
    """Percent of all cores together (100 = the whole machine)."""
    agents_cpu: float
    """The agent processes together, in percent of one core."""
    worker_cpu: float
    """This process (the Temporal worker), in percent of one core."""
    temporal_cpu: float
    postgres_cpu: float
    worker_load: float
    p95_ms: float | None


@dataclass
class Probes:
    samples: list[Sample] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)


def _named(name: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] and name in proc.info["name"]:
            found.append(proc)
    return found


def _runs(proc: psutil.Process, module: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return module in proc.cmdline()
    return False


def _percent(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.cpu_percent(None)
    return total


async def _sample(
    probes: Probes,
    active: Callable[[], int],
    load: Callable[[float, int, float | None], LoadInputs],
    buckets: Callable[[], Buckets],
) -> None:
    loop = asyncio.get_running_loop()
    me = psutil.Process(os.getpid())
    found: dict[str, list[psutil.Process]] = {}
    found_at = float("-inf")

    def groups() -> list[list[psutil.Process]]:
        # Looked up again now and then: PostgreSQL starts a backend per connection as pools grow.
        # psutil hands back the same objects for live processes, so their CPU clocks carry over.
        nonlocal found_at
        if loop.time() - found_at >= FIND_EVERY_S:
            found.update(
                agents=[c for c in me.children() if _runs(c, "loadtest.agents")],
                temporal=_named("temporal"),
                postgres=_named("postgres"),
            )
            found_at = loop.time()
        return [found["agents"], [me], found["temporal"], found["postgres"]]

    for group in groups():
        _percent(group)  # a process's first reading only starts its clock
    psutil.cpu_percent(None)
    latency = RecentLatency()
    started = loop.time()
    while True:
        await asyncio.sleep(SAMPLE_EVERY_S)
        now = loop.time()
        latency.update(now, buckets())
        machine = psutil.cpu_percent(None)
        inputs = load(machine / 100, active(), latency.p95_ms())
        agents, worker, temporal, postgres = groups()
        probes.samples.append(
            Sample(
                t=round(now - started, 1),
                active_calls=inputs.active_calls,
                machine_cpu=machine,
                agents_cpu=_percent(agents),
                worker_cpu=_percent(worker),
                temporal_cpu=_percent(temporal),
                postgres_cpu=_percent(postgres),
                worker_load=round(worker_load(inputs), 3),
                p95_ms=inputs.p95_ms,
            )
        )


@contextlib.asynccontextmanager
async def watch(
    active: Callable[[], int],
    load: Callable[[float, int, float | None], LoadInputs],
    buckets: Callable[[], Buckets],
) -> AsyncIterator[Probes]:
    """Sample until the block ends. `load` makes the load function's inputs from the machine's CPU
    (0..1), the active calls and the recent p95 (from `buckets`), as the LiveKit worker would."""
    probes = Probes()
    task = asyncio.create_task(_sample(probes, active, load, buckets))
    try:
        yield probes
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
