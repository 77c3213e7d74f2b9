"""What a call hands its recorder besides transitions and utterances: tool calls, as they run."""

from __future__ import annotations

import asyncio

from livekit.agents.llm import FunctionCall, FunctionCallOutput
from livekit.agents.voice.events import FunctionToolsExecutedEvent

from rapport.settings import Settings
from realtime.audio_io import CallerAudioInput
from realtime.call import CallFactory
from realtime.events import CallEvent, ToolCalled
from realtime.session import Models


async def test_a_tool_the_session_runs_is_recorded_with_its_arguments_and_result(
    settings: Settings, models: Models
) -> None:
    """livekit's report of executed tools becomes one `tool_called` event per call, in order."""
    events: list[CallEvent] = []
    audio_in = CallerAudioInput(now=asyncio.get_running_loop().time, sample_rate=16_000)
    call = CallFactory.create(settings, models).new_call(
        "sales_roleplay", audio_in=audio_in, sink=events.append
    )
    await call.start()
    try:
        call.session.emit(
            "function_tools_executed",
            FunctionToolsExecutedEvent(
                function_calls=[FunctionCall(call_id="c1", name="rep_stated_purpose", arguments="{}")],
                function_call_outputs=[
                    FunctionCallOutput(
                        call_id="c1",
                        name="rep_stated_purpose",
                        output="Now in stage discovery.",
                        is_error=False,
                    )
                ],
            ),
        )
    finally:
        await call.hangup("test")
    tools = [e for e in events if isinstance(e, ToolCalled)]
    assert [(t.name, t.arguments, t.result) for t in tools] == [
        ("rep_stated_purpose", "{}", "Now in stage discovery.")
    ]
