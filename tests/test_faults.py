"""Faults mid-call with a real Temporal dev server and PostgreSQL: the log still ends up whole."""

from __future__ import annotations

import asyncio
import socket
import sys
import uuid
from pathlib import Path

import asyncpg
from temporalio.testing import WorkflowEnvironment

from db.event_store import read_events
from realtime.events import CallEnded, CallStarted, MachineTransition
from realtime.recorder import EventRecorder
from worker import build_worker

TEMPORAL = Path(sys.executable).parent / "temporal"
OUTAGE_S = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


async def test_temporal_unreachable_for_30_s_loses_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """Temporal goes away mid-call; the call keeps recording; afterwards every event is stored once."""
    port, database = _free_port(), tmp_path / "temporal.db"
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


async def test_a_worker_killed_mid_call_and_restarted_loses_nothing(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """With no worker, signals wait on the server; a new worker stores them all, once, in order."""
    env = await _temporal(_free_port(), tmp_path / "temporal.db")
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
