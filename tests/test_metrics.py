"""The Prometheus endpoints: the agent's calls, scraped over HTTP during a real call; the worker's
Temporal SDK metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.loopback import free_port
from tests.test_deploy import TEMPORAL_SDK_METRICS
from worker import build_worker, metrics_runtime

SCENARIO = """\
statechart: sales_roleplay
caller:
  turns:
    - say: "Sorry to jump in, Dana. This is Jordan from Routewise."
      barge_in_after_ms: 700  # over the greeting: its length, unlike a reply's, is fixed
    - say: "What does fuel cost you in a month?"
"""


async def _scrape(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels or (set(sample.labels) == {"le"} and sample.labels["le"] == "+Inf")
    }


async def test_the_agent_endpoint_counts_a_live_call(
    settings: Settings, models: Models, temporal: Client, worker: None, tmp_path: Path
) -> None:
    """Scraped while a call runs, the endpoint shows it active; afterwards replies, the
    voice-to-voice histogram and barge-ins have moved, and no event was dropped."""
    from realtime.metrics import serve_metrics

    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(SCENARIO, encoding="utf-8")
    calls = CallFactory.create(settings, models, recorder_client=temporal)
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    async with serve_metrics("127.0.0.1", port):
        before = await _scrape(url)
        call = asyncio.create_task(run_scripted_call(load_scenario(scenario_file), calls))
        during: list[dict[str, float]] = []
        while not call.done():
            during.append(await _scrape(url))
            await asyncio.sleep(0.5)
        report: dict[str, Any] = (await call).data
        after = await _scrape(url)

    def moved(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert max(s["rapport_active_calls"] for s in during) >= before["rapport_active_calls"] + 1
    assert after["rapport_active_calls"] == before["rapport_active_calls"]
    replies = len(report["latency"]["voice_to_voice_ms"])
    assert replies >= 1
    assert moved("rapport_replies_total") >= replies
    assert moved("rapport_voice_to_voice_seconds_count") == moved("rapport_replies_total")
    assert moved("rapport_barge_ins_total") >= 1
    assert moved("rapport_events_dropped_total") == 0
    assert "rapport_event_buffer_depth" in after


async def test_the_worker_endpoint_serves_the_temporal_sdk_metrics(
    temporal: Client, pool: asyncpg.Pool, settings: Settings
) -> None:
    """With RAPPORT_WORKER_METRICS_PORT, a worker's client exports the SDK's metrics, among them
    the task-slot gauges the deployment scales on."""
    port = free_port()
    worker_settings = Settings.from_env({"RAPPORT_WORKER_METRICS_PORT": str(port)})
    runtime = metrics_runtime(worker_settings, host="127.0.0.1")
    assert runtime is not None
    client = await Client.connect(temporal.service_client.config.target_host, runtime=runtime)
    async with build_worker(client, pool, settings=settings):
        await asyncio.sleep(1.0)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            assert response.status == 200
            names = {f.name for f in text_string_to_metric_families(await response.text())}
    assert set(TEMPORAL_SDK_METRICS) <= names
    assert metrics_runtime(Settings.from_env({"RAPPORT_WORKER_METRICS_PORT": "0"})) is None
