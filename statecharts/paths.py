"""Paths through a chart that together take every transition, like XState's graph utilities.

For each transition: the shortest way (by BFS) from the initial state to a state where it can
fire, then the transition itself. Timers are events here (`after_8000ms`), so a path is a plain
sequence of events. Paths that are the start of a longer path are dropped: the longer one takes
the same transitions. Guards are not evaluated: whether a guarded transition really can be taken
is what the path tests find out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from statecharts.edges import Edge, StatePath, available_edges, chart_edges, initial_leaf, leaf_of
from statecharts.records import Statechart

__all__ = ["ChartPath", "Step", "shortest_paths", "simple_paths", "transition_paths"]


@dataclass(frozen=True)
class Step:
    """Taking `edge` while in the atomic state `source` leads to the atomic state `dest`."""

    edge: Edge
    source: StatePath
    dest: StatePath


@dataclass(frozen=True)
class ChartPath:
    """Steps from the initial state; the last one is the transition this path is for."""

    steps: tuple[Step, ...]

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(step.edge.event for step in self.steps)

    @property
    def edges(self) -> tuple[Edge, ...]:
        return tuple(step.edge for step in self.steps)


def _steps_from(chart: Statechart, edges: list[Edge], leaf: StatePath) -> list[Step]:
    out = []
    for edge in available_edges(edges, leaf):
        dest = leaf if edge.target is None else leaf_of(chart, edge.target)
        out.append(Step(edge, leaf, dest))
    return out


def shortest_paths(chart: Statechart) -> dict[StatePath, tuple[Step, ...]]:
    """The shortest steps to every reachable atomic state (XState's `getShortestPaths`)."""
    start = initial_leaf(chart)
    if start is None:
        return {}
    edges = chart_edges(chart)
    paths: dict[StatePath, tuple[Step, ...]] = {start: ()}
    todo = deque([start])
    while todo:
        leaf = todo.popleft()
        for step in _steps_from(chart, edges, leaf):
            if step.dest not in paths:
                paths[step.dest] = (*paths[leaf], step)
                todo.append(step.dest)
    return paths


def simple_paths(chart: Statechart, to: StatePath, *, most: int = 50) -> Iterator[tuple[Step, ...]]:
    """Ways to reach `to` that visit no state twice, shortest first (XState's `getSimplePaths`).

    A guard may depend on how a state was reached (where a barge-in came from); when the
    shortest way does not let a transition fire, a path test tries these in turn.
    """
    start = initial_leaf(chart)
    if start is None:
        return
    edges = chart_edges(chart)
    found = 0
    todo: deque[tuple[StatePath, tuple[Step, ...]]] = deque([(start, ())])
    while todo and found < most:
        leaf, steps = todo.popleft()
        if leaf == to:
            found += 1
            yield steps
            continue
        seen = {start, *(s.dest for s in steps)}
        for step in _steps_from(chart, edges, leaf):
            if step.dest not in seen:
                todo.append((step.dest, (*steps, step)))


def transition_paths(chart: Statechart) -> list[ChartPath]:
    """One path per transition that can be reached, minus those another path already contains."""
    edges = chart_edges(chart)
    shortest = shortest_paths(chart)
    candidates: list[ChartPath] = []
    for edge in edges:
        ways = [
            (*steps, step)
            for leaf, steps in shortest.items()
            for step in _steps_from(chart, edges, leaf)
            if step.edge == edge
        ]
        if ways:
            candidates.append(ChartPath(min(ways, key=len)))
    kept: list[ChartPath] = []
    for path in candidates:
        longer = any(
            other is not path and other.steps[: len(path.steps)] == path.steps and other.steps != path.steps
            for other in candidates
        )
        if not longer and path not in kept:
            kept.append(path)
    return kept
