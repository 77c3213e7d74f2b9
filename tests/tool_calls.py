"""Calls for the tool tests: a real `Call` (recorded through its workflow) talked to in text.

The caller's turns go in as text (`call.session.run(user_input=...)`, livekit's test entry
point, whose `RunResult` lists the tool calls and replies); everything else is a live call's:
the turn-taking machine, Piper speaking every reply to the caller-side output at real-time pace
(an utterance in the events is speech the caller heard), the recorder and the workflow.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from temporalio.client import Client

from rapport.settings import Settings
from realtime.audio_io import CallerAudioInput
from realtime.call import Call, CallFactory
from realtime.events import AgentUtterance, CallEvent, ToolCalled
from realtime.session import Models
from tests.fake_chat_llm import FakeChatLLM

__all__ = ["PRIYA", "ToolCall", "factory", "other_accounts_in", "said", "tool_call", "tools_called"]

PRIYA = "+15555550103"
# Everything the seed CRM holds about accounts other than Priya's (Acme Fabrication).
_OTHERS = ("Jordan Avery", "Dana Reyes", "Marcus Bell", "Routewise", "Northwind", "Bluewater")
_OTHER_NUMBERS = ("5550101", "5550102", "5550104")


@dataclass
class ToolCall:
    """A call in progress and every event it has made so far."""

    call: Call
    events: list[CallEvent]


def factory(
    settings: Settings, models: Models, temporal: Client, fake: FakeChatLLM | None = None
) -> CallFactory:
    """The production call factory; with `fake`, its LLM is the paid API's fake (the rest is real)."""
    chosen = models if fake is None else replace(models, llm=fake.client())
    return CallFactory.create(settings, chosen, recorder_client=temporal)


@asynccontextmanager
async def tool_call(
    calls: CallFactory, *, caller: str | None, moves: Sequence[str] = ()
) -> AsyncIterator[ToolCall]:
    """An inbound-qualification call from `caller`, moved along the chart by `moves` (stage
    events) before the test talks; hung up and fully recorded after it."""
    audio_in = CallerAudioInput(now=asyncio.get_running_loop().time, sample_rate=16_000)
    events: list[CallEvent] = []
    call = calls.new_call(
        "inbound_qualification", audio_in=audio_in, sink=events.append, caller_number=caller
    )
    live = ToolCall(call, events)
    await call.start()
    try:
        for event in moves:
            await live.call.agent.move(event)
        yield live
    finally:
        await live.call.hangup("caller")
    await live.call.recorded()


def tools_called(events: Sequence[CallEvent]) -> list[ToolCalled]:
    return [e for e in events if isinstance(e, ToolCalled)]


def said(events: Sequence[CallEvent]) -> list[str]:
    """What the caller heard the agent say, utterance by utterance."""
    return [e.heard_text for e in events if isinstance(e, AgentUtterance)]


def other_accounts_in(text: str) -> list[str]:
    """Names and numbers of other seeded accounts that appear in `text` (any number format)."""
    digits = re.sub(r"\D", "", text)
    return [name for name in _OTHERS if name.lower() in text.lower()] + [
        number for number in _OTHER_NUMBERS if number in digits
    ]
