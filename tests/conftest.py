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
async def database_url() -> AsyncIterator[str]:
    """A fresh, migrated database for this test run, dropped afterwards."""
    name = f"rapport_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    yield url
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()
