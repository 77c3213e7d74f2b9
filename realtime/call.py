"""One live call: a session, its two machines, caller-side audio, and its event stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from livekit import rtc
from livekit.agents.voice.events import ConversationItemAddedEvent, FunctionToolsExecutedEvent
from temporalio.client import Client

from knowledge.embedding import embedder
from rapport.logs import get_logger
from rapport.settings import Settings
from realtime.agent import StageAgent
from realtime.audio_io import CallerAudioInput, CallerAudioOutput, HeardAudioOutput, PlayedSegment
from realtime.bridge import TurnTakingBridge
from realtime.call_tools import CallTools, tool_events
from realtime.events import (
    AgentUtterance,
    CallEnded,
    CallerUtterance,
    CallEvent,
    CallStarted,
    CallTransferred,
    CrmContextJoined,
    EventSink,
    KnowledgeRetrieved,
    LatencySample,
    MachineTransition,
    SpeechDismissed,
)
from realtime.gc_pauses import freeze_start_up
from realtime.knowledge import CallKnowledge, Retrieved
from realtime.metrics import call_metrics
from realtime.plugins.whisper_stt import WhisperSTT
from realtime.recorder import EventRecorder
from realtime.session import Models, build_session, call_stt
from realtime.tools import conversation_registry
from realtime.turn_audio import TappedAudioInput, TurnAudio
from realtime.turn_taking import Dismissal, TurnTaking
from realtime.turn_taking import registry as turn_registry
from statecharts.clock import LoopClock, ManualClock
from statecharts.errors import StatechartError
from statecharts.load import StatechartLibrary
from statecharts.records import Statechart, TransitionRecord
from statecharts.registry import Registry
from workflows.call import CRM_TIMEOUT
from workflows.records import CrmLookup

__all__ = ["DEFAULT_STATECHART", "Call", "CallFactory", "Transfer"]

log = get_logger(__name__)

# The workflow gives the CRM CRM_TIMEOUT; past a little more than that, the answer is not coming.
CRM_WAIT_S = CRM_TIMEOUT.total_seconds() + 5

Transfer = Callable[[], Awaitable[str | None]]
"""Puts a phone caller through to a human; returns where to (None: nowhere, the hand-off was spoken only)."""


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
        caller_number: str | None = None,
        rep_id: str | None = None,
        recorder_client: Client | None = None,
        tool_timeout_ms: int = 4_000,
        transfer: Transfer | None = None,
    ) -> None:
        self.call_id = call_id or uuid.uuid4().hex
        self.caller_number = caller_number
        self.rep_id = rep_id
        self.clock = LoopClock()
        self._sink = sink
        # The call's workflow records every event; the call never waits for it.
        self.recorder = (
            EventRecorder(self.call_id, recorder_client, caller_number=caller_number)
            if recorder_client
            else None
        )
        self._background: list[asyncio.Task[None]] = []
        self._speech_ended_at: float | None = None
        self._sender: asyncio.Task[None] | None = None
        self.audio_in = audio_in
        self.segments: list[PlayedSegment] = []
        self.ended = asyncio.Event()
        heard_by = call_stt(models, chart.settings.get("vocabulary"))
        self.session = build_session(models, heard_by)
        self.output = CallerAudioOutput(
            now=self.clock.now, sink=frame_sink, on_finished=self._on_playback_finished
        )
        # The caller's recent audio, for the end-of-turn model.
        self.turn_audio = TurnAudio()
        self.bridge = TurnTakingBridge(self.session, on_hangup=self._hangup_soon, turn_audio=self.turn_audio)
        self.turns = TurnTaking(
            turn_chart,
            clock=self.clock,
            on_command=self.bridge.execute,
            on_transition=self._transition_recorder("turn_taking"),
            on_dismissed=self._on_dismissed,
        )
        # The bases the chart's stages draw on, fetched through the call's workflow when it starts.
        self.knowledge = (
            CallKnowledge(self.recorder.knowledge)
            if self.recorder is not None and chart.knowledge_names
            else None
        )
        self.agent = StageAgent(
            chart,
            tools,
            clock=self.clock,
            on_transition=self._transition_recorder(chart.id),
            knowledge=self.knowledge,
            on_retrieved=self._on_retrieved,
            hear_turn=self._hear_turn(heard_by) if isinstance(heard_by, WhisperSTT) else None,
        )
        self.chart = chart
        self._turn_chart = turn_chart
        self._transfer = transfer
        self._end_reason = "agent"
        # What the agent's tools act through: this call's workflow, its hand-off to a human.
        self.call_tools = CallTools(
            call_id=self.call_id,
            ask=self.recorder.run_tool if self.recorder is not None else None,
            timeout_ms=tool_timeout_ms,
            hand_off=self._hand_off,
        )
        self.session.userdata = self.call_tools

    def _emit(self, event: CallEvent) -> None:
        if self.recorder is not None:
            self.recorder.record(event)
        call_metrics.observe(event)
        self._sink(event)

    def _transition_recorder(self, machine: str) -> Callable[[TransitionRecord], None]:
        def record(rec: TransitionRecord) -> None:
            self._emit(
                MachineTransition(
                    at=rec.at, machine=machine, event=rec.event, source=rec.source, dest=rec.dest
                )
            )
            if machine == "turn_taking":
                self._sample_latency(rec)

        return record

    def _sample_latency(self, rec: TransitionRecord) -> None:
        """Voice to voice, per reply: the VAD's end of the caller's speech to the agent's first audio."""
        if rec.event == "speech_ended":
            self._speech_ended_at = rec.at
        elif rec.event == "agent_audio_started" and self._speech_ended_at is not None:
            self._emit(LatencySample(rec.at, round((rec.at - self._speech_ended_at) * 1000, 1)))
            self._speech_ended_at = None

    def _on_dismissed(self, dismissal: Dismissal) -> None:
        self.agent.forget_dismissed(dismissal.reason)
        self._emit(SpeechDismissed(self.clock.now(), dismissal.reason, dismissal.transcript))

    def _on_tools_executed(self, ev: FunctionToolsExecutedEvent) -> None:
        offered = self.agent.offered_tool_names()
        for event in tool_events(ev, at=self.clock.now(), errors=self.call_tools.errors, offered=offered):
            self._emit(event)

    async def _hand_off(self) -> None:
        """The caller goes to a human: put them through (a phone call) and record it; the call ends."""
        target = await self._transfer() if self._transfer is not None else None
        self._end_reason = "transferred"
        self._emit(CallTransferred(self.clock.now(), target))
        log.info("call.transferred", call_id=self.call_id, transferred=target is not None)

    async def start(self, room: rtc.Room | None = None) -> None:
        """Start talking: on the caller-side audio, or in a LiveKit room (livekit's room I/O)."""
        if room is None:
            self.session.input.audio = (
                TappedAudioInput(self.audio_in, self.turn_audio) if self.audio_in is not None else None
            )
            self.session.output.audio = self.output
        if self.recorder is not None:
            self._sender = asyncio.get_running_loop().create_task(self.recorder.run())
            recorder = self.recorder
            self._sender.add_done_callback(lambda _task: call_metrics.forget(recorder))
        call_metrics.call_started(self.call_id, self.recorder)
        self.session.on("conversation_item_added", self._on_item_added)
        self.session.on("function_tools_executed", self._on_tools_executed)
        # The end_call tool shuts the session down; the call follows it.
        self.session.on("close", lambda _ev: self._hangup_soon())
        self._emit(
            CallStarted(
                at=self.clock.now(),
                call_id=self.call_id,
                statechart=self.chart.id,
                statechart_version=self.chart.version,
                turn_taking_version=self._turn_chart.version,
                caller_number=self.caller_number,
                rep_id=self.rep_id,
                wall_time=time.time(),
            )
        )
        if room is None:
            await self.session.start(agent=self.agent, record=False)
            self.bridge.attach(self.turns, self.output)
        else:
            await self.session.start(agent=self.agent, room=room)
            assert self.session.input.audio is not None and self.session.output.audio is not None
            self.session.input.audio = TappedAudioInput(self.session.input.audio, self.turn_audio)
            # The room plays the agent's audio; what the caller heard of it is recorded on the way.
            self.session.output.audio = HeardAudioOutput(
                self.session.output.audio, now=self.clock.now, on_finished=self._on_playback_finished
            )
            self.bridge.attach(self.turns, self.session.output.audio)
        log.info("call.started", call_id=self.call_id, statechart=self.chart.id)
        if self.agent.greeting:
            self.session.say(self.agent.greeting)
        if self.recorder is not None and self.caller_number:
            self._background.append(asyncio.get_running_loop().create_task(self._join_crm_context()))
        if self.knowledge is not None:
            self._background.append(
                asyncio.get_running_loop().create_task(self.knowledge.load(self.chart.knowledge_names))
            )

    def _hear_turn(self, stt: WhisperSTT) -> Callable[[float], Awaitable[str]]:
        """The caller's last seconds, transcribed as a whole by the local STT."""

        async def hear(seconds: float) -> str:
            return await asyncio.to_thread(stt.hear, self.turn_audio.last(seconds))

        return hear

    def _on_retrieved(self, found: Retrieved) -> None:
        self._emit(KnowledgeRetrieved(self.clock.now(), found.passages(), round(found.took_ms, 1)))

    async def _join_crm_context(self) -> None:
        """Add the caller's CRM record to the LLM's context when it arrives; the agent talks meanwhile."""
        assert self.recorder is not None
        try:
            lookup = await self.recorder.crm_context(within=CRM_WAIT_S)
        except Exception as exc:  # Temporal away, the workflow gone: the call goes on without it
            lookup = CrmLookup("failed", error=f"{type(exc).__name__}: {exc}")
        text = lookup.context.as_prompt() if lookup.context is not None else ""
        if text:
            if (speech := self.session.current_speech) is not None:
                # After the greeting, as the next reply will see the chat: the prefill below then
                # evaluates the note and the greeting, all the reply's prompt has before the caller's
                # words, ahead of the reply rather than with it.
                await speech.wait_for_playout()
            await self.agent.add_context(text)
            await self.agent.prefill()
        account = lookup.context.account if lookup.context is not None else None
        self._emit(CrmContextJoined(self.clock.now(), lookup.status, account, text, lookup.error))
        log.info("call.crm_context", call_id=self.call_id, status=lookup.status)

    def _on_item_added(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if getattr(item, "role", None) == "user":
            text = getattr(item, "text_content", None) or ""
            if text.strip():
                self._emit(CallerUtterance(at=self.clock.now(), text=text))

    def _on_playback_finished(self, segment: PlayedSegment) -> None:
        self.segments.append(segment)
        if segment.played_s <= 0:
            # A reply dropped before any of it was played (the caller went on talking) was never
            # uttered; the turn-taking transitions record that it was cut.
            return
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
            asyncio.get_running_loop().create_task(self.hangup(self._end_reason))

    async def hangup(self, reason: str = "caller") -> None:
        """End the call; safe to call twice."""
        if self.ended.is_set():
            return
        self.ended.set()
        for task in self._background:
            task.cancel()
        self.turns.on_hangup()
        if self.audio_in is not None:
            self.audio_in.close()
        await self.session.aclose()
        await self.output.aclose()
        self._emit(CallEnded(at=self.clock.now(), reason=reason))
        call_metrics.call_ended(self.call_id)
        log.info("call.ended", call_id=self.call_id, reason=reason)
        if self.recorder is not None:
            self.recorder.close()

    async def recorded(self, within: float = 30.0) -> int:
        """After hang-up: wait until the workflow has stored every event; returns how many."""
        if self.recorder is None or self._sender is None:
            return 0
        await asyncio.wait_for(asyncio.shield(self._sender), within)
        return await self.recorder.stored(within)


DEFAULT_STATECHART = "sales_roleplay"
"""The conversation a call plays when nobody names one: sales practice."""


def _ignore(_record: TransitionRecord) -> None:
    pass


@dataclass(frozen=True)
class CallFactory:
    """What every call of a process shares: the models, the tool registry, the definitions.

    Definitions are looked up per call, so an edited file is used from the next call on.
    """

    models: Models
    tools: Registry
    conversations: StatechartLibrary
    turn_taking: StatechartLibrary
    recorder_client: Client | None = None
    tool_timeout_ms: int = 4_000

    @classmethod
    def create(cls, settings: Settings, models: Models, recorder_client: Client | None = None) -> CallFactory:
        tools = conversation_registry()
        return cls(
            models=models,
            tools=tools,
            conversations=StatechartLibrary(settings.statechart_dir, tools),
            turn_taking=StatechartLibrary(settings.statechart_dir, turn_registry),
            recorder_client=recorder_client,
            tool_timeout_ms=settings.tool_timeout_ms,
        )

    def conversation_names(self) -> list[str]:
        return [name for name in self.conversations.names() if name != "turn_taking"]

    async def warm_up(self, statechart: str | None = None) -> None:
        """Models ready before the first caller, and the embedder too if a chart embeds caller turns.

        Loading the embedder imports torch: seconds of work that holds the interpreter, which must
        not happen while a call's audio is flowing.

        With `statechart`, a local LLM also evaluates that chart's opening prompt (instructions,
        tools, the persona's earlier call): some 550 tokens, 5-8 s on 2 cores, that the first
        call would otherwise spend during its greeting and its caller's first turn.
        """
        await self.models.warm_up()
        if self.embeds_caller_turns():
            await asyncio.to_thread(embedder)
        prefill = getattr(self.models.llm, "prefill", None)
        if statechart is not None and prefill is not None:
            # The agent only renders its prompt here: a clock that never moves fires no timer.
            agent = StageAgent(
                self.conversations.get(statechart), self.tools, clock=ManualClock(), on_transition=_ignore
            )
            await prefill(*agent.opening_request())
        freeze_start_up()

    def embeds_caller_turns(self) -> bool:
        """Whether any chart embeds its callers' turns: a stage that draws on knowledge (to search
        it), or a transition with a trigger (to match the turn against its examples)."""
        for name in self.conversation_names():
            try:
                chart = self.conversations.get(name)
            except StatechartError:
                continue  # a broken chart is reported when a call asks for it
            if chart.knowledge_names or any(
                t.triggers for state in chart.all_states.values() for t in state.transitions
            ):
                return True
        return False

    def new_call(
        self,
        statechart: str,
        *,
        audio_in: CallerAudioInput | None,
        sink: EventSink,
        frame_sink: Callable[[rtc.AudioFrame], Awaitable[None]] | None = None,
        call_id: str | None = None,
        caller_number: str | None = None,
        rep_id: str | None = None,
        transfer: Transfer | None = None,
    ) -> Call:
        """A call playing `statechart`; raises `UnknownStatechart` or `StatechartError`.

        With a caller number (E.164) the call's workflow looks the caller up in the CRM; the rep's
        id decides whose managers see the call and its scorecard. `transfer` puts a phone caller
        through to a human when the agent hands off (without it the hand-off is only spoken).
        """
        return Call(
            chart=self.conversations.get(statechart),
            turn_chart=self.turn_taking.get("turn_taking"),
            tools=self.tools,
            models=self.models,
            audio_in=audio_in,
            sink=sink,
            frame_sink=frame_sink,
            call_id=call_id,
            caller_number=caller_number,
            rep_id=rep_id,
            recorder_client=self.recorder_client,
            tool_timeout_ms=self.tool_timeout_ms,
            transfer=transfer,
        )
