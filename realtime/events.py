"""Typed, versioned records of what happens in a call, handed to a recorder as they happen.

Every record carries a monotonic timestamp (`at`, seconds on the call's clock) and a schema
version, so the event log (issue 3) can evolve without breaking replays of old calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import ClassVar

__all__ = [
    "AgentUtterance",
    "CallEnded",
    "CallEvent",
    "CallStarted",
    "CallerUtterance",
    "CrmContextJoined",
    "EventSink",
    "LatencySample",
    "MachineTransition",
    "ToolCalled",
    "as_dict",
]


@dataclass(frozen=True)
class CallEvent:
    type: ClassVar[str]
    version: ClassVar[int] = 1
    at: float


@dataclass(frozen=True)
class CallStarted(CallEvent):
    """Version 2 adds `caller_number` (E.164), `rep_id` (the rep practising, whose team sees the
    call) and `wall_time` (Unix seconds at the start: `at` is the loop's monotonic clock)."""

    type: ClassVar[str] = "call_started"
    version: ClassVar[int] = 2
    call_id: str
    statechart: str
    statechart_version: str
    turn_taking_version: str
    caller_number: str | None = None
    rep_id: str | None = None
    wall_time: float | None = None


@dataclass(frozen=True)
class MachineTransition(CallEvent):
    """A transition of one of the call's machines (`turn_taking` or the conversation chart)."""

    type: ClassVar[str] = "machine_transition"
    machine: str
    event: str
    source: str
    dest: str


@dataclass(frozen=True)
class CallerUtterance(CallEvent):
    type: ClassVar[str] = "caller_utterance"
    text: str


@dataclass(frozen=True)
class AgentUtterance(CallEvent):
    """What the agent generated, and what of it reached the caller."""

    type: ClassVar[str] = "agent_utterance"
    text: str
    heard_text: str
    interrupted: bool
    started_at: float
    ended_at: float


@dataclass(frozen=True)
class CrmContextJoined(CallEvent):
    """The CRM lookup's outcome reached the call; `text` is what joined the LLM's context."""

    type: ClassVar[str] = "crm_context"
    status: str
    account: str | None
    text: str
    error: str | None


@dataclass(frozen=True)
class ToolCalled(CallEvent):
    type: ClassVar[str] = "tool_called"
    name: str
    arguments: str
    result: str


@dataclass(frozen=True)
class LatencySample(CallEvent):
    """Voice-to-voice: end of the caller's speech (VAD) to the first agent audio played."""

    type: ClassVar[str] = "latency_sample"
    voice_to_voice_ms: float


@dataclass(frozen=True)
class CallEnded(CallEvent):
    type: ClassVar[str] = "call_ended"
    reason: str


EventSink = Callable[[CallEvent], None]


def as_dict(event: CallEvent) -> dict[str, object]:
    return {"type": event.type, "version": event.version, **asdict(event)}
