"""Scripted-call scenarios: the YAML a developer writes, validated at the edge into frozen records.

Every error names the file and the field (`caller.turns[2].audio`), and audio problems are found
before the call starts, not halfway through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rapport.phone import to_e164

__all__ = ["Scenario", "ScenarioError", "Turn", "load_scenario"]


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file and the field."""


class _TurnModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    say: str | None = Field(default=None, min_length=1)
    audio: str | None = Field(default=None, min_length=1)
    pause_ms: int | None = Field(default=None, ge=0, le=600_000)
    barge_in_after_ms: int | None = Field(default=None, ge=0, le=600_000)

    @model_validator(mode="after")
    def _one_kind(self) -> _TurnModel:
        kinds = [k for k in ("say", "audio", "pause_ms") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a turn needs exactly one of say, audio, pause_ms")
        if self.pause_ms is not None and self.barge_in_after_ms is not None:
            raise ValueError("barge_in_after_ms goes with say or audio, not pause_ms")
        return self


class _CallerModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str | None = None
    rep: str | None = Field(default=None, min_length=1)
    turns: list[_TurnModel] = Field(min_length=1)

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


@dataclass(frozen=True)
class Scenario:
    path: Path
    statechart: str
    turns: tuple[Turn, ...]
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
    return Scenario(
        path=path,
        statechart=model.statechart,
        turns=tuple(turns),
        caller_number=model.caller.number,
        rep_id=model.caller.rep,
    )
