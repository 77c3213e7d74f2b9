"""The agent's tools in a live call: the LLM calls them, the workflow runs them, the caller hears.

The LLM is a FAKE of a paid OpenAI-compatible API (`tests.fake_chat_llm`) that calls the tools a
test scripts, through the real livekit-plugins-openai client. The rest is real: the `Call`, Piper
speaking to the caller-side output, the call's workflow, PostgreSQL, and a CRM on loopback that
is slow when a test needs one.
"""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest
from livekit.agents.voice.run_result import RunResult
from temporalio.client import Client

from db.event_store import read_events
from rapport.settings import Secret, Settings
from realtime.call_tools import FILLER
from realtime.events import CallEnded, CallTransferred
from realtime.session import Models
from realtime.tools import HANDOFF
from tests.crm_server import serve_crm
from tests.fake_chat_llm import CallTool, Say, Step, serve_fake_llm
from tests.tool_calls import PRIYA, factory, said, tool_call, tools_called
from worker import build_worker

PRIYA_RECORD = {
    "name": "Priya Shah",
    "title": "Head of Sales Operations",
    "account": {"name": "Acme Fabrication", "industry": "manufacturing", "employees": 1200},
    "notes": ["Downloaded the pricing guide for teams of 50+ reps."],
}


async def test_crm_lookup_reads_the_callers_record_through_the_workflow(
    settings: Settings, models: Models, temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """The LLM calls crm_lookup; the result is Priya's record, the LLM's next request carries it,
    and the call's stored log has the call, its result and how long it took. A fast tool gets no
    filler line."""
    script: list[Step] = [CallTool("crm_lookup"), Say("Yes, Priya, I have Acme on file.")]
    async with serve_fake_llm(script) as fake:
        calls = factory(settings, models, temporal, fake)
        async with tool_call(calls, caller=PRIYA, moves=["reason_known"]) as live:
            result: RunResult[None] = await live.call.session.run(
                user_input="Do you have my details on file?"
            )
    result.expect.next_event().is_function_call(name="crm_lookup", arguments={})
    output = result.expect.next_event().is_function_call_output(is_error=False).event().item
    assert "Priya Shah" in output.output and "Acme Fabrication" in output.output
    result.expect.next_event().is_message(role="assistant")
    assert "Acme Fabrication" in str(fake.requests[-1]["messages"])
    (called,) = tools_called(live.events)
    assert (called.name, called.arguments, called.error) == ("crm_lookup", "{}", None)
    assert called.duration_ms is not None and called.duration_ms > 0
    assert said(live.events)[1:] == ["Yes, Priya, I have Acme on file."]  # after the greeting
    stored = [e for e in await read_events(pool, live.call.call_id) if e.type == "tool_called"]
    assert [(e.version, e.data["name"], e.data["error"]) for e in stored] == [(2, "crm_lookup", None)]
    assert "Acme Fabrication" in stored[0].data["result"]


async def test_a_slow_tool_gets_one_filler_line_and_its_answer_still_arrives(
    settings: Settings, models: Models, temporal: Client, pool: asyncpg.Pool
) -> None:
    """A CRM that takes over a second: the caller hears "Let me check that." once, while it works,
    then the reply built on the record."""
    async with serve_crm({PRIYA: PRIYA_RECORD}, delay_s=1.2) as url:
        slow_crm = replace(settings, crm_provider="http", crm_url=Secret(url))
        script: list[Step] = [CallTool("crm_lookup"), Say("Found you, Priya.")]
        async with build_worker(temporal, pool, settings=slow_crm), serve_fake_llm(script) as fake:
            calls = factory(settings, models, temporal, fake)
            async with tool_call(calls, caller=PRIYA, moves=["reason_known"]) as live:
                result: RunResult[None] = await live.call.session.run(
                    user_input="What do you know about my company?"
                )
    result.expect.contains_function_call(name="crm_lookup")
    result.expect.contains_function_call_output(is_error=False)
    assert said(live.events)[1:] == [FILLER, "Found you, Priya."]  # after the greeting
    assert "Acme Fabrication" in str(fake.requests[-1]["messages"])
    (called,) = tools_called(live.events)
    assert called.error is None and called.duration_ms is not None and called.duration_ms >= 1_000


async def test_a_tool_past_its_deadline_is_answered_gracefully_and_the_call_goes_on(
    settings: Settings,
    models: Models,
    temporal: Client,
    pool: asyncpg.Pool,
    worker: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The calendar's table is locked (a migration, a stuck transaction): past the tool timeout the
    LLM gets an answer it can say, the error is logged without the caller's words, and the next
    turn is answered as usual."""
    script: list[Step] = [
        CallTool("propose_meeting_slots"),
        Say("I can't reach the calendar right now. Shall I email you some times?"),
        Say("Great, I'll send them over today."),
    ]
    async with serve_fake_llm(script) as fake:
        calls = replace(factory(settings, models, temporal, fake), tool_timeout_ms=1_000)
        async with tool_call(calls, caller=PRIYA, moves=["reason_known", "qualified"]) as live:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("LOCK TABLE calendar_meetings IN ACCESS EXCLUSIVE MODE")
                stuck: RunResult[None] = await live.call.session.run(
                    user_input="When could I meet someone next week?"
                )
            goes_on: RunResult[None] = await live.call.session.run(user_input="Email works for me.")
    stuck.expect.next_event().is_function_call(name="propose_meeting_slots")
    output = stuck.expect.next_event().is_function_call_output(is_error=True).event().item
    assert "the calendar is not answering right now" in output.output
    # The fake was given that answer to speak from; the caller heard the spoken version.
    assert "the calendar is not answering" in str(fake.requests[1]["messages"])
    goes_on.expect.next_event().is_message(role="assistant")
    assert said(live.events)[-2:] == [
        "I can't reach the calendar right now. Shall I email you some times?",
        "Great, I'll send them over today.",
    ]
    (called,) = tools_called(live.events)
    assert called.error == "timeout" and called.duration_ms is not None and called.duration_ms >= 1_000
    # The test hung up, not the agent.
    assert [e.reason for e in live.events if isinstance(e, CallEnded)] == ["caller"]
    logged = capsys.readouterr()
    log = logged.out + logged.err
    assert "tool.timed_out" in log and "propose_meeting_slots" in log
    assert "next week" not in log and "Email works" not in log


async def test_the_caller_books_a_slot_the_llm_proposed(
    settings: Settings, models: Models, temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """Propose, then book the first slot offered: the meeting is Priya's, booked by this call."""
    script: list[Step] = [CallTool("propose_meeting_slots"), Say("I have three times this week.")]
    async with serve_fake_llm(script) as fake:
        calls = factory(settings, models, temporal, fake)
        async with tool_call(calls, caller=PRIYA, moves=["reason_known", "qualified"]) as live:
            offered: RunResult[None] = await live.call.session.run(
                user_input="Can we set up a call with sales?"
            )
            offer = offered.expect.contains_function_call_output(is_error=False).event().item.output
            slot = offer.split("(id ", 1)[1].split(")", 1)[0]
            fake.then([CallTool("book_meeting", {"slot": slot}), Say("You're booked.")])
            booked: RunResult[None] = await live.call.session.run(user_input="The first one works.")
    confirmation = booked.expect.contains_function_call_output(is_error=False).event().item.output
    assert confirmation.startswith("Booked for the caller:")
    meeting = await pool.fetchrow(
        "SELECT caller_number, contact_id FROM calendar_meetings WHERE call_id = $1", live.call.call_id
    )
    assert meeting is not None and tuple(meeting) == (PRIYA, "con-priya")
    assert [(t.name, t.error) for t in tools_called(live.events)] == [
        ("propose_meeting_slots", None),
        ("book_meeting", None),
    ]


async def test_transfer_to_human_says_the_hand_off_records_it_and_ends_the_call(
    settings: Settings, models: Models, temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """Locally there is no phone line to transfer: the caller hears the hand-off line, a
    `call_transferred` event says so, and the call ends as transferred."""
    async with serve_fake_llm([CallTool("transfer_to_human")]) as fake:
        calls = factory(settings, models, temporal, fake)
        async with tool_call(calls, caller=PRIYA) as live:
            await live.call.session.run(user_input="Can I talk to a real person, please?")
            await live.call.ended.wait()
    assert said(live.events)[-1] == HANDOFF
    transferred = [e for e in live.events if isinstance(e, CallTransferred)]
    assert [e.target for e in transferred] == [None]
    assert isinstance(live.events[-1], CallEnded) and live.events[-1].reason == "transferred"
    (called,) = tools_called(live.events)
    assert (called.name, called.error) == ("transfer_to_human", None)
    stored = [e.type for e in await read_events(pool, live.call.call_id)]
    assert "call_transferred" in stored and stored[-1] == "call_ended"
