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
    "CallTransferred",
    "CallerUtterance",
    "CrmContextJoined",
    "EventSink",
    "KnowledgeRetrieved",
    "LatencySample",
    "MachineTransition",
    "SpeechDismissed",
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
class SpeechDismissed(CallEvent):
    """Caller speech that closed no turn, and why: `backchannel` (only acknowledging words over
    the agent, which then went on) or `noise` (no words once nothing was left to transcribe).
    `transcript` is what the STT heard of it, empty for noise it heard nothing in."""

    type: ClassVar[str] = "speech_dismissed"
    reason: str
    transcript: str


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
    """A tool the LLM called, with its arguments (JSON, as the LLM wrote them) and its result.

    Version 2 adds `error`, None when the tool ran to an answer, otherwise why not:
    `invalid_arguments` (its JSON Schema refused them), `not_in_stage` (the current stage does not
    list it), `refused` (not offered to the LLM at all), `unavailable` (the call has no workflow),
    `timeout`, `failed` or `transfer_failed`; and `duration_ms`, from the LLM's call to the result.
    Version 1 events have neither: read them with defaults.
    """

    type: ClassVar[str] = "tool_called"
    version: ClassVar[int] = 2
    name: str
    arguments: str
    result: str
    error: str | None = None
    duration_ms: float | None = None


@dataclass(frozen=True)
class CallTransferred(CallEvent):
    """The agent handed the caller to a human; the call ends next. `target` is where a phone
    call was transferred (RAPPORT_TRANSFER_TO), None when there was no transfer to make (a local
    or browser call, or no target configured): the hand-off was then spoken only."""

    type: ClassVar[str] = "call_transferred"
    target: str | None


@dataclass(frozen=True)
class KnowledgeRetrieved(CallEvent):
    """Passages from the stage's knowledge bases that joined the LLM's context for a caller turn.

    `passages`: each one's knowledge base, source file, heading and score, best first;
    `took_ms`: the search, query embedding included.
    """

    type: ClassVar[str] = "knowledge_retrieved"
    passages: list[dict[str, object]]
    took_ms: float


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
