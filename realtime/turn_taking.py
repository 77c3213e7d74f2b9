"""The turn-taking state machine: who holds the floor, and when the caller's speech is a barge-in.

The machine's shape lives in `statecharts/definitions/turn_taking.yaml`; this module is its
behaviour: the guards and actions the definition names, registered by name. Actions never touch
livekit directly: they emit `Command`s, which `realtime.bridge` carries out on the session. That
keeps the machine a pure function of its input events and the injected clock, so every timing
path is testable deterministically.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from statecharts.build import build_machine
from statecharts.clock import Cancellable, Clock
from statecharts.records import Statechart, TransitionRecord
from statecharts.registry import Context, Registry

__all__ = [
    "BargeInThreshold",
    "Command",
    "TurnTaking",
    "TurnTakingConfig",
    "registry",
]


class Command(StrEnum):
    """An effect the machine asks of the voice session."""

    PAUSE_AGENT = "pause_agent"
    RESUME_AGENT = "resume_agent"
    INTERRUPT_AGENT = "interrupt_agent"
    COMMIT_TURN = "commit_turn"
    DISCARD_TURN = "discard_turn"
    STOP_AGENT = "stop_agent"
    RECOVER = "recover"
    NUDGE_CALLER = "nudge_caller"
    END_CALL = "end_call"


@dataclass(frozen=True)
class BargeInThreshold:
    """How much caller speech, in time or real words, takes the floor from the agent."""

    min_speech_ms: int
    min_words: int


@dataclass(frozen=True)
class TurnTakingConfig:
    """The definition's `settings`, typed."""

    barge_in: Mapping[str, BargeInThreshold]
    backchannels: tuple[tuple[str, ...], ...]
    """Phrases as word tuples, longest first."""

    @classmethod
    def from_chart(cls, chart: Statechart) -> TurnTakingConfig:
        raw_barge_in = chart.settings.get("barge_in", {})
        raw_backchannels = chart.settings.get("backchannels", [])
        if not isinstance(raw_barge_in, Mapping) or not isinstance(raw_backchannels, list):
            raise ValueError(f"{chart.path}: settings.barge_in must map states, backchannels list")
        barge_in = {
            str(state): BargeInThreshold(
                min_speech_ms=int(values["min_speech_ms"]), min_words=int(values["min_words"])
            )
            for state, values in raw_barge_in.items()
        }
        phrases = {tuple(_words(str(phrase))) for phrase in raw_backchannels}
        return cls(barge_in=barge_in, backchannels=tuple(sorted(phrases, key=len, reverse=True)))

    def is_backchannel(self, words: list[str]) -> bool:
        """True when the words are nothing but backchannel phrases ("yeah, okay")."""
        rest = words
        while rest:
            phrase = next((p for p in self.backchannels if tuple(rest[: len(p)]) == p), None)
            if phrase is None:
                return False
            rest = rest[len(phrase) :]
        return True


_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class TurnTaking:
    """One conversation's turn-taking state. The machine built from the chart drives it."""

    state: str

    def __init__(
        self,
        chart: Statechart,
        *,
        clock: Clock,
        on_command: Callable[[Command], None],
        on_transition: Callable[[TransitionRecord], None],
    ) -> None:
        self.chart = chart
        self.config = TurnTakingConfig.from_chart(chart)
        self._clock = clock
        self._on_command = on_command
        self.transcript_buffer: list[str] = []
        self.caller_speaking = False
        self.speech_started_at: float | None = None
        self.barge_in_origin: str | None = None
        self.agent_audio_during_barge_in = False
        self._barge_in_timer: Cancellable | None = None
        self.machine = build_machine(chart, self, registry, clock=clock, on_transition=on_transition)

    # Inputs. Each is one machine event; the bridge calls these from session callbacks.

    def on_speech_started(self) -> None:
        self.caller_speaking = True
        self.speech_started_at = self._clock.now()
        self.fire("speech_started")

    def on_speech_ended(self) -> None:
        self.caller_speaking = False
        self.fire("speech_ended")

    def on_transcript(self, text: str) -> None:
        self.fire("transcript", text=text)

    def on_agent_audio_started(self) -> None:
        self.fire("agent_audio_started")

    def on_agent_audio_ended(self) -> None:
        self.fire("agent_audio_ended")

    def on_reply_failed(self) -> None:
        self.fire("reply_failed")

    def on_interrupt_done(self) -> None:
        self.fire("interrupt_done")

    def on_hangup(self) -> None:
        self.fire("hangup")

    def fire(self, event: str, **kwargs: object) -> None:
        # ignore_invalid_triggers drops events a state does not handle (a VAD blip after
        # hang-up must not raise).
        self.machine.events[event].trigger(self, **kwargs)

    # Used by the registry below.

    def emit(self, command: Command) -> None:
        self._on_command(command)

    def meaningful_words(self, text: str) -> list[str]:
        words = _words(text)
        return [] if self.config.is_backchannel(words) else words

    def threshold(self) -> BargeInThreshold:
        return self.config.barge_in[self.barge_in_origin or "agent_speaking"]

    def arm_barge_in_timer(self) -> None:
        started = self.speech_started_at if self.speech_started_at is not None else self._clock.now()
        remaining = max(0.0, started + self.threshold().min_speech_ms / 1000 - self._clock.now())
        self._barge_in_timer = self._clock.call_later(remaining, self._barge_in_timer_fired)

    def disarm_barge_in_timer(self) -> None:
        if self._barge_in_timer is not None:
            self._barge_in_timer.cancel()
            self._barge_in_timer = None

    def _barge_in_timer_fired(self) -> None:
        self._barge_in_timer = None
        if self.caller_speaking:
            self.fire("barge_in_threshold")


registry = Registry()


def _model(ctx: Context) -> TurnTaking:
    model = ctx.model
    assert isinstance(model, TurnTaking)
    return model


def _text(ctx: Context) -> str:
    return str(ctx.kwargs.get("text", ""))


def _emits(command: Command) -> Callable[[Context], None]:
    def action(ctx: Context) -> None:
        _model(ctx).emit(command)

    return action


for _command in (
    Command.RESUME_AGENT,
    Command.INTERRUPT_AGENT,
    Command.STOP_AGENT,
    Command.RECOVER,
    Command.NUDGE_CALLER,
    Command.END_CALL,
):
    registry.action(_command.value)(_emits(_command))


@registry.action("pause_agent")
def _pause_agent(ctx: Context) -> None:
    model = _model(ctx)
    if ctx.event == "agent_audio_started":
        model.agent_audio_during_barge_in = True
    model.emit(Command.PAUSE_AGENT)


@registry.action("discard_turn")
def _discard_turn(ctx: Context) -> None:
    model = _model(ctx)
    model.transcript_buffer.clear()
    model.emit(Command.DISCARD_TURN)


@registry.action("commit_turn")
def _commit_turn(ctx: Context) -> None:
    # The committed words belong to this turn; the next turn waits for transcripts of its own.
    model = _model(ctx)
    model.transcript_buffer.clear()
    model.emit(Command.COMMIT_TURN)


@registry.action("buffer_transcript")
def _buffer_transcript(ctx: Context) -> None:
    text = _text(ctx).strip()
    if text:
        _model(ctx).transcript_buffer.append(text)


@registry.action("replay_buffered_transcript")
def _replay_buffered_transcript(ctx: Context) -> None:
    # A final transcript that arrived before the VAD's end of speech must still close the turn.
    model = _model(ctx)
    if model.transcript_buffer:
        model.fire("transcript", text="")


@registry.action("arm_barge_in_timer")
def _arm_barge_in_timer(ctx: Context) -> None:
    model = _model(ctx)
    model.barge_in_origin = ctx.source
    model.agent_audio_during_barge_in = False
    model.arm_barge_in_timer()


@registry.action("disarm_barge_in_timer")
def _disarm_barge_in_timer(ctx: Context) -> None:
    _model(ctx).disarm_barge_in_timer()


@registry.action("note_speech_ended")
def _note_speech_ended(ctx: Context) -> None:
    # The decision waits for the transcript; the timer must not fire on speech that has ended.
    _model(ctx).disarm_barge_in_timer()


@registry.guard("has_words")
def _has_words(ctx: Context) -> bool:
    model = _model(ctx)
    return bool(_words(" ".join([*model.transcript_buffer, _text(ctx)])))


@registry.guard("is_interruption")
def _is_interruption(ctx: Context) -> bool:
    model = _model(ctx)
    return len(model.meaningful_words(_text(ctx))) >= model.threshold().min_words


@registry.guard("is_false_alarm")
def _is_false_alarm(ctx: Context) -> bool:
    return not _is_interruption(ctx)


@registry.guard("came_from_agent_speaking")
def _came_from_agent_speaking(ctx: Context) -> bool:
    model = _model(ctx)
    return model.barge_in_origin == "agent_speaking" or model.agent_audio_during_barge_in


@registry.guard("came_from_thinking")
def _came_from_thinking(ctx: Context) -> bool:
    return not _came_from_agent_speaking(ctx)


@registry.guard("caller_speaking")
def _caller_speaking(ctx: Context) -> bool:
    return _model(ctx).caller_speaking
