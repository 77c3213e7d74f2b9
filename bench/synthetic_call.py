"""A realistic call's event stream, generated from a seed, and a player that streams it in real time.

`synthetic_call` builds what a sales-practice call records, event by event, on the call's clock
(seconds from 0): the caller's turns (with the VAD's pauses mid-sentence, the odd cough that never
becomes words), the agent's replies and their voice-to-voice latency, backchannels over the agent
that resume it, barge-ins that cut a reply to what the caller heard, a rare failed reply and its
recovery, a few conversation-stage changes, and the hang-up. Every `turn_taking` transition goes
through a state and an event the turn-taking chart has (statecharts/definitions/turn_taking.yaml),
and only transitions that change state are recorded, as in `realtime/call.py`. A 30-minute call is
about 2,000 events. The same seed always gives the same events.

`play` hands the events to a sink (an `EventRecorder.record`) at `speed` times the call's pace:
events due at the same moment go together, so the sink sees the bursts a real call makes.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Sequence

from realtime.events import (
    AgentUtterance,
    CallEnded,
    CallerUtterance,
    CallEvent,
    CallStarted,
    LatencySample,
    MachineTransition,
)

__all__ = ["CONVERSATION", "TURN_TAKING", "play", "synthetic_call"]

TURN_TAKING = "turn_taking"
CONVERSATION = "sales_roleplay"
# The sales_roleplay chart's stages and the tool call that leaves each one.
_STAGES = (
    ("opening", "rep_stated_purpose", "discovery"),
    ("discovery", "rep_pitched", "objections"),
    ("objections", "objections_handled", "closing"),
    ("closing", "next_step_agreed", "wrap_up"),
)

_CALLER_LINES = (
    "Hi Dana, this is Jordan from Northwind, do you have a couple of minutes?",
    "We help operations teams cut the time they spend reconciling shipments by about a third.",
    "How are you handling carrier invoices today, is that still a manual process?",
    "That makes sense, a lot of the teams we work with started out with spreadsheets too.",
    "What would it mean for your team if month-end close took two days instead of five?",
    "Totally fair, let me ask it differently: who else would be involved in a decision like this?",
    "We integrate with the ERP you already have, so there is no migration project.",
    "Pricing depends on volume, but most teams your size land somewhere around two thousand a month.",
    "Could we set up thirty minutes next week with you and your controller to walk through it?",
    "I hear you on the budget cycle, when does planning for next year start?",
    "Right, and how many people touch an invoice before it gets approved?",
    "Great, I will send over a short summary and a calendar invite for Tuesday.",
)
_AGENT_LINES = (
    "Sure, I have a few minutes before my next meeting, what is this about?",
    "We already have a process for that, and honestly it works well enough for us.",
    "Mostly spreadsheets, and my team spends the last week of every month chasing discrepancies.",
    "I am not sure we have budget for another tool this year.",
    "That would be nice, but every vendor tells me that.",
    "Our controller would need to be involved, and probably someone from IT.",
    "How long does implementation usually take for a company our size?",
    "What does pricing look like?",
    "I could do Tuesday afternoon, but I can only promise thirty minutes.",
    "Okay, send me something in writing and I will take a look.",
)
_FILLERS = ("Sorry, can you say that again?", "Hmm, let me think about that for a second.")


class _CallScript:
    """Builds one call's events; the clock only moves forward, the turn-taking state is tracked."""

    def __init__(self, call_id: str, rng: random.Random) -> None:
        self.rng = rng
        self.now = 0.0
        self.state = "listening"
        self.stage = 0
        self.speech_ended_at = 0.0
        self.events: list[CallEvent] = [CallStarted(0.0, call_id, CONVERSATION, "v1", "v1")]

    # The building blocks.

    def wait(self, low: float, high: float) -> None:
        self.now = round(self.now + self.rng.uniform(low, high), 6)

    def move(self, event: str, dest: str) -> None:
        self.events.append(MachineTransition(self.now, TURN_TAKING, event, self.state, dest))
        self.state = dest
        if event == "speech_ended":
            self.speech_ended_at = self.now

    def agent_line(self) -> str:
        return self.rng.choice(_AGENT_LINES)

    def caller_line(self) -> str:
        return " ".join(self.rng.sample(_CALLER_LINES, self.rng.choice((1, 1, 2))))

    # The call's parts.

    def greeting(self) -> None:
        self.wait(0.5, 1.0)
        self.agent_speaks(self.agent_line(), latency=False)

    def exchange(self, progress: float) -> None:
        """From listening: the caller takes a turn and the agent answers it (or the turn fizzles)."""
        if self.rng.random() < 0.03:
            # The caller stays silent; after 20 s the agent nudges.
            self.now = round(self.now + 20.0, 6)
            self.agent_speaks(self.rng.choice(_FILLERS), latency=False)
            return
        self.wait(0.3, 2.0)
        self.move("speech_started", "user_speaking")
        if self.caller_speaks():
            self.reply(progress)

    def caller_speaks(self) -> bool:
        """From user_speaking to thinking (the turn is committed) or listening (no words came)."""
        # Natural speech pauses every second or two for longer than the VAD's 300 ms of silence.
        talk = self.rng.uniform(2.0, 14.0)
        while True:
            segment = self.rng.uniform(0.3, 2.2)
            talk -= segment
            self.now = round(self.now + segment, 6)
            self.move("speech_ended", "endpointing")
            if talk <= 0:
                break
            self.wait(0.31, 0.9)  # long enough for the VAD, too short for the transcript to commit
            self.move("speech_started", "user_speaking")
        if self.rng.random() < 0.04:  # a cough or noise: no words, dismissed once the wait is over
            self.now = round(self.now + 0.65, 6)
            self.move("endpoint_timeout", "listening")
            return False
        self.wait(0.3, 0.7)  # the end-of-turn wait (a question's, or a finished-sounding turn's)
        self.move("endpoint_timeout", "thinking")
        self.events.append(CallerUtterance(self.now, self.caller_line()))
        return True

    def reply(self, progress: float) -> None:
        """From thinking: a stage change maybe, then the agent's reply (or a failure and recovery)."""
        self.change_stage(progress)
        if self.rng.random() < 0.03:  # the caller says "yeah" while the agent is still thinking
            self.wait(0.1, 0.4)
            self.false_alarm("thinking")
        if self.rng.random() < 0.01:
            self.wait(1.0, 3.0)
            self.move("reply_failed", "listening")
            self.agent_speaks(self.rng.choice(_FILLERS), latency=False)
            return
        self.now = max(self.now, round(self.speech_ended_at + self.rng.lognormvariate(-0.9, 0.3), 6))
        self.agent_speaks(self.agent_line(), latency=True)

    def change_stage(self, progress: float) -> None:
        if self.stage < len(_STAGES) and progress >= (self.stage + 1) / (len(_STAGES) + 1):
            source, event, dest = _STAGES[self.stage]
            self.wait(0.01, 0.05)
            self.events.append(MachineTransition(self.now, CONVERSATION, event, source, dest))
            self.stage += 1

    def agent_speaks(self, text: str, *, latency: bool) -> None:
        """From listening or thinking: the reply plays, maybe over backchannels, maybe cut short."""
        self.move("agent_audio_started", "agent_speaking")
        started = self.now
        if latency:
            voice_to_voice = round((self.now - self.speech_ended_at) * 1000, 1)
            self.events.append(LatencySample(self.now, voice_to_voice))
        words = text.split()
        played = 0.0  # seconds of the reply's audio heard so far
        duration = len(words) * self.rng.uniform(0.3, 0.4)
        while self.rng.random() < 0.15 and played < duration * 0.8:
            step = self.rng.uniform(0.1, 0.5) * (duration - played)
            self.now, played = round(self.now + step, 6), played + step
            self.false_alarm("agent_speaking")  # the audio paused meanwhile, then resumed
        if self.rng.random() < 0.12 and played < duration * 0.8:
            step = self.rng.uniform(0.2, 0.7) * (duration - played)
            self.now, played = round(self.now + step, 6), played + step
            heard = words[: math.floor(len(words) * played / duration)]
            self.barge_in(text, " ".join(heard), started)
            return
        self.now = round(self.now + duration - played, 6)
        self.move("agent_audio_ended", "listening")
        self.events.append(AgentUtterance(self.now, text, text, False, started, self.now))

    def false_alarm(self, back_to: str) -> None:
        self.move("speech_started", "barge_in_candidate")
        self.wait(0.3, 0.8)  # the transcript is a backchannel: dropped, not a turn
        self.move("transcript", back_to)

    def barge_in(self, text: str, heard: str, started: float) -> None:
        """The caller talks over the agent for long enough: the reply is cut, the caller has the floor."""
        cut_at = self.now
        self.move("speech_started", "barge_in_candidate")
        self.now = round(self.now + 1.0, 6)  # agent_speaking's min_speech_ms
        self.move("barge_in_threshold", "interrupted")
        self.wait(0.02, 0.1)
        self.move("interrupt_done", "user_speaking")
        self.events.append(AgentUtterance(self.now, text, heard, True, started, cut_at))
        if self.caller_speaks():
            self.agent_speaks(self.agent_line(), latency=True)

    def hang_up(self) -> None:
        self.wait(0.5, 2.0)
        self.move("hangup", "ended")
        self.events.append(CallEnded(self.now, "caller"))


def synthetic_call(call_id: str, minutes: float, seed: int) -> list[CallEvent]:
    """A call of about `minutes` on its clock, from call_started to call_ended; same seed, same events."""
    script = _CallScript(call_id, random.Random(seed))
    duration = minutes * 60
    script.greeting()
    while script.now < duration:
        script.exchange(script.now / duration)
    script.hang_up()
    return script.events


async def play(events: Sequence[CallEvent], sink: Callable[[CallEvent], None], speed: float) -> None:
    """Hand each event to `sink` when it is due, at `speed` times the call's pace (inf: all at once)."""
    if not events:
        return
    loop = asyncio.get_running_loop()
    start, origin = loop.time(), events[0].at
    for event in events:
        delay = start + (event.at - origin) / speed - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sink(event)
