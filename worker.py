"""The Temporal worker: runs the per-call workflows and their activities.

python worker.py        # TEMPORAL_ADDRESS and DATABASE_URL from the environment
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import asyncpg
from livekit.agents.llm import LLM
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.crm import CrmActivities, CrmAdapter, HttpCrm
from activities.event_store import EventStoreActivities
from activities.knowledge import KnowledgeActivities
from activities.scoring import ScoringActivities
from activities.summary import SummaryActivities
from activities.tools import ToolActivities
from db.calendar import PostgresCalendar
from db.crm import PostgresCrm
from db.migrate import migrate
from rapport.logs import configure_logging, get_logger
from rapport.settings import ConfigError, Settings
from realtime.providers import build_llm
from realtime.recorder import TASK_QUEUE
from workflows.call import CallWorkflow
from workflows.post_call import PostCallWorkflow

__all__ = ["build_crm", "build_worker", "main", "metrics_runtime"]

log = get_logger(__name__)


def build_crm(settings: Settings, pool: asyncpg.Pool) -> CrmAdapter:
    if settings.crm_provider == "http":
        if not settings.crm_url:
            raise ConfigError("RAPPORT_CRM=http needs RAPPORT_CRM_URL")
        token = settings.crm_token.value if settings.crm_token else None
        return HttpCrm(settings.crm_url.value, timeout_s=settings.crm_timeout_ms / 1000, token=token)
    return PostgresCrm(pool)


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    *,
    settings: Settings | None = None,
    crm: CrmAdapter | None = None,
    llm_factory: Callable[[], LLM] | None = None,
) -> Worker:
    """The worker for every call workflow; the CRM and the LLM come from `settings` unless given."""
    settings = settings or Settings.from_env()
    events = EventStoreActivities(pool)
    crm = crm or build_crm(settings, pool)
    lookups = CrmActivities(crm)
    tools = ToolActivities(crm, PostgresCalendar(pool))
    # One LLM for summaries and rubrics, built when the first call ends, not at start-up.
    llm = llm_factory or functools.cache(lambda: build_llm(settings, role="judge"))
    summaries = SummaryActivities(pool, llm)
    knowledge = KnowledgeActivities(pool)
    scoring = ScoringActivities(
        pool,
        llm,
        rubric_dir=settings.rubric_dir,
        webhook=settings.scorecard_webhook,
        webhook_secret=settings.scorecard_webhook_secret,
    )
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[CallWorkflow, PostCallWorkflow],
        activities=[
            events.store_events,
            lookups.crm_lookup,
            tools.crm_lookup,
            tools.crm_note,
            tools.propose_meeting_slots,
            tools.book_meeting,
            summaries.summarize_call,
            summaries.record_summary_failure,
            scoring.score_metrics,
            scoring.judge_rubric,
            scoring.record_rubric_failure,
            scoring.notify_scorecard,
            knowledge.knowledge_page,
        ],
    )


def metrics_runtime(settings: Settings, host: str = "0.0.0.0") -> Runtime | None:
    """A Temporal runtime that serves the SDK's own metrics (workflow and activity counts and
    latencies, task slots, polls) to Prometheus on RAPPORT_WORKER_METRICS_PORT; None when 0."""
    if not settings.worker_metrics_port:
        return None
    prometheus = PrometheusConfig(bind_address=f"{host}:{settings.worker_metrics_port}")
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def run(settings: Settings) -> None:
    if not settings.temporal_address or not settings.database_url:
        raise ConfigError("worker.py needs TEMPORAL_ADDRESS and DATABASE_URL")
    pool = await asyncpg.create_pool(settings.database_url.value, min_size=1, max_size=8)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    client = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace, runtime=metrics_runtime(settings)
    )
    log.info("worker.started", task_queue=TASK_QUEUE, metrics_port=settings.worker_metrics_port or None)
    try:
        await build_worker(client, pool, settings=settings).run()
    finally:
        await pool.close()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
