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
    "Dismissal",
    "EndOfTurnWaits",
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
    PREDICT_END_OF_TURN = "predict_end_of_turn"
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
class EndOfTurnWaits:
    """How long endpointing waits after the end of speech, by what the end-of-turn model heard."""

    complete_above: float
    wait_when_finished_ms: int
    wait_when_unfinished_ms: int
    wait_after_question_ms: int
    """A transcript that ends in a question mark: the caller asked and waits for the answer."""

    def wait_s(self, probability: float | None) -> float:
        """No prediction (the model failed) waits as for an unfinished turn: never cut a caller off."""
        finished = probability is not None and probability > self.complete_above
        return (self.wait_when_finished_ms if finished else self.wait_when_unfinished_ms) / 1000


@dataclass(frozen=True)
class Dismissal:
    """Caller speech that closed no turn: a backchannel over the agent, or noise; what it said."""

    reason: str
    transcript: str


@dataclass(frozen=True)
class TurnTakingConfig:
    """The definition's `settings`, typed."""

    barge_in: Mapping[str, BargeInThreshold]
    backchannels: tuple[tuple[str, ...], ...]
    """Phrases as word tuples, longest first."""
    end_of_turn: EndOfTurnWaits

    @classmethod
    def from_chart(cls, chart: Statechart) -> TurnTakingConfig:
        raw_barge_in = chart.settings.get("barge_in", {})
        raw_backchannels = chart.settings.get("backchannels", [])
        raw_end_of_turn = chart.settings.get("end_of_turn")
        if not isinstance(raw_barge_in, Mapping) or not isinstance(raw_backchannels, list):
            raise ValueError(f"{chart.path}: settings.barge_in must map states, backchannels list")
        if not isinstance(raw_end_of_turn, Mapping):
            raise ValueError(f"{chart.path}: settings.end_of_turn must map complete_above and the waits")
        end_of_turn = EndOfTurnWaits(
            complete_above=float(raw_end_of_turn["complete_above"]),
            wait_when_finished_ms=int(raw_end_of_turn["wait_when_finished_ms"]),
            wait_when_unfinished_ms=int(raw_end_of_turn["wait_when_unfinished_ms"]),
            wait_after_question_ms=int(raw_end_of_turn["wait_after_question_ms"]),
        )
        barge_in = {
            str(state): BargeInThreshold(
                min_speech_ms=int(values["min_speech_ms"]), min_words=int(values["min_words"])
            )
            for state, values in raw_barge_in.items()
        }
        phrases = {tuple(_words(str(phrase))) for phrase in raw_backchannels}
        return cls(
            barge_in=barge_in,
            backchannels=tuple(sorted(phrases, key=len, reverse=True)),
            end_of_turn=end_of_turn,
        )

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
        on_dismissed: Callable[[Dismissal], None] = lambda _dismissal: None,
    ) -> None:
        self.chart = chart
        self.config = TurnTakingConfig.from_chart(chart)
        self._clock = clock
        self._on_command = on_command
        self._on_dismissed = on_dismissed
        self.transcript_buffer: list[str] = []
        self.caller_speaking = False
        self.speech_started_at: float | None = None
        self.speech_ended_at: float | None = None
        self.turn_started_at: float | None = None
        """When the open turn's first speech started: the end-of-turn model hears it from there."""
        self.transcriptions_in_flight = 0
        self.endpoint_seq = 0
        """Which pause a prediction or a timer belongs to; the caller may have spoken again since."""
        self._pause_started_at = 0.0
        self._endpoint_due = False
        self.barge_in_origin: str | None = None
        self.agent_audio_during_barge_in = False
        self._barge_in_timer: Cancellable | None = None
        self.machine = build_machine(chart, self, registry, clock=clock, on_transition=on_transition)

    # Inputs. Each is one machine event; the bridge calls these from session callbacks.

    def on_speech_started(self) -> None:
        self.caller_speaking = True
        self.speech_started_at = self._clock.now()
        # The pause is over: its prediction and its wait no longer decide anything.
        self.endpoint_seq += 1
        if self.state in ("listening", "thinking", "agent_speaking"):
            self.turn_started_at = self.speech_started_at
        self.fire("speech_started")

    def on_speech_ended(self) -> None:
        self.caller_speaking = False
        self.speech_ended_at = self._clock.now()
        self.fire("speech_ended")

    def on_transcription_started(self) -> None:
        """The STT began transcribing a stretch of speech; its words (or none) are on the way."""
        self.transcriptions_in_flight += 1
        self.fire("transcription_started")

    def on_transcription_empty(self) -> None:
        """A transcription ended with no words: nothing will arrive for it."""
        self._transcription_landed()
        self.fire("transcription_empty")

    def on_transcript(self, text: str) -> None:
        self._transcription_landed()
        self.fire("transcript", text=text)

    def on_end_of_turn_prediction(self, probability: float | None, seq: int) -> None:
        """The end-of-turn model's answer for the pause `seq`; None when the model failed."""
        if seq == self.endpoint_seq:
            self.fire("end_of_turn_predicted", probability=probability)

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

    def _transcription_landed(self) -> None:
        # A streaming STT reports no starts: its transcripts leave nothing in flight.
        self.transcriptions_in_flight = max(0, self.transcriptions_in_flight - 1)

    # Used by the registry below.

    def emit(self, command: Command) -> None:
        self._on_command(command)

    def dismiss(self, reason: str, transcript: str) -> None:
        self._on_dismissed(Dismissal(reason, transcript))

    def nothing_in_flight(self) -> bool:
        """Nothing the caller said is still being heard or transcribed."""
        return self.transcriptions_in_flight == 0 and not self.caller_speaking

    def meaningful_words(self, text: str) -> list[str]:
        words = _words(text)
        return [] if self.config.is_backchannel(words) else words

    def threshold(self) -> BargeInThreshold:
        return self.config.barge_in[self.barge_in_origin or "agent_speaking"]

    def start_endpointing(self) -> None:
        self.endpoint_seq += 1
        self._endpoint_due = False
        ended = self.speech_ended_at
        self._pause_started_at = (
            ended if ended is not None and not self.caller_speaking else self._clock.now()
        )

    def arm_endpoint_timer(self, probability: float | None) -> None:
        self._arm_endpoint_wait(self.config.end_of_turn.wait_s(probability))

    def arm_question_timer(self) -> None:
        """A shorter wait, counted from the same end of speech; whichever ends first closes it."""
        self._arm_endpoint_wait(self.config.end_of_turn.wait_after_question_ms / 1000)

    def _arm_endpoint_wait(self, wait: float) -> None:
        remaining = self._pause_started_at + wait - self._clock.now()
        seq = self.endpoint_seq
        if remaining <= 0:
            self.end_endpoint_wait(seq)
        else:
            self._clock.call_later(remaining, lambda: self.end_endpoint_wait(seq))

    def end_endpoint_wait(self, seq: int) -> None:
        """The wait after the pause `seq` is over: the turn may close now, or when its words land."""
        if seq == self.endpoint_seq and not self._endpoint_due:
            self._endpoint_due = True
            self.fire("endpoint_timeout")

    def recheck_endpoint(self) -> None:
        """After the wait, a transcript or the STT falling idle may now complete the turn."""
        if self._endpoint_due:
            self.fire("endpoint_timeout")

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

    def now(self) -> float:
        return self._clock.now()


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


@registry.action("dismiss_backchannel")
def _dismiss_backchannel(ctx: Context) -> None:
    # livekit holds the words for the next commit: clear them (safe now: nothing is in flight).
    model = _model(ctx)
    model.dismiss("backchannel", " ".join([*model.transcript_buffer, _text(ctx).strip()]).strip())
    model.transcript_buffer.clear()
    model.emit(Command.DISCARD_TURN)


@registry.action("dismiss_noise")
def _dismiss_noise(ctx: Context) -> None:
    # No words: livekit holds nothing to clear, and clearing would restart its STT. Words buffered
    # from earlier (late transcripts) are not this noise's: they stay for the next turn.
    model = _model(ctx)
    heard = " ".join(model.transcript_buffer)
    if _words(heard):
        model.dismiss("noise", "")
    else:
        model.dismiss("noise", heard)
        model.transcript_buffer.clear()


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


@registry.action("predict_end_of_turn")
def _predict_end_of_turn(ctx: Context) -> None:
    model = _model(ctx)
    model.start_endpointing()
    model.emit(Command.PREDICT_END_OF_TURN)


@registry.action("arm_endpoint_timer")
def _arm_endpoint_timer(ctx: Context) -> None:
    probability = ctx.kwargs.get("probability")
    _model(ctx).arm_endpoint_timer(float(probability) if isinstance(probability, float | int) else None)


@registry.action("arm_question_timer")
def _arm_question_timer(ctx: Context) -> None:
    _model(ctx).arm_question_timer()


@registry.guard("ends_with_question")
def _ends_with_question(ctx: Context) -> bool:
    # Whisper (and the cloud STTs) punctuate: a question mark is the words' own end-of-turn cue,
    # where smart-turn, trained on human prosody, hears many flat synthetic questions as unfinished.
    return _text(ctx).strip().endswith("?")


@registry.action("endpoint_deadline")
def _endpoint_deadline(ctx: Context) -> None:
    model = _model(ctx)
    model.end_endpoint_wait(model.endpoint_seq)


@registry.action("recheck_endpoint")
def _recheck_endpoint(ctx: Context) -> None:
    _model(ctx).recheck_endpoint()


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


@registry.guard("transcription_idle")
def _transcription_idle(ctx: Context) -> bool:
    return _model(ctx).nothing_in_flight()


@registry.guard("is_interruption")
def _is_interruption(ctx: Context) -> bool:
    model = _model(ctx)
    return len(model.meaningful_words(_text(ctx))) >= model.threshold().min_words


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
