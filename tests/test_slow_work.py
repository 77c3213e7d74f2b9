"""Slow work off the hot path: the CRM lookup at call start and the post-call summary.

Real Temporal dev server, real PostgreSQL, the real local LLM; the CRMs are the built-in one and
a real HTTP server on loopback (slow or failing on purpose).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client

from activities.summary import NOTHING_SAID
from db.event_store import read_events
from db.summaries import load_summary
from rapport.settings import Secret, Settings
from realtime.call import Call, CallFactory
from realtime.events import (
    AgentUtterance,
    CallEnded,
    CallerUtterance,
    CallEvent,
    CallStarted,
    EventSink,
    MachineTransition,
)
from realtime.recorder import to_record
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.crm_server import JORDAN, serve_crm
from tests.workflow_calls import call_events, hang_up, open_call, post_call_result, start_call
from worker import build_worker
from workflows.call import CallWorkflow
from workflows.records import CallInput, EventBatch

JORDAN_NUMBER = "+15555550101"


def _reply(at: float, text: str) -> AgentUtterance:
    return AgentUtterance(at, text, text, False, at - 1.0, at)


def _batch(call_id: str, events: list[Any]) -> EventBatch:
    return EventBatch([to_record(i + 1, e) for i, e in enumerate(events)])


async def test_the_crm_record_reaches_the_call_through_its_workflow(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A call with a caller number: the workflow looks it up; the update answers with the record."""
    handle = await open_call(temporal, CallInput(f"call-{uuid.uuid4().hex}", caller_number=JORDAN_NUMBER))
    lookup = await handle.execute_update(CallWorkflow.crm_context)
    assert lookup.status == "found" and lookup.context is not None
    assert (lookup.context.contact, lookup.context.account) == ("Jordan Avery", "Routewise")
    assert await hang_up(handle) == 5


async def test_an_unknown_caller_and_a_call_without_a_number_say_so(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """No record is `not_found`; no number at all is `no_caller`; neither holds up the call."""
    unknown = await open_call(temporal, CallInput(f"call-{uuid.uuid4().hex}", caller_number="+15555559999"))
    anonymous = await open_call(temporal, CallInput(f"call-{uuid.uuid4().hex}"))
    assert (await unknown.execute_update(CallWorkflow.crm_context)).status == "not_found"
    assert (await anonymous.execute_update(CallWorkflow.crm_context)).status == "no_caller"
    assert await hang_up(unknown) == 5 and await hang_up(anonymous) == 5


async def test_a_crm_that_is_down_leaves_the_call_recording_and_says_why(
    temporal: Client, pool: asyncpg.Pool, settings: Settings
) -> None:
    """The CRM answers 503 until the workflow gives up; every event is still stored, once."""
    call_id = f"call-{uuid.uuid4().hex}"
    async with serve_crm({}, status=503) as url:
        crm_settings = replace(settings, crm_provider="http", crm_url=Secret(url))
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
    assert isinstance(summary, str) and len(summary.split()) >= 8
    stored = await load_summary(pool, call_id)
    assert stored is not None and stored.summary == summary and stored.error is None
    assert stored.model == "qwen2.5-1.5b"


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


@dataclass(frozen=True)
class _OpensOnFirstAnswer(CallFactory):
    """Calls whose own event stream opens `gate` once the agent starts answering the caller.

    The call's in-process stream, not the stored log: the test must not depend on how fast a busy
    machine stores events, only on the order the caller experiences.
    """

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def new_call(self, statechart: str, *, sink: EventSink, **kwargs: Any) -> Call:
        heard = False

        def watch(event: CallEvent) -> None:
            nonlocal heard
            heard = heard or isinstance(event, CallerUtterance)
            if heard and isinstance(event, MachineTransition) and event.dest == "agent_speaking":
                self.gate.set()
            sink(event)

        return super().new_call(statechart, sink=watch, **kwargs)


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
    calls = _OpensOnFirstAnswer(**vars(CallFactory.create(settings, models, recorder_client=temporal)))
    async with serve_crm({JORDAN_NUMBER: JORDAN}, gate=calls.gate) as url:
        crm_settings = replace(settings, crm_provider="http", crm_url=Secret(url), crm_timeout_ms=9_000)
        async with build_worker(temporal, pool, settings=crm_settings):
            report: dict[str, Any] = (await run_scripted_call(load_scenario(scenario), calls)).data
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
