"""A 30-minute call, recorded live on a real Temporal dev server into a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
from temporalio.client import Client

from bench.synthetic_call import play, synthetic_call
from db.event_store import read_events
from db.projections import load_projection, project
from realtime.events import MachineTransition
from realtime.recorder import EventRecorder, to_record
from realtime.turn_taking import registry
from statecharts.load import load_statechart

TURN_TAKING_CHART = (
    Path(__file__).resolve().parent.parent / "statecharts" / "definitions" / "turn_taking.yaml"
)
# 30 minutes of call clock in about 10 s: the recorder still sends many small batches, in bursts.
SPEED = 180.0


async def test_a_30_minute_call_ends_with_its_log_intact(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A 30-minute call's thousands of events, streamed as they happen through a real recorder, its
    workflow and the store_events activity, are all in PostgreSQL once the call ends: seq 1..n in the
    order recorded, each event as recorded; the workflow's result is n; and the calls/turns
    projections equal `project` of the stored events."""
    call_id = f"call-{uuid.uuid4().hex}"
    events = synthetic_call(call_id, minutes=30, seed=7)
    assert len(events) > 1500 and events[-1].at >= 30 * 60
    recorder = EventRecorder(call_id, temporal)
    sender = asyncio.create_task(recorder.run())
    await play(events, recorder.record, SPEED)
    recorder.close()
    await asyncio.wait_for(sender, 30)
    result = await recorder.stored(30)
    assert recorder.lost == 0 and recorder.recorded == len(events)
    assert result == len(events)
    stored = await read_events(pool, call_id)
    assert [e.seq for e in stored] == list(range(1, len(events) + 1))
    assert [e.type for e in stored] == [e.type for e in events]
    recorded = [to_record(seq, event) for seq, event in enumerate(events, start=1)]
    assert [(e.at, dict(e.data)) for e in stored] == [(r.at, r.data) for r in recorded]
    projection = await load_projection(pool, call_id)
    assert projection == project(call_id, stored)
    assert projection is not None and projection.call.end_reason == "caller"
    assert sum(t.interrupted for t in projection.turns) > 0  # the call had barge-ins


def test_the_synthetic_call_is_repeatable_and_moves_as_the_turn_taking_chart_allows() -> None:
    """Same seed, same events, in time order; every turn_taking transition is one the chart has,
    from the state the previous one reached, from listening to ended."""
    events = synthetic_call("call-x", minutes=30, seed=7)
    assert events == synthetic_call("call-x", minutes=30, seed=7) != synthetic_call("call-x", 30, seed=8)
    assert [e.at for e in events] == sorted(e.at for e in events)
    chart = load_statechart(TURN_TAKING_CHART, registry)
    allowed = {(name, t.event, t.target) for name, s in chart.states.items() for t in s.transitions}
    moves = [e for e in events if isinstance(e, MachineTransition) and e.machine == "turn_taking"]
    assert [m.source for m in moves] == ["listening", *(m.dest for m in moves[:-1])]
    assert moves[-1].dest == "ended"
    assert {(m.source, m.event, m.dest) for m in moves} <= allowed
    assert {type(e).__name__ for e in events} == {
        "CallStarted",
        "MachineTransition",
        "CallerUtterance",
        "AgentUtterance",
        "LatencySample",
        "CallEnded",
    }
