"""The Temporal worker: runs the per-call workflows and their activities.

python worker.py        # TEMPORAL_ADDRESS and DATABASE_URL from the environment
"""

from __future__ import annotations

import asyncio

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.event_store import EventStoreActivities
from db.migrate import migrate
from rapport.logs import configure_logging, get_logger
from rapport.settings import ConfigError, Settings
from realtime.recorder import TASK_QUEUE
from workflows.call import CallWorkflow

__all__ = ["build_worker", "main"]

log = get_logger(__name__)


def build_worker(client: Client, pool: asyncpg.Pool) -> Worker:
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[CallWorkflow],
        activities=[EventStoreActivities(pool).store_events],
    )


async def run(settings: Settings) -> None:
    if not settings.temporal_address or not settings.database_url:
        raise ConfigError("worker.py needs TEMPORAL_ADDRESS and DATABASE_URL")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=8)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    log.info("worker.started", task_queue=TASK_QUEUE)
    try:
        await build_worker(client, pool).run()
    finally:
        await pool.close()


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
