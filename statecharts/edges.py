"""A chart as a graph: its states by path (compound states walked recursively) and its transitions.

The diagrams, the path enumeration and the path tests all read the chart through this module, so
they agree on what one transition is: the `index`-th transition written in its source state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from statecharts.records import State, Statechart, Transition

__all__ = [
    "Edge",
    "StatePath",
    "Taken",
    "available_edges",
    "chart_edges",
    "children",
    "find_edge",
    "initial_leaf",
    "leaf_of",
    "path_name",
    "resolve_target",
    "walk_states",
]

StatePath = tuple[str, ...]
"""A state by the names from the top level down: ("greeting",) or ("billing", "verify")."""


def path_name(path: StatePath) -> str:
    return ".".join(path)


def children(state: State) -> Mapping[str, State]:
    """A compound state's child states; an atomic or final state has none."""
    return state.states


def _initial_child(state: State) -> str | None:
    kids = children(state)
    if not kids:
        return None
    return state.initial if state.initial in kids else next(iter(kids))


def walk_states(chart: Statechart) -> Iterator[tuple[StatePath, State]]:
    """Every state, parents before their children, in the order written."""

    def walk(prefix: StatePath, states: Mapping[str, State]) -> Iterator[tuple[StatePath, State]]:
        for name, state in states.items():
            yield (*prefix, name), state
            yield from walk((*prefix, name), children(state))

    yield from walk((), chart.states)


def state_at(chart: Statechart, path: StatePath) -> State:
    states: Mapping[str, State] = chart.states
    state: State | None = None
    for name in path:
        state = states[name]
        states = children(state)
    assert state is not None, "the empty path names no state"
    return state


def resolve_target(chart: Statechart, source: StatePath, target: str) -> StatePath | None:
    """The state a transition of `source` names: a sibling first, then an ancestor's sibling
    (XState's rule), then a dotted path from the top ("billing.verify"), then a unique name."""
    target = target.removeprefix("#")
    for depth in range(len(source) - 1, -1, -1):
        parent = source[:depth]
        siblings = children(state_at(chart, parent)) if parent else chart.states
        if target in siblings:
            return (*parent, target)
    dotted = tuple(target.split("."))
    known = {path for path, _ in walk_states(chart)}
    if dotted in known:
        return dotted
    named = [path for path in known if path[-1] == target]
    return named[0] if len(named) == 1 else None


def leaf_of(chart: Statechart, path: StatePath) -> StatePath:
    """Entering a compound state enters its initial child, down to an atomic or final state."""
    state = state_at(chart, path)
    while (child := _initial_child(state)) is not None:
        path = (*path, child)
        state = children(state)[child]
    return path


def initial_leaf(chart: Statechart) -> StatePath | None:
    if chart.initial is None or chart.initial not in chart.states:
        return None
    return leaf_of(chart, (chart.initial,))


@dataclass(frozen=True)
class Edge:
    """One transition as written: the `index`-th of state `source`'s transitions."""

    source: StatePath
    index: int
    # Left out of equality: (source, index) names the transition, and its params are unhashable.
    transition: Transition = field(compare=False)
    # The state it names (perhaps compound); None for an internal transition (no state change).
    target: StatePath | None

    @property
    def event(self) -> str:
        return self.transition.event

    @property
    def guards(self) -> tuple[str, ...]:
        return tuple(ref.name for ref in self.transition.guards)

    @property
    def label(self) -> str:
        """The event, and its guards in brackets as in UML: `transcript [has_words]`."""
        event = f"after {self.transition.after_ms}ms" if self.transition.after_ms else self.event
        return f"{event} [{' & '.join(self.guards)}]" if self.guards else event

    def describe(self) -> str:
        """`source --label--> target` for reports."""
        target = path_name(self.target) if self.target is not None else "(internal)"
        return f"{path_name(self.source)} --{self.label}--> {target}"


def chart_edges(chart: Statechart) -> list[Edge]:
    """Every transition of every state, in the order written (the order guards are tried)."""
    edges: list[Edge] = []
    for path, state in walk_states(chart):
        for index, t in enumerate(state.transitions):
            # The parser resolves targets to full dotted paths (`dest`); resolving here too keeps
            # records made without it drawable.
            if t.dest is not None:
                target: StatePath | None = tuple(t.dest.split("."))
            else:
                target = resolve_target(chart, path, t.target) if t.target is not None else None
            if t.target is not None and target is None:
                continue  # an unknown target: the checks report it; nothing to draw or drive
            edges.append(Edge(path, index, t, target))
    return edges


def available_edges(edges: list[Edge], leaf: StatePath) -> list[Edge]:
    """The transitions that can fire while in `leaf`: its own first, then each ancestor's."""
    return [e for depth in range(len(leaf), 0, -1) for e in edges if e.source == leaf[:depth]]


Taken = tuple[str, str, str]
"""A transition as a call recorded it: (source state, event, destination state)."""


def find_edge(edges: Sequence[Edge], taken: Taken) -> Edge | None:
    """The written transition behind a recorded one. The recorded source is the state the machine
    was in, perhaps a child of the state that declares the transition; nested names are dotted."""
    src, event, dst = tuple(taken[0].split(".")), taken[1], tuple(taken[2].split("."))
    for edge in edges:
        if edge.event != event or src[: len(edge.source)] != edge.source:
            continue
        if edge.target is None and src == dst:
            return edge
        if edge.target is not None and dst[: len(edge.target)] == edge.target:
            return edge
    return None
