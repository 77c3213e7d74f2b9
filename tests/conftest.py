"""Shared fixtures: the real local models, loaded once per test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from db.migrate import migrate
from rapport.settings import Settings
from realtime.session import Models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The embedded defaults, whatever the developer's shell has set.
    return Settings.from_env({"RAPPORT_STATE_DIR": str(ROOT / ".state")})


@pytest.fixture(scope="session")
def models(settings: Settings) -> Iterator[Models]:
    yield Models.load(settings)


# The machine's PostgreSQL unless DATABASE_URL names another server; each run gets its own database.
SERVER = Settings.from_env().database_url or "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
async def pool() -> AsyncIterator[asyncpg.Pool]:
    name = f"rapport_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await asyncpg.create_pool(SERVER.rsplit("/", 1)[0] + f"/{name}", min_size=1, max_size=4)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
