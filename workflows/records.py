"""The records a call hands to its workflow: plain frozen dataclasses Temporal can serialise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallInput",
    "CrmContext",
    "CrmLookup",
    "CrmLookupInput",
    "EventBatch",
    "EventRecord",
    "PostCallInput",
    "PostCallResult",
    "RubricFailure",
    "ScoreInput",
    "StoreEventsInput",
    "SummaryFailure",
    "SummaryInput",
]


@dataclass(frozen=True)
class EventRecord:
    """One call event, numbered per call from 1; (call id, seq) is its identity."""

    seq: int
    type: str
    version: int
    at: float
    data: dict[str, Any]


@dataclass(frozen=True)
class EventBatch:
    """Events in seq order, sent together as one signal."""

    events: list[EventRecord]


@dataclass(frozen=True)
class CrmContext:
    """What the CRM knows about the caller: the part that joins the LLM's context."""

    contact: str
    title: str | None
    account: str
    industry: str | None
    employees: int | None
    notes: list[str] = field(default_factory=list)

    def as_prompt(self) -> str:
        who = f"{self.contact}, {self.title}," if self.title else f"{self.contact} of"
        size = f", {self.employees:,} employees" if self.employees else ""
        industry = f" ({self.industry}{size})" if self.industry else ""
        lines = [f"CRM record of the caller: {who} {self.account}{industry}."]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class CrmLookup:
    """The outcome of the CRM lookup at the start of a call.

    status: `found`, `not_found`, `no_caller` (the call has no caller number) or `failed`
    (the CRM did not answer in time; `error` says why). The call goes on in every case.
    """

    status: str
    context: CrmContext | None = None
    error: str | None = None


@dataclass(frozen=True)
class CrmLookupInput:
    call_id: str
    caller_number: str


@dataclass(frozen=True)
class CallInput:
    """Starts (or continues as new) a call's workflow."""

    call_id: str
    # The caller's phone number (E.164) when known: the workflow looks it up in the CRM.
    caller_number: str | None = None
    # Carried across continue-as-new: everything up to here is stored.
    stored_through: int = 0
    pending: list[EventRecord] = field(default_factory=list)
    ended: bool = False
    crm: CrmLookup | None = None
    # Signals accepted per run before continuing as new; a run refuses its 10,001st signal.
    signals_per_run: int = 2_000


@dataclass(frozen=True)
class StoreEventsInput:
    call_id: str
    events: list[EventRecord]


@dataclass(frozen=True)
class PostCallInput:
    """The slow work after hang-up, once every event of the call is stored."""

    call_id: str


@dataclass(frozen=True)
class SummaryInput:
    call_id: str


@dataclass(frozen=True)
class SummaryFailure:
    call_id: str
    error: str


@dataclass(frozen=True)
class PostCallResult:
    """What the post-call work came to; the scorecard and summary themselves are in the store."""

    rubric_status: str
    score: float | None
    summary: str | None


@dataclass(frozen=True)
class ScoreInput:
    call_id: str


@dataclass(frozen=True)
class RubricFailure:
    call_id: str
    rubric_name: str
    error: str
