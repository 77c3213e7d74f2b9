"""What the load's processes exchange: an agent process's job, a call's result, the callers' audio.

Kept apart from `loadtest.run` so an agent process imports nothing of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.overhead import ReplyTiming
from realtime.transports.scenario import Scenario

__all__ = ["MARK", "AgentJob", "CallResult", "load_audio", "save_audio"]

MARK = "@@rapport-load "


@dataclass
class CallResult:
    index: int
    call_id: str | None = None
    error: str | None = None
    replies: list[ReplyTiming] = field(default_factory=list)
    caller_turns: int = 0
    events_sent: int = 0
    events_stored: int = 0
    wall_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "call_id": self.call_id,
            "error": self.error,
            "caller_turns": self.caller_turns,
            "replies": [r.as_json() for r in self.replies],
            "events_sent": self.events_sent,
            "events_stored": self.events_stored,
            "wall_s": round(self.wall_s, 1),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallResult:
        return cls(**{**data, "replies": [ReplyTiming(**r) for r in data["replies"]]})


@dataclass(frozen=True)
class AgentJob:
    """One agent process's share of the plan (JSON on its command line)."""

    indices: list[int]
    concurrency: int
    first_wave: int
    ramp_s: float
    seed: int
    scenario: str
    audio: str
    stt_final: str
    llm_ttft: str
    tts_ttfa: str
    llm_token_ms: float


def save_audio(audio: list[np.ndarray | None], path: Path) -> None:
    """The rendered turns, for the agent processes to load instead of rendering again."""
    arrays: dict[str, Any] = {
        f"t{i}": a if a is not None else np.zeros(0, np.int16) for i, a in enumerate(audio)
    }
    np.savez(path, **arrays)


def load_audio(path: Path, scenario: Scenario) -> list[np.ndarray | None]:
    with np.load(path) as saved:
        return [saved[f"t{i}"] if turn.pause_ms is None else None for i, turn in enumerate(scenario.turns)]
