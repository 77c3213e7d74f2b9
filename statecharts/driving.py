"""What a path test sends a machine and what it sees back, and the drivers' common shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from statecharts.edges import Edge, StatePath

__all__ = ["Driver", "Input", "StepResult"]


@dataclass(frozen=True)
class Input:
    """One event for the machine, with its payload; a timer (`after_ms`) is time passing instead."""

    event: str
    payload: Mapping[str, object] = field(default_factory=dict)
    after_ms: int | None = None

    @classmethod
    def for_edge(cls, edge: Edge, payload: Mapping[str, object] | None = None) -> Input:
        return cls(edge.event, payload or {}, edge.transition.after_ms)


@dataclass(frozen=True)
class StepResult:
    """The transitions one step's inputs made the machine take, and the state it ended in."""

    fired: tuple[Edge, ...]
    leaf: StatePath


class Driver(Protocol):
    """Runs a machine for a chart from its initial state through groups of inputs, one per step."""

    @property
    def repeatable(self) -> bool:
        """Whether the same inputs always give the same results (a scripted driver: yes; a real
        LLM: no). Only a repeatable driver is searched for inputs that make a guard pass."""
        ...

    def variants(self, edge: Edge, source: StatePath) -> list[list[Input]]:
        """Ways to try to take `edge` while in `source`, most likely first."""
        ...

    async def run(self, steps: Sequence[Sequence[Input]]) -> list[StepResult]:
        """A fresh machine, fed each step's inputs in turn."""
        ...
