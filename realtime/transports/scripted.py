"""Scripted calls: a caller made of a scenario file talks to a real agent session, headless.

All caller audio is rendered before the call starts, so synthesis never competes with the agent
for the CPU mid-call. Times in the report are the caller's: when its audio reached the agent's
input and when agent audio was played to it, in ms from the start of the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import ConversationItemAddedEvent, UserInputTranscribedEvent

from rapport.logs import get_logger
from realtime.audio_files import AudioFileError, read_audio, trim_silence
from realtime.audio_io import FRAME_MS, CallerAudioInput, PlayedSegment, Utterance
from realtime.call import Call, CallFactory
from realtime.events import CallEvent, as_dict
from realtime.transports.caller_voices import CallerVoiceError, caller_voice, render_say
from realtime.transports.scenario import Scenario, ScenarioError, Turn

__all__ = ["CallReport", "Reply", "caller_voice", "render_turns", "run_scripted_call"]

log = get_logger(__name__)

RATE = 16000
NATURAL_GAP_S = 0.6
REPLY_TIMEOUT_S = 30.0
# A barge-in into a reply about to end starts this long before its last audio: the agent stops
# within about 110 ms of the caller's first words (docs/benchmarks.md), well inside it.
BARGE_IN_BEFORE_END_S = 0.5


def render_turns(scenario: Scenario) -> list[np.ndarray | None]:
    """Audio for each turn (None for a pause); errors name the file and the turn."""
    rendered: list[np.ndarray | None] = []
    for index, turn in enumerate(scenario.turns):
        where = f"{scenario.path}: caller.turns[{index}]"
        if turn.say is not None:
            try:
                rendered.append(
                    render_say(
                        turn.say,
                        scenario.voice,
                        noise=scenario.noise,
                        recording=scenario.recording,
                        what=f"{where}.say",
                    )
                )
            except CallerVoiceError as exc:
                raise ScenarioError(str(exc)) from None
        elif turn.audio is not None:
            try:
                rendered.append(trim_silence(read_audio(turn.audio, rate=RATE), rate=RATE))
            except AudioFileError as exc:
                raise ScenarioError(f"{where}.audio: {exc}") from None
        else:
            rendered.append(None)
    return rendered


@dataclass
class _CallerTurn:
    turn: Turn
    utterance: Utterance
    transcripts: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    """The caller turns the agent committed meanwhile: its own words for what was said (a turn heard
    in pieces is heard again whole before it commits)."""

    @property
    def text(self) -> str:
        return " ".join(self.committed or self.transcripts)


@dataclass(frozen=True)
class Reply:
    """An answered caller turn, in loop time: when the caller's audio ended, when the reply began."""

    caller_ended_at: float
    agent_started_at: float


@dataclass(frozen=True)
class CallReport:
    """The report `rapport call` writes, as the caller experienced the call.

    `started_at` and `replies` are the same moments in the loop's clock, for harnesses that line
    them up with their own timings (the load test's fakes).
    """

    data: dict[str, object]
    started_at: float = 0.0
    replies: tuple[Reply, ...] = ()


async def _until(condition: Callable[[], bool], within: float) -> bool:
    # Harness-side polling: this is the caller's script, not the agent's hot path.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _time_to_barge_in(call: Call, due: float) -> Callable[[], bool]:
    return lambda: (
        call.output.idle or (call.output.playing and (call.clock.now() >= due or _nearly_over(call)))
    )


def _nearly_over(call: Call) -> bool:
    """The reply's last audio has arrived and little of it is left to play."""
    left = call.output.left_to_play_s
    return left is not None and left <= BARGE_IN_BEFORE_END_S


def _replies_beyond(call: Call, count: int) -> Callable[[], bool]:
    return lambda: call.output.segments_started > count


def _agent_idle(call: Call) -> bool:
    return call.ended.is_set() or (call.output.idle and call.turns.state == "listening")


async def _wait_idle(call: Call, gap: float, within: float) -> None:
    """Until the agent has held still for `gap` seconds (its reply is over), or `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if not await _until(lambda: _agent_idle(call), deadline - loop.time()):
            return
        if not await _until(lambda: not _agent_idle(call), gap):
            return


async def run_scripted_call(
    scenario: Scenario,
    calls: CallFactory,
    *,
    audio: list[np.ndarray | None] | None = None,
    frame_ms: int = FRAME_MS,
) -> CallReport:
    """Run the whole call; `audio` is `render_turns(scenario)` when the caller already has it, and
    the caller's audio reaches the agent in `frame_ms` frames."""
    audio = render_turns(scenario) if audio is None else audio
    events: list[CallEvent] = []
    audio_in = CallerAudioInput(now=asyncio.get_running_loop().time, sample_rate=RATE, frame_ms=frame_ms)
    call = calls.new_call(
        scenario.statechart,
        audio_in=audio_in,
        sink=events.append,
        caller_number=scenario.caller_number,
        rep_id=scenario.rep_id,
    )
    caller_turns: list[_CallerTurn] = []

    def on_transcribed(ev: UserInputTranscribedEvent) -> None:
        if ev.is_final and ev.transcript.strip() and caller_turns:
            caller_turns[-1].transcripts.append(ev.transcript.strip())

    def on_item_added(ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, ChatMessage) and item.role == "user" and caller_turns:
            caller_turns[-1].committed.append((item.text_content or "").strip())

    call.session.on("user_input_transcribed", on_transcribed)
    call.session.on("conversation_item_added", on_item_added)
    t0 = call.clock.now()
    await call.start()
    try:
        # Agent replies already started when the caller last stopped talking: a barge-in waits
        # for the reply after that one. Before the caller's first turn, that is the greeting.
        replies_before = 0
        for index, (turn, pcm) in enumerate(zip(scenario.turns, audio, strict=True)):
            if call.ended.is_set():
                # The agent hung up (its end_call tool): the rest of the script has no one to hear it.
                log.info("scripted.agent_hung_up", turns_left=len(scenario.turns) - index)
                break
            if pcm is None:
                await asyncio.sleep((turn.pause_ms or 0) / 1000)
                continue
            if turn.barge_in_after_ms is not None:
                if not await _until(_replies_beyond(call, replies_before), REPLY_TIMEOUT_S):
                    log.warning("scripted.no_reply_to_barge_into", turn=index)
                # A caller talks over what they hear: into the reply's audio after
                # barge_in_after_ms, or earlier if the reply is about to end (a two-word reply is
                # over within 800 ms), never into a gap while the TTS catches up (the agent is
                # silent there, so nothing would be talked over).
                due = call.clock.now() + turn.barge_in_after_ms / 1000
                await _until(_time_to_barge_in(call, due), REPLY_TIMEOUT_S)
                if call.output.idle:
                    # The script still runs, but what it tests (talking over the agent) did not happen.
                    log.warning("scripted.reply_over_before_barge_in", turn=index)
            else:
                if not caller_turns and call.agent.greeting:
                    # The greeting may not have started yet (its synthesis under load): an idle
                    # agent then is not one that has finished speaking.
                    await _until(_replies_beyond(call, 0), REPLY_TIMEOUT_S)
                await _wait_idle(call, NATURAL_GAP_S, REPLY_TIMEOUT_S)
            caller_turns.append(_CallerTurn(turn=turn, utterance=audio_in.say(pcm)))
            await caller_turns[-1].utterance.done.wait()
            replies_before = call.output.segments_started
        await asyncio.sleep(NATURAL_GAP_S)
        await _wait_idle(call, NATURAL_GAP_S * 2, REPLY_TIMEOUT_S)
    finally:
        await call.hangup("script_finished")
    recorded = len(events)
    if call.recorder is not None:
        try:
            recorded = await call.recorded()
        except TimeoutError:
            # The report still gets written; the store catches up when the workflow can run.
            log.warning("scripted.events_not_stored_yet", call_id=call.call_id)
            recorded = call.recorder.sent
    replies = _replies(caller_turns, call.segments)
    data = _report(call, caller_turns, call.segments, t0, events=events, recorded=recorded, replies=replies)
    return CallReport(data=data, started_at=t0, replies=tuple(replies))


def _ms(t: float, t0: float) -> int:
    return round((t - t0) * 1000)


def _replies(caller_turns: list[_CallerTurn], segments: list[PlayedSegment]) -> list[Reply]:
    """Each caller turn answered before the caller spoke again: its end and the reply's first audio."""
    played = [s for s in segments if s.played_s > 0]
    replies: list[Reply] = []
    for index, ct in enumerate(caller_turns):
        ended = ct.utterance.ended_at
        assert ended is not None
        next_start = caller_turns[index + 1].utterance.started_at if index + 1 < len(caller_turns) else None
        reply = next(
            (
                s
                for s in played
                if s.started_at >= ended and (next_start is None or s.started_at < next_start)
            ),
            None,
        )
        if reply is not None:
            replies.append(Reply(ended, reply.started_at))
    return replies


def _report(
    call: Call,
    caller_turns: list[_CallerTurn],
    segments: list[PlayedSegment],
    t0: float,
    *,
    events: list[CallEvent],
    recorded: int,
    replies: list[Reply],
) -> dict[str, object]:
    rows: list[dict[str, object]] = []
    for ct in caller_turns:
        u = ct.utterance
        assert u.started_at is not None and u.ended_at is not None
        rows.append(
            {
                "speaker": "caller",
                "text": ct.text,
                "heard_text": None,
                "interrupted": False,
                "start_ms": _ms(u.started_at, t0),
                "end_ms": _ms(u.ended_at, t0),
                "barge_in": ct.turn.barge_in_after_ms is not None,
            }
        )
    for seg in segments:
        if seg.played_s <= 0:
            continue
        rows.append(
            {
                "speaker": "agent",
                "text": seg.text,
                "heard_text": seg.heard_text,
                "interrupted": seg.interrupted,
                "start_ms": _ms(seg.started_at, t0),
                "end_ms": _ms(seg.ended_at, t0),
            }
        )
    rows.sort(key=lambda r: (r["start_ms"], r["speaker"]))  # type: ignore[arg-type,return-value]
    played = [s for s in segments if s.played_s > 0]
    barge_in_stop: list[int] = []
    for ct in caller_turns:
        u = ct.utterance
        assert u.started_at is not None and u.ended_at is not None
        if ct.turn.barge_in_after_ms is not None:
            cut = next(
                (s for s in played if s.started_at <= u.started_at < s.ended_at and s.interrupted),
                None,
            )
            if cut is not None:
                barge_in_stop.append(_ms(cut.ended_at, u.started_at))
            else:
                # What was playing around the caller's start: why no talking-over was measured.
                log.warning(
                    "scripted.barge_in_not_measured",
                    caller_started_ms=_ms(u.started_at, t0),
                    segments=[
                        (_ms(s.started_at, t0), _ms(s.ended_at, t0), s.interrupted)
                        for s in played
                        if abs(s.started_at - u.started_at) < 10
                    ],
                )
    voice_to_voice = [_ms(r.agent_started_at, r.caller_ended_at) for r in replies]
    return {
        "call_id": call.call_id,
        "statechart": {"name": call.chart.id, "version": call.chart.version},
        "turns": rows,
        "latency": {
            "voice_to_voice_ms": voice_to_voice,
            "barge_in_stop_ms": barge_in_stop,
        },
        "events_recorded": recorded,
        "events": [_event_row(event, t0) for event in events],
        # What the LLM will see next: the stage's instructions, facts that joined during the call
        # (the CRM record), and the conversation with interrupted replies as heard.
        "llm_context": [
            {"role": item.role, "text": item.text_content or ""}
            for item in call.agent.chat_ctx.items
            if item.type == "message"
        ],
    }


def _event_row(event: CallEvent, t0: float) -> dict[str, object]:
    row = as_dict(event)
    for key in ("at", "started_at", "ended_at"):
        if isinstance(value := row.pop(key, None), float):
            row[f"{key}_ms"] = _ms(value, t0)
    # What was said is already in `turns`; the event list is the machines' timeline.
    return {k: v for k, v in row.items() if k not in ("text", "heard_text")}


def default_report_path(scenario_path: Path) -> Path:
    return scenario_path.with_suffix(".report.json")
