"""The agent worker's load function under synthetic CPU, call counts and latency."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from realtime.load import Buckets, LoadInputs, LoadReporter, RecentLatency, bucket_quantile, worker_load

THRESHOLD = 0.7


def _inputs(cpu: float = 0.1, calls: int = 0, p95_ms: float | None = None) -> LoadInputs:
    return LoadInputs(
        cpu=cpu, active_calls=calls, capacity=40, p95_ms=p95_ms, budget_ms=1500, threshold=THRESHOLD
    )


def _buckets(*counts: float) -> Buckets:
    """A cumulative histogram over bounds 0.5, 1.0, 1.5, 2.0, +Inf seconds."""
    return tuple(zip((0.5, 1.0, 1.5, 2.0, float("inf")), counts, strict=True))


def test_an_idle_worker_reports_its_cpu() -> None:
    """No calls, no recent replies: the load is livekit's CPU measure, as it was."""
    assert worker_load(_inputs(cpu=0.12)) == pytest.approx(0.12)


def test_a_worker_at_its_call_capacity_is_full_whatever_its_cpu() -> None:
    """Quiet calls use little CPU; at capacity the worker still reaches the threshold (full)."""
    assert worker_load(_inputs(cpu=0.2, calls=39)) < THRESHOLD
    assert worker_load(_inputs(cpu=0.2, calls=40)) == pytest.approx(THRESHOLD)
    assert worker_load(_inputs(cpu=0.2, calls=60)) == 1.0


def test_busy_cpu_fills_a_worker_with_few_calls() -> None:
    """CPU past the threshold reports full even far below capacity."""
    assert worker_load(_inputs(cpu=0.85, calls=5)) == pytest.approx(0.85)


def test_slow_replies_fill_the_worker_before_cpu_or_calls_do() -> None:
    """A p95 at its budget reports full; below it the latency term stays under the threshold."""
    assert worker_load(_inputs(cpu=0.3, calls=10, p95_ms=1000)) < THRESHOLD
    assert worker_load(_inputs(cpu=0.3, calls=10, p95_ms=1500)) == pytest.approx(THRESHOLD)
    assert worker_load(_inputs(cpu=0.3, calls=10, p95_ms=4000)) == 1.0


def test_the_load_is_the_largest_signal() -> None:
    """Each signal reaching its own limit is the threshold; the load is the largest of them."""
    load = worker_load(_inputs(cpu=0.4, calls=30, p95_ms=900))
    assert load == pytest.approx(max(0.4, THRESHOLD * 30 / 40, THRESHOLD * 900 / 1500))


def test_a_quantile_is_read_off_the_buckets_like_prometheus_does() -> None:
    """Linear within the bucket that holds the rank; None for an empty histogram."""
    buckets = _buckets(0, 50, 90, 100, 100)
    assert bucket_quantile(0.5, buckets) == pytest.approx(1.0)
    assert bucket_quantile(0.95, buckets) == pytest.approx(1.75)
    assert bucket_quantile(0.95, _buckets(0, 0, 0, 0, 0)) is None
    assert bucket_quantile(0.99, _buckets(0, 0, 0, 0, 10)) == 2.0


def test_recent_latency_forgets_replies_older_than_its_window() -> None:
    """Old slow replies leave the p95 once the window moves past them."""
    recent = RecentLatency(window_s=60)
    recent.update(0, _buckets(0, 0, 0, 0, 0))
    recent.update(10, _buckets(0, 0, 0, 0, 100))  # a bad spell: 100 replies over 2 s
    assert recent.p95_ms() == pytest.approx(2000)
    recent.update(70, _buckets(0, 0, 0, 0, 100))
    recent.update(80, _buckets(100, 100, 100, 100, 200))  # then 100 fast ones
    assert recent.p95_ms() == pytest.approx(475)


def test_the_reporter_combines_injected_cpu_calls_and_histogram_as_livekit_calls_it() -> None:
    """Called with the AgentServer (its active jobs), the reporter reads CPU and the histogram it
    is given, re-reading the histogram only every few seconds."""
    now = [0.0]
    cpu = [0.1]
    histogram = [_buckets(0, 0, 0, 0, 0)]
    reads = []

    def buckets() -> Buckets:
        reads.append(now[0])
        return histogram[0]

    reporter = LoadReporter(
        capacity=40,
        budget_ms=1500,
        threshold=THRESHOLD,
        cpu=lambda _server: cpu[0],
        buckets=buckets,
        clock=lambda: now[0],
    )
    server = SimpleNamespace(active_jobs=[object()] * 10)
    assert reporter(server) == pytest.approx(THRESHOLD * 10 / 40)
    now[0], histogram[0] = 1.0, _buckets(0, 0, 0, 10, 10)
    assert reporter(server) == pytest.approx(THRESHOLD * 10 / 40)  # not re-read yet
    now[0] = 3.0
    assert reporter(server) == pytest.approx(THRESHOLD * 1975 / 1500)
    assert reporter.last is not None and reporter.last.p95_ms == pytest.approx(1975)
    assert reads == [0.0, 3.0]
    cpu[0], server.active_jobs = 0.97, []
    assert reporter(server) == pytest.approx(0.97)
