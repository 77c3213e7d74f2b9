"""Slow work off the hot path: the CRM lookup at call start and the post-call summary.

Real Temporal dev server, real PostgreSQL, the real local LLM; the CRMs are the built-in one and
a real HTTP server on loopback (slow or failing on purpose).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle

from activities.summary import NOTHING_SAID
from db.event_store import read_events
from db.summaries import load_summary
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.events import AgentUtterance, CallEnded, CallerUtterance, CallStarted
from realtime.recorder import to_record
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.crm_server import JORDAN, serve_crm
from tests.workflow_calls import call_events, post_call_result, start_call
from worker import build_worker
from workflows.call import CallWorkflow
from workflows.records import CallInput, EventBatch

JORDAN_NUMBER = "+15555550101"


def _reply(at: float, text: str) -> AgentUtterance:
    return AgentUtterance(at, text, text, False, at - 1.0, at)


def _batch(call_id: str, events: list[Any]) -> EventBatch:
    return EventBatch([to_record(i + 1, e) for i, e in enumerate(events)])


async def _open_call(temporal: Client, start: CallInput) -> WorkflowHandle[Any, int]:
    """A call under way: started, the last event (its hang-up) not yet sent, as when the call
    asks for its CRM record."""
    events = call_events(start.call_id, 3)
    return await start_call(temporal, start, _batch(start.call_id, events[:-1]))


async def _hang_up(handle: WorkflowHandle[Any, int]) -> int:
    """Send the call's `call_ended` (seq 5) and wait for the workflow to store everything."""
    ended = to_record(5, CallEnded(0.05, "caller"))
    await handle.signal(CallWorkflow.record, EventBatch([ended]))
    return await handle.result()


async def test_the_crm_record_reaches_the_call_through_its_workflow(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A call with a caller number: the workflow looks it up; the update answers with the record."""
    handle = await _open_call(temporal, CallInput(f"call-{uuid.uuid4().hex}", caller_number=JORDAN_NUMBER))
    lookup = await handle.execute_update(CallWorkflow.crm_context)
    assert lookup.status == "found" and lookup.context is not None
    assert (lookup.context.contact, lookup.context.account) == ("Jordan Avery", "Routewise")
    assert await _hang_up(handle) == 5


async def test_an_unknown_caller_and_a_call_without_a_number_say_so(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """No record is `not_found`; no number at all is `no_caller`; neither holds up the call."""
    unknown = await _open_call(temporal, CallInput(f"call-{uuid.uuid4().hex}", caller_number="+15555559999"))
    anonymous = await _open_call(temporal, CallInput(f"call-{uuid.uuid4().hex}"))
    assert (await unknown.execute_update(CallWorkflow.crm_context)).status == "not_found"
    assert (await anonymous.execute_update(CallWorkflow.crm_context)).status == "no_caller"
    assert await _hang_up(unknown) == 5 and await _hang_up(anonymous) == 5


async def test_a_crm_that_is_down_leaves_the_call_recording_and_says_why(
    temporal: Client, pool: asyncpg.Pool, settings: Settings
) -> None:
    """The CRM answers 503 until the workflow gives up; every event is still stored, once."""
    call_id = f"call-{uuid.uuid4().hex}"
    async with serve_crm({}, status=503) as url:
        crm_settings = replace(settings, crm_provider="http", crm_url=url)
        async with build_worker(temporal, pool, settings=crm_settings):
            handle = await start_call(
                temporal,
                CallInput(call_id, caller_number=JORDAN_NUMBER),
                _batch(call_id, call_events(call_id, 40)),
            )
            lookup = await handle.execute_update(CallWorkflow.crm_context)
            assert await handle.result() == 42
    assert lookup.status == "failed" and lookup.context is None
    assert lookup.error is not None and "answered 503" in lookup.error
    assert [e.seq for e in await read_events(pool, call_id)] == list(range(1, 43))


async def test_after_hang_up_the_post_call_workflow_writes_the_summary(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """Once the call's log is complete, the local LLM summarises it and the summary is stored."""
    call_id = f"call-{uuid.uuid4().hex}"
    events = [
        CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"),
        AgentUtterance(
            1.0, "Northwind Freight, this is Dana.", "Northwind Freight, this is Dana.", False, 0.5, 1.0
        ),
        CallerUtterance(3.0, "Hi Dana, I'm calling about route planning for your trucks."),
        AgentUtterance(
            5.0, "We plan routes in spreadsheets.", "We plan routes in spreadsheets.", False, 4.0, 5.0
        ),
        CallerUtterance(7.0, "Could we book a demo next Tuesday?"),
        AgentUtterance(
            9.0, "Tuesday works, send an invite.", "Tuesday works, send an invite.", False, 8.0, 9.0
        ),
        CallEnded(10.0, "caller"),
    ]
    handle = await start_call(temporal, CallInput(call_id), _batch(call_id, events))
    assert await handle.result() == len(events)
    summary = (await post_call_result(temporal, call_id)).summary
    assert isinstance(summary, str) and summary.startswith("The caller ")
    stored = await load_summary(pool, call_id)
    assert stored is not None and stored.summary == summary and stored.error is None
    assert stored.model == "gemma-3-270m-it-q4_k_m"


async def test_a_call_where_the_caller_said_nothing_is_summarised_as_such(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """No caller speech: the summary says so plainly instead of asking the LLM to invent a call."""
    call_id = f"call-{uuid.uuid4().hex}"
    handle = await start_call(temporal, CallInput(call_id), _batch(call_id, call_events(call_id, 4)))
    await handle.result()
    assert (await post_call_result(temporal, call_id)).summary == NOTHING_SAID


async def test_an_llm_that_fails_every_attempt_leaves_a_row_saying_why(
    temporal: Client, pool: asyncpg.Pool, settings: Settings
) -> None:
    """The summary LLM (an OpenAI-compatible server that is not there) fails; the row says why."""
    call_id = f"call-{uuid.uuid4().hex}"
    absent = replace(
        settings, llm_provider="openai_compatible", llm_base_url="http://127.0.0.1:9/v1", llm_model="absent"
    )
    events = [*call_events(call_id, 2)[:-1], CallerUtterance(0.5, "Hello?"), CallEnded(0.6, "caller")]
    async with build_worker(temporal, pool, settings=absent):
        handle = await start_call(temporal, CallInput(call_id), _batch(call_id, events))
        await handle.result()
        assert (await post_call_result(temporal, call_id)).summary is None
    stored = await load_summary(pool, call_id)
    assert stored is not None and stored.summary is None and stored.model == "absent"
    assert stored.error


async def _release_after_first_answer(pool: asyncpg.Pool, since: float, gate: asyncio.Event) -> None:
    """Open the CRM's gate once the stored log shows the agent answering the caller's first turn."""
    while not gate.is_set():
        answered = await pool.fetchval(
            """
            SELECT count(*) FROM events s
            JOIN events c ON c.call_id = s.call_id AND c.type = 'caller_utterance'
            JOIN events a ON a.call_id = s.call_id AND a.seq > c.seq
                AND a.type = 'machine_transition' AND a.data->>'dest' = 'agent_speaking'
            WHERE s.type = 'call_started' AND s.data->>'caller_number' = $1
              AND s.recorded_at > to_timestamp($2)
            """,
            JORDAN_NUMBER,
            since,
        )
        if answered:
            gate.set()
        await asyncio.sleep(0.1)


async def test_a_slow_crm_does_not_hold_up_the_first_reply_and_joins_the_context_later(
    temporal: Client, pool: asyncpg.Pool, settings: Settings, models: Models, tmp_path: Path
) -> None:
    """A CRM that answers only after the first exchange: the agent replies without it, then uses it."""
    scenario = tmp_path / "crm.yaml"
    scenario.write_text(
        f"statechart: sales_roleplay\ncaller:\n  number: '{JORDAN_NUMBER}'\n  turns:\n"
        "    - say: Hi Dana, do you have a minute?\n"
        "    - pause_ms: 2000\n"
        "    - say: How do you plan routes today?\n",
        encoding="utf-8",
    )
    await models.warm_up()  # a cold model's first reply would outlast the CRM's patience
    gate = asyncio.Event()
    opener = asyncio.create_task(_release_after_first_answer(pool, time.time(), gate))
    async with serve_crm({JORDAN_NUMBER: JORDAN}, gate=gate) as url:
        crm_settings = replace(settings, crm_provider="http", crm_url=url, crm_timeout_ms=9_000)
        async with build_worker(temporal, pool, settings=crm_settings):
            calls = CallFactory.create(settings, models, recorder_client=temporal)
            report: dict[str, Any] = (await run_scripted_call(load_scenario(scenario), calls)).data
    opener.cancel()
    events = report["events"]
    types = [e["type"] for e in events]
    crm = events[types.index("crm_context")]
    assert crm["status"] == "found" and crm["account"] == "Routewise"
    # The order of the call's own log: the agent was answering the first turn before the record joined.
    answering = [e.get("dest") for e in events[types.index("caller_utterance") : types.index("crm_context")]]
    assert "agent_speaking" in answering
    assert events[0]["caller_number"] == JORDAN_NUMBER
    context = [item["text"] for item in report["llm_context"] if item["role"] == "system"]
    assert any("Jordan Avery, Account Executive, Routewise" in text for text in context)
    assert report["events_recorded"] == len(await read_events(pool, report["call_id"]))
