"""A chart as mermaid `stateDiagram-v2` text: paste it into any mermaid renderer or a Markdown file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from statecharts.edges import Edge, StatePath, chart_edges, children, walk_states
from statecharts.records import State, Statechart

__all__ = ["mermaid"]

_INDENT = "    "


def _ids(chart: Statechart) -> dict[StatePath, str]:
    """Mermaid ids are global: a state's own name, or its whole path where names repeat."""
    paths = [path for path, _ in walk_states(chart)]
    counts = Counter(path[-1] for path in paths)
    return {path: path[-1] if counts[path[-1]] == 1 else "__".join(path) for path in paths}


def _initial(states: Mapping[str, State], written: str | None) -> str | None:
    if written in states:
        return written
    return next(iter(states), None)


def mermaid(chart: Statechart) -> str:
    """`[*] -->` the initial state, one labelled arrow per transition (internal ones as self-loops),
    final states `--> [*]`, compound states as `state X { ... }` blocks."""
    ids = _ids(chart)
    by_parent: dict[StatePath, list[Edge]] = {}
    for edge in chart_edges(chart):
        by_parent.setdefault(edge.source[:-1], []).append(edge)
    lines = ["stateDiagram-v2"]

    def block(parent: StatePath, states: Mapping[str, State], initial: str | None, depth: int) -> None:
        pad = _INDENT * depth
        first = _initial(states, initial)
        if first is not None:
            lines.append(f"{pad}[*] --> {ids[(*parent, first)]}")
        for name, state in states.items():
            path = (*parent, name)
            kids = children(state)
            if kids:
                lines.append(f"{pad}state {ids[path]} {{")
                block(path, kids, state.initial, depth + 1)
                lines.append(f"{pad}}}")
        for edge in by_parent.get(parent, []):
            target = ids[edge.target] if edge.target is not None else ids[edge.source]
            lines.append(f"{pad}{ids[edge.source]} --> {target} : {_clean(edge.label)}")
        for name, state in states.items():
            if state.final:
                lines.append(f"{pad}{ids[(*parent, name)]} --> [*]")

    block((), chart.states, chart.initial, 1)
    return "\n".join(lines) + "\n"


def _clean(text: str) -> str:
    # A colon or a line break would end mermaid's label early.
    return " ".join(text.replace(":", " -").split())
