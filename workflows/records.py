"""The records a call hands to its workflow: plain frozen dataclasses Temporal can serialise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallInput", "EventBatch", "EventRecord", "StoreEventsInput"]


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
class CallInput:
    """Starts (or continues as new) a call's workflow."""

    call_id: str
    # Carried across continue-as-new: everything up to here is stored.
    stored_through: int = 0
    pending: list[EventRecord] = field(default_factory=list)
    ended: bool = False
    # Signals accepted per run before continuing as new; a run refuses its 10,001st signal.
    signals_per_run: int = 2_000


@dataclass(frozen=True)
class StoreEventsInput:
    call_id: str
    events: list[EventRecord]
