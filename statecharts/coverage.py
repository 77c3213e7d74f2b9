"""Which written transition a built machine just took, and the tally of a path test.

A `TransitionRecord` says where the machine went, not which of several transitions for the same
event took it there (the first whose guards passed), and internal transitions record nothing.
So the path tests add an `after` callback to each of the machine's transitions, through the
`transitions` library's own API, mapped back to the written transition it was built from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from statecharts.edges import Edge, StatePath

__all__ = ["Coverage", "machine_leaf", "watch_edges"]


def _separator(machine: Machine) -> str:
    # A hierarchical machine names nested states with its separator; a flat one by name alone.
    return str(getattr(getattr(machine, "state_cls", None), "separator", "."))


def _machine_key(machine: Machine, path: StatePath) -> str:
    return _separator(machine).join(path)


def machine_leaf(machine: Machine, state: str) -> StatePath:
    """The machine's state name as a path of state names."""
    return tuple(state.split(_separator(machine)))


def watch_edges(machine: Machine, edges: Iterable[Edge], on_edge: Callable[[Edge], None]) -> None:
    """Call `on_edge` with the written transition each time the machine takes one."""
    by_source: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        by_source.setdefault((edge.event, _machine_key(machine, edge.source)), []).append(edge)
    for (event, source), written in by_source.items():
        # `build` gives each state's timers a trigger of their own (`state:after_8000ms`), so a
        # parent's timer cannot fire a child's transition; other events keep their names.
        built_event = next((e for e in (f"{source}:{event}", event) if e in machine.events), None)
        if built_event is None:
            continue
        built = machine.events[built_event].transitions.get(source, [])
        # `build` adds a state's transitions in the order written, so the n-th built one for an
        # event is the n-th written one.
        for transition, edge in zip(built, written, strict=False):
            transition.add_callback("after", _reporter(edge, on_edge))


def _reporter(edge: Edge, on_edge: Callable[[Edge], None]) -> Callable[[Any], None]:
    def report(_event_data: Any) -> None:
        on_edge(edge)

    return report


@dataclass(frozen=True)
class Coverage:
    """What a path test found: every written transition and the paths that took it."""

    chart_id: str
    edges: tuple[Edge, ...]
    taken: Mapping[Edge, int]  # how many times each transition was taken, over all paths
    paths_run: int
    notes: tuple[str, ...] = ()

    @property
    def never_taken(self) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if not self.taken.get(e))

    def report(self) -> str:
        lines = [f"statechart {self.chart_id}: {self.paths_run} paths run"]
        lines += [
            f"  {'taken' if self.taken.get(e) else 'NEVER TAKEN'}  {e.describe()}"
            + (f"  ({self.taken[e]}×)" if self.taken.get(e) else "")
            for e in self.edges
        ]
        lines += [f"  note: {note}" for note in self.notes]
        done = len(self.edges) - len(self.never_taken)
        lines.append(f"{done} of {len(self.edges)} transitions taken")
        return "\n".join(lines)

    def as_json(self) -> dict[str, object]:
        return {
            "statechart": self.chart_id,
            "paths_run": self.paths_run,
            "transitions": [
                {
                    "source": ".".join(e.source),
                    "event": e.event,
                    "target": ".".join(e.target) if e.target is not None else None,
                    "guards": list(e.guards),
                    "taken": self.taken.get(e, 0),
                }
                for e in self.edges
            ],
            "never_taken": [e.describe() for e in self.never_taken],
            "notes": list(self.notes),
        }
