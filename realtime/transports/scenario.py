"""Scripted-call scenarios: the YAML a developer writes, validated at the edge into frozen records.

Every error names the file and the field (`caller.turns[2].audio`), and audio problems are found
before the call starts, not halfway through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rapport.phone import to_e164

__all__ = [
    "CallerVoice",
    "Noise",
    "Pause",
    "Recording",
    "Scenario",
    "ScenarioError",
    "Turn",
    "load_scenario",
    "spoken_parts",
]

# `[pause 600]` inside a `say:` line: that many ms of silence between the words either side.
_PAUSE = re.compile(r"\[pause (\d+)\]")
_MAX_PAUSE_MS = 10_000


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Pause:
    """Silence inside a `say:` turn."""

    ms: int


def spoken_parts(say: str) -> tuple[str | Pause, ...]:
    """A `say:` line as its phrases and the pauses between them; a malformed marker is an error."""
    parts: list[str | Pause] = []
    for index, piece in enumerate(_PAUSE.split(say)):
        if index % 2:
            ms = int(piece)
            if ms > _MAX_PAUSE_MS:
                raise ValueError(f"[pause {ms}] is longer than {_MAX_PAUSE_MS} ms")
            parts.append(Pause(ms))
            continue
        if "[" in piece or "]" in piece:
            raise ValueError(f"{piece.strip()!r}: a marker in brackets must be [pause MS]")
        if piece.strip():
            parts.append(piece.strip())
    if not any(isinstance(p, str) for p in parts):
        raise ValueError("a say turn needs words, not only pauses")
    return tuple(parts)


class _TurnModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    say: str | None = Field(default=None, min_length=1)
    audio: str | None = Field(default=None, min_length=1)
    pause_ms: int | None = Field(default=None, ge=0, le=600_000)
    barge_in_after_ms: int | None = Field(default=None, ge=0, le=600_000)

    @field_validator("say")
    @classmethod
    def _markers(cls, say: str | None) -> str | None:
        if say is not None:
            spoken_parts(say)
        return say

    @model_validator(mode="after")
    def _one_kind(self) -> _TurnModel:
        kinds = [k for k in ("say", "audio", "pause_ms") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a turn needs exactly one of say, audio, pause_ms")
        if self.pause_ms is not None and self.barge_in_after_ms is not None:
            raise ValueError("barge_in_after_ms goes with say or audio, not pause_ms")
        return self


class _NoiseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    snr_db: float = Field(ge=-10, le=60)


class _RecordingModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: int = Field(ge=8000, le=192_000)
    channels: int = Field(ge=1, le=2)


class _CallerModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str | None = None
    rep: str | None = Field(default=None, min_length=1)
    voice: str = "piper"
    speed_wpm: int | None = Field(default=None, ge=80, le=400)
    noise: _NoiseModel | None = None
    recording: _RecordingModel | None = None
    turns: list[_TurnModel] = Field(min_length=1)

    @field_validator("voice")
    @classmethod
    def _known_engine(cls, voice: str) -> str:
        engine, _, name = voice.partition(":")
        if voice == "piper" or (engine == "espeak-ng" and name):
            return voice
        raise ValueError(
            f"{voice!r}: a voice is 'piper' or 'espeak-ng:NAME' (e.g. espeak-ng:en-gb-scotland+m3)"
        )

    @model_validator(mode="after")
    def _speed_needs_espeak(self) -> _CallerModel:
        if self.speed_wpm is not None and self.voice == "piper":
            raise ValueError("speed_wpm goes with an espeak-ng voice")
        return self

    @field_validator("number")
    @classmethod
    def _international(cls, number: str | None) -> str | None:
        return to_e164(number) if number is not None else None


class _ScenarioModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statechart: str = Field(min_length=1)
    caller: _CallerModel


@dataclass(frozen=True)
class Turn:
    """One caller turn. `audio` is resolved against the scenario's folder."""

    say: str | None = None
    audio: Path | None = None
    pause_ms: int | None = None
    barge_in_after_ms: int | None = None

    @property
    def phrases(self) -> tuple[str, ...]:
        """What a `say:` turn says, split where the caller pauses: the text its transcript is held to."""
        return tuple(p for p in spoken_parts(self.say) if isinstance(p, str)) if self.say is not None else ()


@dataclass(frozen=True)
class CallerVoice:
    """Who reads the `say:` turns: `engine` "piper" (the bundled voice, pitched up) or "espeak-ng"
    with its voice `name` ("en-gb-scotland+m3") and speed in words per minute."""

    engine: str = "piper"
    name: str | None = None
    speed_wpm: int | None = None


@dataclass(frozen=True)
class Noise:
    """Pink noise mixed under each turn's speech at `snr_db`, the same noise every run."""

    snr_db: float


@dataclass(frozen=True)
class Recording:
    """The caller's audio goes through a WAV file of this rate and channel count, as a recording would."""

    rate: int
    channels: int


@dataclass(frozen=True)
class Scenario:
    path: Path
    statechart: str
    turns: tuple[Turn, ...]
    voice: CallerVoice = CallerVoice()
    noise: Noise | None = None
    recording: Recording | None = None
    # The number the caller calls from (E.164): the call's CRM lookup uses it.
    caller_number: str | None = None
    # The rep practising (a `reps.rep_id`): their team's managers see the call.
    rep_id: str | None = None


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_scenario(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        model = _ScenarioModel.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{path}: {problems}") from None
    turns: list[Turn] = []
    for index, turn in enumerate(model.caller.turns):
        audio = None
        if turn.audio is not None:
            audio = (path.parent / turn.audio).resolve()
            if not audio.is_file():
                raise ScenarioError(
                    f"{path}: caller.turns[{index}].audio: {turn.audio} does not exist (looked for {audio})"
                )
        turns.append(
            Turn(
                say=turn.say,
                audio=audio,
                pause_ms=turn.pause_ms,
                barge_in_after_ms=turn.barge_in_after_ms,
            )
        )
    caller = model.caller
    engine, _, name = caller.voice.partition(":")
    return Scenario(
        path=path,
        statechart=model.statechart,
        turns=tuple(turns),
        voice=CallerVoice(engine=engine, name=name or None, speed_wpm=caller.speed_wpm),
        noise=Noise(caller.noise.snr_db) if caller.noise is not None else None,
        recording=Recording(caller.recording.rate, caller.recording.channels)
        if caller.recording is not None
        else None,
        caller_number=model.caller.number,
        rep_id=model.caller.rep,
    )
