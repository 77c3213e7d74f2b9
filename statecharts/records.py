"""Typed, immutable records of a statechart definition, each carrying where it was written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

__all__ = [
    "SEPARATOR",
    "CallbackRef",
    "Kind",
    "Location",
    "State",
    "StateType",
    "Statechart",
    "Transition",
    "TransitionRecord",
]

Kind = Literal["turn_taking", "conversation"]
StateType = Literal["atomic", "compound", "final"]

SEPARATOR = "."
"""Joins a nested state's path: `billing.verify`. Names themselves may contain underscores."""


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
    """`event` (or, for timers, `after_ms`) leads to `target`; `target` None is internal.

    `target` is as written (a sibling's name or a dotted path); `dest` is the full path of the
    state it names, resolved when the chart is parsed (None when internal or unknown).
    """

    event: str
    target: str | None
    guards: tuple[CallbackRef, ...]
    actions: tuple[CallbackRef, ...]
    description: str | None
    after_ms: int | None
    loc: Location
    dest: str | None = None
    triggers: tuple[CallbackRef, ...] = ()
    """Conversation charts: matchers of the caller's turn that fire `event` without the LLM."""


@dataclass(frozen=True)
class State:
    """A state; a compound one has child `states` and enters its `initial` child."""

    name: str
    path: str
    """The full dotted path from the top level: `name` for a top-level state."""
    type: StateType
    entry: tuple[CallbackRef, ...]
    exit: tuple[CallbackRef, ...]
    transitions: tuple[Transition, ...]
    description: str | None
    instructions: str | None
    tools: tuple[tuple[str, Location], ...]
    loc: Location
    initial: str | None = None
    initial_loc: Location | None = None
    states: Mapping[str, State] = field(default_factory=dict)
    knowledge: tuple[tuple[str, Location], ...] = ()
    """Conversation charts: the knowledge bases the stage's LLM draws on (and its child stages')."""

    @property
    def final(self) -> bool:
        return self.type == "final"

    @property
    def compound(self) -> bool:
        return bool(self.states)

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tools)

    @property
    def knowledge_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.knowledge)


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

    @cached_property
    def all_states(self) -> Mapping[str, State]:
        """Every state by full path, parents before their children, in the order written."""
        out: dict[str, State] = {}

        def walk(states: Mapping[str, State]) -> None:
            for state in states.values():
                out[state.path] = state
                walk(state.states)

        walk(self.states)
        return out

    def state(self, path: str) -> State:
        """The state at a full dotted path (what a machine's model holds as its `state`)."""
        return self.all_states[path]

    def lineage(self, path: str) -> tuple[State, ...]:
        """The states active while in `path`: the top-level ancestor first, `path`'s own state last."""
        parts = path.split(SEPARATOR)
        return tuple(self.all_states[SEPARATOR.join(parts[: i + 1])] for i in range(len(parts)))

    def leaf(self, path: str) -> str:
        """Entering `path` enters its initial child, and so on down to an atomic or final state.

        A missing or unknown initial child (a problem reported on its own) reads as the first
        child, so one mistake does not make every sibling look unreachable too.
        """
        state = self.all_states[path]
        while state.states:
            initial = state.initial if state.initial in state.states else None
            state = state.states[initial or next(iter(state.states))]
        return state.path

    @cached_property
    def knowledge_names(self) -> tuple[str, ...]:
        """Every knowledge base any stage names, once each, in the order written."""
        return tuple(dict.fromkeys(n for state in self.all_states.values() for n in state.knowledge_names))

    @property
    def initial_leaf(self) -> str | None:
        """The state a new machine is in, None when the initial state does not exist."""
        return self.leaf(self.initial) if self.initial is not None and self.initial in self.states else None


@dataclass(frozen=True)
class TransitionRecord:
    """A state change as it happened, on the machine's clock (monotonic seconds)."""

    event: str
    source: str
    dest: str
    at: float
