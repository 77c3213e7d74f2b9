"""Typed, immutable records of a statechart definition, each carrying where it was written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "CallbackRef",
    "Kind",
    "Location",
    "State",
    "Statechart",
    "Transition",
    "TransitionRecord",
]

Kind = Literal["turn_taking", "conversation"]


@dataclass(frozen=True)
class Location:
    """1-based line and column in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class CallbackRef:
    """A guard or action named in a definition, with its parameters."""

    name: str
    params: Mapping[str, object]
    loc: Location


@dataclass(frozen=True)
class Transition:
    """`event` (or, for timers, `after_ms`) leads to `target`; `target` None is internal."""

    event: str
    target: str | None
    guards: tuple[CallbackRef, ...]
    actions: tuple[CallbackRef, ...]
    description: str | None
    after_ms: int | None
    loc: Location


@dataclass(frozen=True)
class State:
    name: str
    final: bool
    entry: tuple[CallbackRef, ...]
    exit: tuple[CallbackRef, ...]
    transitions: tuple[Transition, ...]
    description: str | None
    instructions: str | None
    tools: tuple[tuple[str, Location], ...]
    loc: Location

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tools)


@dataclass(frozen=True)
class Statechart:
    id: str
    kind: Kind
    description: str | None
    initial: str | None
    initial_loc: Location
    states: Mapping[str, State]
    settings: Mapping[str, object]
    path: Path
    version: str
    """The first 12 hex digits of the file's sha256: a call records the version it started with."""
    loc: Location


@dataclass(frozen=True)
class TransitionRecord:
    """A state change as it happened, on the machine's clock (monotonic seconds)."""

    event: str
    source: str
    dest: str
    at: float
