"""The agent's Prometheus metrics: what a call does, counted where it happens.

Every `Call` reports here (start, end, each event it emits). The metrics live in prometheus_client's
default registry, so they are served by livekit-agents' own endpoint (`prometheus_port`, beside
`lk_agents_active_job_count` and `lk_agents_worker_load`); with PROMETHEUS_MULTIPROC_DIR set,
livekit's job processes each write theirs and the worker's endpoint sums them. Processes without
a livekit worker (`rapport load`) serve the same endpoint with `serve_metrics`.

Buffer depth and drops are read off the live calls' recorders once a second rather than counted
in `EventRecorder.record`, which stays the cheap hot path it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from realtime.events import CallEvent, LatencySample, MachineTransition

__all__ = [
    "ACTIVE_CALLS",
    "BARGE_INS",
    "EVENTS_DROPPED",
    "EVENT_BUFFER_DEPTH",
    "METRIC_NAMES",
    "REPLIES",
    "VOICE_TO_VOICE",
    "VOICE_TO_VOICE_BUCKETS",
    "CallMetrics",
    "call_metrics",
    "registry",
    "serve_metrics",
]

SAMPLE_EVERY_S = 1.0
# Fine steps where a reply's wait turns from fine to noticeable, for quantiles read off buckets.
VOICE_TO_VOICE_BUCKETS = (
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5,
    1.6, 1.8, 2.0, 2.25, 2.5, 3.0, 4.0, 6.0, 10.0,
)  # fmt: skip

ACTIVE_CALLS = Gauge(
    "rapport_active_calls", "Calls in progress on this agent worker.", multiprocess_mode="livesum"
)
REPLIES = Counter("rapport_replies", "Agent replies to a caller turn.")
VOICE_TO_VOICE = Histogram(
    "rapport_voice_to_voice_seconds",
    "End of the caller's speech (VAD) to the agent's first audio, per reply.",
    buckets=VOICE_TO_VOICE_BUCKETS,
)
BARGE_INS = Counter("rapport_barge_ins", "Times a caller interrupted the agent.")
EVENT_BUFFER_DEPTH = Gauge(
    "rapport_event_buffer_depth",
    "Call events waiting in recorders' buffers for Temporal.",
    multiprocess_mode="livesum",
)
EVENTS_DROPPED = Counter(
    "rapport_events_dropped", "Call events dropped because a recorder's buffer was full."
)

# As Prometheus shows them (counters get `_total`); the deployment's autoscaling queries use these.
METRIC_NAMES = (
    "rapport_active_calls",
    "rapport_replies_total",
    "rapport_voice_to_voice_seconds",
    "rapport_barge_ins_total",
    "rapport_event_buffer_depth",
    "rapport_events_dropped_total",
)


class Buffered(Protocol):
    """What the metrics read of a call's recorder."""

    @property
    def depth(self) -> int: ...

    @property
    def lost(self) -> int: ...


class CallMetrics:
    """The process's calls, as metrics. One per process (`call_metrics`)."""

    def __init__(self) -> None:
        self._live: set[str] = set()
        # Each recorder still sending, with the drops already counted from it.
        self._recorders: dict[Buffered, int] = {}
        self._sampler: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        return len(self._live)

    def call_started(self, call_id: str, recorder: Buffered | None) -> None:
        if call_id in self._live:
            return
        self._live.add(call_id)
        ACTIVE_CALLS.inc()
        if recorder is not None:
            self._recorders[recorder] = 0
            if self._sampler is None or self._sampler.done():
                self._sampler = asyncio.get_running_loop().create_task(self._sample())

    def call_ended(self, call_id: str) -> None:
        # The recorder's remaining buffer drains after this; the sampler reads it until `forget`.
        if call_id in self._live:
            self._live.discard(call_id)
            ACTIVE_CALLS.dec()

    def observe(self, event: CallEvent) -> None:
        if isinstance(event, LatencySample):
            REPLIES.inc()
            VOICE_TO_VOICE.observe(event.voice_to_voice_ms / 1000)
        elif (
            isinstance(event, MachineTransition)
            and event.machine == "turn_taking"
            and event.dest == "interrupted"
        ):
            BARGE_INS.inc()

    def forget(self, recorder: Buffered) -> None:
        """The recorder has sent everything it will: stop reading it."""
        if recorder in self._recorders:
            self._count_drops(recorder)
            del self._recorders[recorder]

    def _count_drops(self, recorder: Buffered) -> None:
        new = recorder.lost - self._recorders[recorder]
        if new > 0:
            EVENTS_DROPPED.inc(new)
            self._recorders[recorder] = recorder.lost

    def sample(self) -> None:
        for recorder in list(self._recorders):
            self._count_drops(recorder)
        EVENT_BUFFER_DEPTH.set(sum(r.depth for r in self._recorders))

    async def _sample(self) -> None:
        while self._recorders:
            self.sample()
            await asyncio.sleep(SAMPLE_EVERY_S)
        EVENT_BUFFER_DEPTH.set(0)


call_metrics = CallMetrics()


def registry(multiproc_dir: str | None = None) -> CollectorRegistry:
    """This process's metrics, or with `multiproc_dir` those every process wrote there."""
    if multiproc_dir is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=multiproc_dir)  # type: ignore[no-untyped-call]
    return collected


@contextlib.asynccontextmanager
async def serve_metrics(host: str, port: int, multiproc_dir: str | None = None) -> AsyncIterator[None]:
    """Serve `/metrics` as livekit-agents' worker does on its `prometheus_port`, for processes that
    run calls without a livekit worker (`rapport load`)."""

    async def metrics(_request: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, registry(multiproc_dir))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        yield
    finally:
        await runner.cleanup()
