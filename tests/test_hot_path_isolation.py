"""Nothing about recording reaches the call's audio loop: no database, not even an import of one."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from db.event_store import read_events
from tests.conftest import ROOT, SERVER

_DATABASE_MODULES = ("asyncpg", "db", "activities", "worker", "rapport.stack")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _is_database_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in _DATABASE_MODULES)


def test_no_realtime_module_imports_the_database_or_the_worker() -> None:
    """realtime/ talks to Temporal only; the event store, its driver and the activities stay out."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "realtime").rglob("*.py"))
        for name in sorted(_imports(path))
        if _is_database_module(name)
    ]
    assert offenders == []


def test_loading_a_call_loads_no_database_driver() -> None:
    """Importing the call and its transports, transitively, brings in neither asyncpg nor db/."""
    probe = (
        "import sys, realtime.call, realtime.transports.scripted, realtime.transports.livekit_worker\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
    ).stdout.split()
    assert [m for m in loaded if _is_database_module(m)] == []


@pytest.fixture
async def sentinel_database() -> AsyncIterator[str]:
    """A database nobody should touch: Postgres counts every session and transaction in it."""
    name = f"rapport_sentinel_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_a_recorded_call_issues_no_database_query_from_the_realtime_process(
    temporal: Client, pool: asyncpg.Pool, worker: None, sentinel_database: str, tmp_path: Path
) -> None:
    """`rapport call` against a separate worker: its events are stored, its own queries are zero.

    The realtime process is given a DATABASE_URL of its own (a sentinel database); Postgres's
    statistics for it, read after the process has exited, show no session and no transaction.
    """
    scenario = tmp_path / "call.yaml"
    scenario.write_text(
        "statechart: sales_roleplay\ncaller:\n  number: '+15555550101'\n  turns:\n"
        "    - say: Hi Dana, do you have a minute?\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal.service_client.config.target_host,
        "DATABASE_URL": SERVER.rsplit("/", 1)[0] + f"/{sentinel_database}",
        "RAPPORT_STATE_DIR": str(ROOT / ".state"),
    }
    command = [sys.executable, "-m", "rapport.cli", "call", str(scenario), "--report", str(report)]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    call_id = json.loads(await asyncio.to_thread(report.read_text))["call_id"]
    assert len(await read_events(pool, call_id)) > 5  # the worker stored the call
    await pool.execute("SELECT pg_stat_clear_snapshot()")
    stats = await pool.fetchrow(
        "SELECT sessions, xact_commit + xact_rollback AS transactions"
        " FROM pg_stat_database WHERE datname = $1",
        sentinel_database,
    )
    assert stats is not None
    assert (stats["sessions"], stats["transactions"]) == (0, 0)
