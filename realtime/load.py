"""How full an agent worker is, for LiveKit's dispatcher: the worker's `load_fnc`.

livekit-agents calls the load function every half second, publishes the value
(`lk_agents_worker_load`) and stops taking jobs once it reaches `load_threshold`. Its default is
CPU alone, which is a poor signal for long calls: a worker can be full of calls that are quiet
right now. So the load is the largest of three signals, each scaled so that reaching its own limit
is exactly the threshold:

- CPU: livekit's own measure (cgroup-aware, averaged over 2.5 s), as it is;
- active calls against the worker's measured capacity (`RAPPORT_AGENT_CAPACITY`);
- the recent p95 voice-to-voice time against its budget (`RAPPORT_V2V_BUDGET_MS`): callers wait
  longer before a CPU average shows it.

`worker_load` is a pure function of these inputs; `LoadReporter` gathers them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rapport.settings import Settings
from realtime.metrics import registry

__all__ = [
    "Buckets",
    "LoadInputs",
    "LoadReporter",
    "RecentLatency",
    "bucket_quantile",
    "load_reporter",
    "read_buckets",
    "read_gauge",
    "worker_load",
]

HISTOGRAM = "rapport_voice_to_voice_seconds"
RECENT_S = 60.0
# Reading the histogram (every job process's file, in multiprocess mode) this often is plenty:
# livekit asks twice a second, a p95 over a minute moves slowly.
READ_EVERY_S = 2.5

Buckets = tuple[tuple[float, float], ...]
"""A histogram as (upper bound, cumulative count) pairs in ascending order, +Inf last."""


@dataclass(frozen=True)
class LoadInputs:
    cpu: float
    """0..1 of the worker's CPU allowance."""
    active_calls: int
    capacity: int
    """Calls one worker carries within its latency budget (measured by `rapport load`)."""
    p95_ms: float | None
    """Recent voice-to-voice p95; None when there were no replies lately."""
    budget_ms: float
    threshold: float
    """livekit's `load_threshold`: at or above it, the worker takes no new calls."""


def worker_load(inputs: LoadInputs) -> float:
    """The worker's load in 0..1: the largest signal, each reaching `threshold` at its limit."""
    calls = inputs.threshold * inputs.active_calls / max(1, inputs.capacity)
    latency = inputs.threshold * inputs.p95_ms / inputs.budget_ms if inputs.p95_ms is not None else 0.0
    return min(1.0, max(0.0, inputs.cpu, calls, latency))


def bucket_quantile(q: float, buckets: Buckets) -> float | None:
    """The q-quantile (0..1) of a cumulative histogram, interpolated within its bucket as
    Prometheus' `histogram_quantile` does; None for an empty histogram."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def _minus(now: Buckets, before: Buckets) -> Buckets:
    if not before:
        return now
    return tuple((bound, count - old) for (bound, count), (_, old) in zip(now, before, strict=True))


class RecentLatency:
    """The p95 of the observations of the last `window_s`, from snapshots of a cumulative histogram."""

    def __init__(self, window_s: float = RECENT_S) -> None:
        self._window_s = window_s
        self._snapshots: deque[tuple[float, Buckets]] = deque()

    def update(self, now: float, buckets: Buckets) -> None:
        self._snapshots.append((now, buckets))
        # Keep one snapshot at or before the window's start: the baseline to subtract.
        while len(self._snapshots) > 1 and self._snapshots[1][0] <= now - self._window_s:
            self._snapshots.popleft()

    def p95_ms(self) -> float | None:
        if not self._snapshots:
            return None
        oldest, newest = self._snapshots[0][1], self._snapshots[-1][1]
        recent = _minus(newest, oldest) if len(self._snapshots) > 1 else newest
        value = bucket_quantile(0.95, recent)
        return None if value is None else value * 1000


def read_buckets(multiproc_dir: str | None = None, name: str = HISTOGRAM) -> Buckets:
    """The voice-to-voice histogram as this process (or, in multiprocess mode, all of them) has it."""
    counts: dict[float, float] = {}
    for family in registry(multiproc_dir).collect():
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                bound = float(sample.labels["le"])
                counts[bound] = counts.get(bound, 0.0) + sample.value
    return tuple(sorted(counts.items()))


def read_gauge(name: str, multiproc_dir: str | None = None) -> float:
    """A gauge's value, summed over the processes that report it."""
    return sum(
        sample.value
        for family in registry(multiproc_dir).collect()
        if family.name == name
        for sample in family.samples
        if sample.name == name
    )


class LoadReporter:
    """livekit's `load_fnc`: called with the `AgentServer` from an executor thread."""

    def __init__(
        self,
        *,
        capacity: int,
        budget_ms: float,
        threshold: float,
        cpu: Callable[[Any], float],
        buckets: Callable[[], Buckets] = read_buckets,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._budget_ms = budget_ms
        self._threshold = threshold
        self._cpu = cpu
        self._buckets = buckets
        self._clock = clock
        self._latency = RecentLatency()
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self.last: LoadInputs | None = None

    def inputs(self, cpu: float, active_calls: int) -> LoadInputs:
        with self._lock:
            now = self._clock()
            if now - self._read_at >= READ_EVERY_S:
                self._latency.update(now, self._buckets())
                self._read_at = now
            p95 = self._latency.p95_ms()
        return LoadInputs(
            cpu=cpu,
            active_calls=active_calls,
            capacity=self._capacity,
            p95_ms=p95,
            budget_ms=self._budget_ms,
            threshold=self._threshold,
        )

    def __call__(self, server: Any) -> float:
        self.last = self.inputs(self._cpu(server), len(server.active_jobs))
        return worker_load(self.last)


def load_reporter(settings: Settings, multiproc_dir: str | None) -> LoadReporter:
    """The LiveKit worker's load function: livekit's own CPU measure, the worker's active jobs,
    and the voice-to-voice histogram its job processes write to `multiproc_dir`."""
    from livekit.agents.worker import _DefaultLoadCalc

    return LoadReporter(
        capacity=settings.agent_capacity,
        budget_ms=settings.voice_to_voice_budget_ms,
        threshold=settings.load_threshold,
        cpu=_DefaultLoadCalc.get_load,
        buckets=lambda: read_buckets(multiproc_dir),
    )
