"""Faults mid-call with a real Temporal dev server and PostgreSQL: the log still ends up whole."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.event_store import read_events
from db.migrate import migrate
from realtime.events import AgentUtterance, CallEnded, CallStarted, MachineTransition
from realtime.recorder import EventRecorder
from tests.loopback import free_port
from tests.private_postgres import PrivatePostgres
from worker import build_worker
from workflows.call import CallWorkflow

TEMPORAL = Path(sys.executable).parent / "temporal"
OUTAGE_S = 30
DATABASE_OUTAGE_S = 5


async def _assert_replay_passes(database_url: str, call_id: str) -> None:
    """`rapport replay` rebuilds the call from its events alone and finds the projections agree."""
    replay = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rapport.cli", "replay", call_id],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        timeout=60,
    )
    assert replay.returncode == 0, replay.stderr
    assert "projections match the events" in replay.stdout


async def _temporal(port: int, database: Path) -> WorkflowEnvironment:
    # A fixed port and a database file: a restarted server is the same server, as in production.
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL),
        port=port,
        dev_server_database_filename=str(database),
        dev_server_log_level="error",
    )


def _record(recorder: EventRecorder, start: float, count: int) -> None:
    for i in range(count):
        recorder.record(
            MachineTransition(start + i * 0.01, "turn_taking", "speech_started", "listening", "user_speaking")
        )


async def test_temporal_unreachable_for_30_s_loses_nothing(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    """Temporal goes away mid-call; the call keeps recording; afterwards every event is stored once."""
    port, database = free_port(), tmp_path / "temporal.db"
    env = await _temporal(port, database)
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, env.client)
    sender = asyncio.create_task(recorder.run())
    async with build_worker(env.client, pool):
        recorder.record(CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"))
        _record(recorder, 0.0, 100)
        await asyncio.sleep(1)
    await env.shutdown()
    before_outage = recorder.sent
    _record(recorder, 1.0, 300)
    await asyncio.sleep(OUTAGE_S)
    assert recorder.sent == before_outage  # nothing could be delivered, nothing was dropped
    assert recorder.lost == 0
    env = await _temporal(port, database)
    async with build_worker(env.client, pool):
        recorder.record(CallEnded(40.0, "caller"))
        recorder.close()
        await asyncio.wait_for(sender, 60)
        assert await recorder.stored(60) == recorder.recorded == 402
    await env.shutdown()
    assert [e.seq for e in await read_events(pool, call_id)] == list(range(1, 403))
    await _assert_replay_passes(database_url, call_id)


async def test_a_worker_killed_mid_call_and_restarted_loses_nothing(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    """With no worker, signals wait on the server; a new worker stores them all, once, in order."""
    env = await _temporal(free_port(), tmp_path / "temporal.db")
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, env.client)
    sender = asyncio.create_task(recorder.run())
    async with build_worker(env.client, pool):
        recorder.record(CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"))
        _record(recorder, 0.0, 150)
        await asyncio.sleep(1)
    _record(recorder, 2.0, 250)  # no worker running
    await asyncio.sleep(2)
    async with build_worker(env.client, pool):
        recorder.record(CallEnded(10.0, "caller"))
        recorder.close()
        await asyncio.wait_for(sender, 60)
        assert await recorder.stored(60) == 402
    await env.shutdown()
    assert [e.seq for e in await read_events(pool, call_id)] == list(range(1, 403))
    await _assert_replay_passes(database_url, call_id)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own to restart: the machine's is every other test's too."""
    with PrivatePostgres() as server:
        yield server


async def _talk(recorder: EventRecorder, hang_up: asyncio.Event) -> float:
    """Caller and agent take turns, four events every 10 ms; returns the call's time at hang-up.

    The caller's words are left out: with them, the post-call summary would run the local LLM.
    Agent turns are what the projection computes from earlier events (their reply latency).
    """
    at, machine = 1.0, "turn_taking"
    while not hang_up.is_set():
        recorder.record(MachineTransition(at, machine, "speech_started", "listening", "user_speaking"))
        recorder.record(MachineTransition(at + 0.3, machine, "speech_ended", "user_speaking", "thinking"))
        answer = f"Answer {at:.0f}."
        recorder.record(AgentUtterance(at + 0.4, answer, answer, False, at + 0.8, at + 0.9))
        recorder.record(MachineTransition(at + 0.9, machine, "audio_ended", "agent_speaking", "listening"))
        at += 1.0
        await asyncio.sleep(0.01)
    return at


async def _stored_through(recorder: EventRecorder, handle: WorkflowHandle[Any, int], seq: int) -> None:
    """Wait until the call's workflow has stored every event up to `seq`."""
    while True:  # the workflow exists once the first batch is sent
        if recorder.sent and await handle.query(CallWorkflow.stored_through) >= seq:
            return
        await asyncio.sleep(0.1)


async def _blocking_someone(blocker: asyncpg.Connection) -> None:
    """Wait until another session (the worker's append) waits for this connection's lock."""
    while True:
        if await blocker.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        ):
            return
        await asyncio.sleep(0.05)


async def _store_attempts(handle: WorkflowHandle[Any, int]) -> tuple[int, str]:
    """The pending `store_events` activity's attempt number and its last failure's message."""
    for pending in (await handle.describe()).raw_description.pending_activities:
        if pending.activity_type.name == "store_events":
            return pending.attempt, pending.last_failure.message
    return 0, ""


async def test_postgres_restarted_mid_call_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """PostgreSQL stops mid-call and comes back on the same port; the call records throughout.

    Nothing is stored while it is down, yet the call never waits: its events keep reaching the
    workflow. The worker's pool reconnects by itself; afterwards the store holds every event once,
    in order, and `rapport replay` finds the projections match the events.
    """
    server = private_postgres
    conn = await asyncpg.connect(server.url)
    await migrate(conn)
    await conn.close()
    pool = await asyncpg.create_pool(server.url, min_size=2, max_size=4)
    env = await _temporal(free_port(), tmp_path / "temporal.db")
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, env.client)
    handle = env.client.get_workflow_handle_for(CallWorkflow.run, call_id)
    sender = asyncio.create_task(recorder.run())
    hang_up = asyncio.Event()
    async with build_worker(env.client, pool):
        recorder.record(CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"))
        talking = asyncio.create_task(_talk(recorder, hang_up))
        await asyncio.wait_for(_stored_through(recorder, handle, 400), 30)
        # Hold the next append back, so that the stop catches it mid-transaction.
        blocker = await asyncpg.connect(server.url)
        await blocker.execute("BEGIN; LOCK TABLE events IN SHARE MODE")
        await asyncio.wait_for(_blocking_someone(blocker), 10)
        await asyncio.to_thread(server.stop)  # every connection of the worker's pool ends
        blocker.terminate()
        sent_at_stop = recorder.sent
        stored_at_stop = await handle.query(CallWorkflow.stored_through)
        await asyncio.sleep(DATABASE_OUTAGE_S)
        assert await handle.query(CallWorkflow.stored_through) == stored_at_stop
        attempts, failure = await _store_attempts(handle)
        assert attempts >= 2, failure  # the append failed and is being retried
        assert recorder.sent > sent_at_stop and recorder.lost == 0  # the call never noticed
        await asyncio.to_thread(server.start)  # same data directory, same port
        await asyncio.sleep(1)
        hang_up.set()
        recorder.record(CallEnded(await talking, "caller"))
        recorder.close()
        await asyncio.wait_for(sender, 60)
        assert await recorder.stored(60) == recorder.recorded > stored_at_stop
        assert recorder.lost == 0
    await env.shutdown()
    stored = await read_events(pool, call_id)
    await pool.close()
    assert [e.seq for e in stored] == list(range(1, recorder.recorded + 1))
    assert stored[0].type == "call_started" and stored[-1].type == "call_ended"
    await _assert_replay_passes(server.url, call_id)
