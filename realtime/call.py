"""One live call: a session, its two machines, caller-side audio, and its event stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from livekit import rtc
from livekit.agents.voice.events import ConversationItemAddedEvent

from rapport.logs import get_logger
from realtime.agent import StageAgent
from realtime.audio_io import CallerAudioInput, CallerAudioOutput, PlayedSegment
from realtime.bridge import TurnTakingBridge
from realtime.events import (
    AgentUtterance,
    CallEnded,
    CallerUtterance,
    CallEvent,
    CallStarted,
    EventSink,
    MachineTransition,
)
from realtime.session import Models, build_session
from realtime.turn_taking import TurnTaking
from statecharts.clock import LoopClock
from statecharts.records import Statechart, TransitionRecord
from statecharts.registry import Registry

__all__ = ["Call"]

log = get_logger(__name__)


class Call:
    """Everything one caller talks to. Start it, feed `audio_in`, hang up."""

    def __init__(
        self,
        *,
        chart: Statechart,
        turn_chart: Statechart,
        tools: Registry,
        models: Models,
        audio_in: CallerAudioInput | None,
        sink: EventSink,
        frame_sink: Callable[[rtc.AudioFrame], Awaitable[None]] | None = None,
        call_id: str | None = None,
    ) -> None:
        self.call_id = call_id or uuid.uuid4().hex
        self.clock = LoopClock()
        self._sink = sink
        self.audio_in = audio_in
        self.segments: list[PlayedSegment] = []
        self.ended = asyncio.Event()
        self.session = build_session(models)
        self.output = CallerAudioOutput(
            now=self.clock.now, sink=frame_sink, on_finished=self._on_playback_finished
        )
        self.bridge = TurnTakingBridge(self.session, on_hangup=self._hangup_soon)
        self.turns = TurnTaking(
            turn_chart,
            clock=self.clock,
            on_command=self.bridge.execute,
            on_transition=self._transition_recorder("turn_taking"),
        )
        self.agent = StageAgent(
            chart, tools, clock=self.clock, on_transition=self._transition_recorder(chart.id)
        )
        self._chart = chart
        self._turn_chart = turn_chart

    def _emit(self, event: CallEvent) -> None:
        self._sink(event)

    def _transition_recorder(self, machine: str) -> Callable[[TransitionRecord], None]:
        def record(rec: TransitionRecord) -> None:
            self._emit(
                MachineTransition(
                    at=rec.at, machine=machine, event=rec.event, source=rec.source, dest=rec.dest
                )
            )

        return record

    async def start(self, room: rtc.Room | None = None) -> None:
        """Start talking: on the caller-side audio, or in a LiveKit room (livekit's room I/O)."""
        if room is None:
            self.session.input.audio = self.audio_in
            self.session.output.audio = self.output
        self.session.on("conversation_item_added", self._on_item_added)
        # The end_call tool shuts the session down; the call follows it.
        self.session.on("close", lambda _ev: self._hangup_soon())
        self._emit(
            CallStarted(
                at=self.clock.now(),
                call_id=self.call_id,
                statechart=self._chart.id,
                statechart_version=self._chart.version,
                turn_taking_version=self._turn_chart.version,
            )
        )
        if room is None:
            await self.session.start(agent=self.agent, record=False)
            self.bridge.attach(self.turns, self.output)
        else:
            await self.session.start(agent=self.agent, room=room)
            assert self.session.output.audio is not None
            self.bridge.attach(self.turns, self.session.output.audio)
        log.info("call.started", call_id=self.call_id, statechart=self._chart.id)
        if self.agent.greeting:
            self.session.say(self.agent.greeting)

    def _on_item_added(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if getattr(item, "role", None) == "user":
            text = getattr(item, "text_content", None) or ""
            self._emit(CallerUtterance(at=self.clock.now(), text=text))

    def _on_playback_finished(self, segment: PlayedSegment) -> None:
        self.segments.append(segment)
        self._emit(
            AgentUtterance(
                at=self.clock.now(),
                text=segment.text,
                heard_text=segment.heard_text,
                interrupted=segment.interrupted,
                started_at=segment.started_at,
                ended_at=segment.ended_at,
            )
        )

    def _hangup_soon(self) -> None:
        if not self.ended.is_set():
            asyncio.get_running_loop().create_task(self.hangup("agent"))

    async def hangup(self, reason: str = "caller") -> None:
        """End the call; safe to call twice."""
        if self.ended.is_set():
            return
        self.ended.set()
        self.turns.on_hangup()
        if self.audio_in is not None:
            self.audio_in.close()
        await self.session.aclose()
        await self.output.aclose()
        self._emit(CallEnded(at=self.clock.now(), reason=reason))
        log.info("call.ended", call_id=self.call_id, reason=reason)
