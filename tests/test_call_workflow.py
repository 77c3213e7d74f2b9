"""The per-call workflow on a real Temporal dev server, storing into a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

from db.event_store import StoredEvent, append_events, read_events
from db.projections import load_projection, project
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.events import CallEnded, CallerUtterance, KnowledgeRetrieved
from realtime.recorder import EventRecorder, to_record
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.workflow_calls import call_events, start_call
from workflows.call import CallWorkflow
from workflows.post_call import PostCallWorkflow
from workflows.records import CallInput, EventBatch, EventRecord


async def test_every_recorded_event_is_stored_once_in_order(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A call's events go recorder → signals → workflow → activity → Postgres, seq 1..n, no gaps."""
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, temporal)
    sender = asyncio.create_task(recorder.run())
    events = call_events(call_id, 1200)
    for event in events:
        recorder.record(event)
    recorder.close()
    await asyncio.wait_for(sender, 60)
    handle = temporal.get_workflow_handle(call_id)
    assert await asyncio.wait_for(handle.result(), 60) == len(events)
    stored = await read_events(pool, call_id)
    assert [e.seq for e in stored] == list(range(1, len(events) + 1))
    assert stored[0].type == "call_started" and stored[0].data["call_id"] == call_id
    assert stored[-1].type == "call_ended"
    assert recorder.recorded == len(stored) and recorder.lost == 0


async def test_duplicate_and_overlapping_batches_store_each_event_once(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A sender retrying sends the same events again; the workflow accepts each seq once."""
    call_id = f"call-{uuid.uuid4().hex}"
    records = [to_record(i + 1, e) for i, e in enumerate(call_events(call_id, 8))]
    first, second = EventBatch(records[:6]), EventBatch(records[3:])
    handle = await start_call(temporal, CallInput(call_id), first)
    await handle.signal(CallWorkflow.record, first)
    await handle.signal(CallWorkflow.record, second)
    assert await handle.result() == len(records)
    assert [e.seq for e in await read_events(pool, call_id)] == list(range(1, len(records) + 1))


async def test_a_full_buffer_still_takes_the_calls_end(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """Events past the buffer's capacity are dropped (counted, never numbered), but the call's end
    is always taken: the workflow finishes and stores a log without gaps that ends with it."""
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, temporal, capacity=5)
    events = call_events(call_id, 8)  # call_started, 8 transitions, call_ended
    for event in events:
        recorder.record(event)
    assert recorder.lost == 4 and recorder.recorded == 6
    recorder.close()
    await asyncio.wait_for(recorder.run(), 60)
    assert await asyncio.wait_for(temporal.get_workflow_handle(call_id).result(), 60) == 6
    stored = await read_events(pool, call_id)
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5, 6] and stored[-1].type == "call_ended"


async def test_a_batch_sent_again_after_the_call_finished_starts_no_second_run(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """The last batch sent again once the workflow has finished (its first send arrived, the answer
    did not) is taken as already stored: no new run starts to wait forever for the events before
    it, and nothing counts as lost. A batch past what was stored counts as lost."""
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, temporal)
    for event in call_events(call_id, 3):
        recorder.record(event)
    recorder.close()
    await asyncio.wait_for(recorder.run(), 60)
    handle = temporal.get_workflow_handle(call_id)
    assert await asyncio.wait_for(handle.result(), 60) == 5
    finished = await handle.describe()
    last = [to_record(seq, event) for seq, event in enumerate(call_events(call_id, 3), 1)][3:]
    await asyncio.wait_for(recorder._send(last), 30)
    after = await temporal.get_workflow_handle(call_id).describe()
    assert after.run_id == finished.run_id and after.status == WorkflowExecutionStatus.COMPLETED
    assert recorder.lost == 0
    await asyncio.wait_for(recorder._send([to_record(6, CallEnded(0.1, "caller"))]), 30)
    assert recorder.lost == 1
    assert [e.seq for e in await read_events(pool, call_id)] == [1, 2, 3, 4, 5]


def _retrieved(at: float, text: str) -> KnowledgeRetrieved:
    return KnowledgeRetrieved(at, [{"knowledge_base": "routewise", "text": text, "score": 0.5}], 12.0)


async def test_large_events_are_sent_in_batches_that_fit_and_one_too_large_is_stored_rejected(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """Events of 40 KB each (a turn's retrieved passages), 3 MB in all, go in batches under
    Temporal's payload limit (one signal of them was refused and retried forever); a 300 KB event
    is stored as its rejection, with its type and size, in its place: the log keeps its order, and
    the call finishes."""
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, temporal)
    events = call_events(call_id, 0)
    big = [_retrieved(0.01 * i, f"{i} " + "word " * 8000) for i in range(80)]
    huge = _retrieved(1.0, "word " * 60_000)
    for event in [events[0], *big, huge, events[-1]]:
        recorder.record(event)
    recorder.close()
    await asyncio.wait_for(recorder.run(), 120)
    assert await asyncio.wait_for(temporal.get_workflow_handle(call_id).result(), 60) == 83
    stored = await read_events(pool, call_id)
    assert [e.seq for e in stored] == list(range(1, 84)) and recorder.lost == 0
    assert [e.data["passages"] for e in stored[1:81]] == [e.passages for e in big]
    assert stored[81].type == "event_rejected" and stored[81].data["type"] == "knowledge_retrieved"
    assert "over the 262144-byte limit" in stored[81].data["reason"]
    assert stored[82].type == "call_ended"


async def test_an_event_the_store_cannot_hold_is_stored_rejected_and_a_nul_replaced(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """An event that is not JSON (a NaN) cannot be stored, and retrying will not change that: its
    rejection is stored in its place, naming what is wrong, and the call goes on. A NUL in a
    transcript (which PostgreSQL refuses) is replaced, and the rest of the words kept."""
    call_id = f"call-{uuid.uuid4().hex}"
    events = call_events(call_id, 0)
    records = [
        to_record(1, events[0]),
        to_record(2, CallerUtterance(0.1, "fuel costs\x00 rose")),
        EventRecord(3, "agent_utterance", 1, 0.2, {"text": "Go on.", "confidence": float("nan")}),
        to_record(4, events[-1]),
    ]
    handle = await start_call(temporal, CallInput(call_id), EventBatch(records))
    assert await asyncio.wait_for(handle.result(), 60) == 4
    stored = await read_events(pool, call_id)
    assert [e.type for e in stored] == ["call_started", "caller_utterance", "event_rejected", "call_ended"]
    assert stored[1].data["text"] == "fuel costs\ufffd rose"
    assert stored[2].data["type"] == "agent_utterance" and "not JSON" in stored[2].data["reason"]


async def test_a_gap_is_never_stored_past(temporal: Client, pool: asyncpg.Pool, worker: None) -> None:
    """Events after a missing seq wait for it; once it arrives, all are stored in order."""
    call_id = f"call-{uuid.uuid4().hex}"
    records = [to_record(i + 1, e) for i, e in enumerate(call_events(call_id, 3))]
    handle = await start_call(temporal, CallInput(call_id), EventBatch(records[2:]))
    await handle.signal(CallWorkflow.record, EventBatch(records[:1]))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await handle.signal(CallWorkflow.record, EventBatch(records[1:2]))
    assert await handle.result() == len(records)
    assert [e.seq for e in await read_events(pool, call_id)] == [1, 2, 3, 4, 5]


async def test_recorded_histories_replay_with_the_current_workflow(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A change to the workflow that would break running calls fails here (Replayer)."""
    call_id = f"call-{uuid.uuid4().hex}"
    records = [to_record(i + 1, e) for i, e in enumerate(call_events(call_id, 20))]
    handle = await start_call(temporal, CallInput(call_id), EventBatch(records[:10]))
    await handle.signal(CallWorkflow.record, EventBatch(records[10:]))
    await handle.result()
    history = await handle.fetch_history()
    await Replayer(workflows=[CallWorkflow]).replay_workflow(history)


HISTORIES = {
    path.stem: path.read_text(encoding="utf-8")
    for path in sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))
}


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_histories_recorded_by_earlier_versions_still_replay(name: str) -> None:
    """Calls in flight when the workflow changes must go on: their recorded histories replay.

    tests/histories/ holds histories recorded by earlier versions (`tests/histories/record.py`).
    """
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    await Replayer(workflows=[CallWorkflow, PostCallWorkflow]).replay_workflow(history)


async def test_a_long_call_continues_as_new_and_loses_nothing(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """Past its signal budget a run continues as new, carrying unsaved events; all are stored once."""
    call_id = f"call-{uuid.uuid4().hex}"
    records = [to_record(i + 1, e) for i, e in enumerate(call_events(call_id, 300))]
    batches = [EventBatch(records[i : i + 10]) for i in range(0, len(records), 10)]
    handle = await start_call(temporal, CallInput(call_id, signals_per_run=5), batches[0])
    for batch in batches[1:]:
        await handle.signal(CallWorkflow.record, batch)
    assert await handle.result() == len(records)
    assert [e.seq for e in await read_events(pool, call_id)] == list(range(1, len(records) + 1))
    first_run = temporal.get_workflow_handle(call_id, run_id=handle.first_execution_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW


async def test_a_scripted_call_stores_every_event_and_reports_the_count(
    temporal: Client, pool: asyncpg.Pool, worker: None, settings: Settings, models: Models, tmp_path: Path
) -> None:
    """A real call records through its workflow; the report's events_recorded is the stored count."""
    scenario = tmp_path / "hello.yaml"
    scenario.write_text(
        "statechart: sales_roleplay\ncaller:\n  turns:\n    - say: Hi Dana, do you have a minute?\n",
        encoding="utf-8",
    )
    calls = CallFactory.create(settings, models, recorder_client=temporal)
    report: dict[str, Any] = (await run_scripted_call(load_scenario(scenario), calls)).data
    stored = await read_events(pool, report["call_id"])
    assert report["events_recorded"] == len(stored) == len(report["events"])
    assert [e.type for e in stored] == [e["type"] for e in report["events"]]
    # The projections say the same as the report: who spoke, in order, and the reply's latency.
    projection = await load_projection(pool, report["call_id"])
    assert projection is not None
    assert projection.call.statechart == "sales_roleplay" and projection.call.end_reason == "script_finished"
    assert [t.speaker for t in projection.turns] == ["agent", "caller", "agent"]
    reply = projection.turns[-1]
    # How long it took is the benchmark's business (docs/benchmarks.md); here: it was measured.
    assert reply.latency_ms is not None and reply.latency_ms > 0
    assert projection == project(report["call_id"], stored)


async def test_rapport_replay_passes_on_a_recorded_call_and_fails_on_a_tampered_projection(
    temporal: Client, pool: asyncpg.Pool, worker: None, database_url: str
) -> None:
    """Replay rebuilds the call from its events alone; any difference from the tables exits 1."""
    call_id = f"call-{uuid.uuid4().hex}"
    recorder = EventRecorder(call_id, temporal)
    sender = asyncio.create_task(recorder.run())
    for event in call_events(call_id, 10)[:-1]:
        recorder.record(event)
    recorder.record(CallerUtterance(0.5, "Do you have a minute?"))
    recorder.record(CallEnded(0.6, "caller"))
    recorder.close()
    await sender
    assert await recorder.stored(30) == recorder.recorded
    env = {**os.environ, "DATABASE_URL": database_url}

    def replay() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "rapport.cli", "replay", call_id]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    ok = await asyncio.to_thread(replay)
    assert ok.returncode == 0, ok.stderr
    assert "projections match the events" in ok.stdout
    await pool.execute("UPDATE turns SET text = 'something else' WHERE call_id = $1", call_id)
    bad = await asyncio.to_thread(replay)
    assert bad.returncode == 1
    assert "turns[seq=" in bad.stderr and "caller turn" in bad.stderr


async def test_rapport_events_prints_the_log_and_names_unknown_calls(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """`rapport events ID --json` is the stored log, seq from 1; an unknown id exits 2 naming it."""
    call_id = f"call-{uuid.uuid4().hex}"
    records = [to_record(i + 1, e) for i, e in enumerate(call_events(call_id, 3))]
    await append_events(pool, [StoredEvent(call_id, r.seq, r.type, r.version, r.at, r.data) for r in records])
    env = {**os.environ, "DATABASE_URL": database_url}
    shown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rapport.cli", "events", call_id, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    log = json.loads(shown.stdout)
    assert [e["seq"] for e in log] == [1, 2, 3, 4, 5]
    assert set(log[0]) == {"seq", "type", "at", "data"}
    assert log[0]["type"] == "call_started" and log[-1]["type"] == "call_ended"
    missing = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rapport.cli", "events", "no-such-call"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "no events stored for call 'no-such-call'" in missing.stderr
