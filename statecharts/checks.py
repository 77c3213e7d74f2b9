"""Static checks on parsed records: everything that would otherwise fail only when an event fires.

The schema has already judged the file's shape; these checks judge its meaning, at every depth
of nesting: targets and initial states exist, every state can be reached and left, every name is
registered, and no turn-taking state can hold the floor forever.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from statecharts.errors import Problem
from statecharts.parse import TARGET
from statecharts.records import CallbackRef, State, Statechart
from statecharts.registry import Registry

__all__ = ["check_statechart"]


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(options)), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _callbacks(chart: Statechart) -> list[tuple[str, CallbackRef]]:
    refs: list[tuple[str, CallbackRef]] = []
    for state in chart.all_states.values():
        refs += [("action", ref) for ref in (*state.entry, *state.exit)]
        for transition in state.transitions:
            refs += [("guard", ref) for ref in transition.guards]
            refs += [("action", ref) for ref in transition.actions]
            refs += [("trigger", ref) for ref in transition.triggers]
    return refs


def _leaves(chart: Statechart) -> list[State]:
    """The states a machine can rest in: atomic and final ones."""
    return [s for s in chart.all_states.values() if not s.states]


def _next_leaves(chart: Statechart, leaf: str) -> set[str]:
    """Where one transition can take a machine resting in `leaf` (its ancestors' transitions too)."""
    return {
        chart.leaf(t.dest) for state in chart.lineage(leaf) for t in state.transitions if t.dest is not None
    }


def _reachable(chart: Statechart) -> set[str]:
    """Every state entered on some path from the start: the leaves and all their ancestors."""
    start = chart.initial_leaf
    seen: set[str] = set()
    todo = [start] if start is not None else []
    while todo:
        leaf = todo.pop()
        if leaf not in seen:
            seen.add(leaf)
            todo += _next_leaves(chart, leaf) - seen
    return {state.path for leaf in seen for state in chart.lineage(leaf)}


def _structure(chart: Statechart) -> list[Problem]:
    """Initial states, state types, and targets that exist."""
    problems: list[Problem] = []
    names = [*chart.all_states, *(s.name for s in chart.all_states.values())]
    if chart.initial is not None and chart.initial not in chart.states:
        problems.append(
            Problem(
                chart.initial_loc,
                f"initial state {chart.initial!r} does not exist{_suggest(chart.initial, chart.states)}",
            )
        )
    for state in chart.all_states.values():
        if state.states and state.initial is not None and state.initial not in state.states:
            problems.append(
                Problem(
                    state.initial_loc or state.loc,
                    f"initial state {state.initial!r} of {state.path!r} is not one of its child states"
                    + _suggest(state.initial, state.states),
                )
            )
        if state.type == "compound" and not state.states:
            problems.append(Problem(state.loc, f"state {state.path!r} is compound but has no child 'states'"))
        if state.type != "compound" and state.states:
            problems.append(
                Problem(state.loc, f"state {state.path!r} has child states, so its type must be compound")
            )
        if state.final and state.transitions:
            problems.append(Problem(state.loc, f"final state {state.path!r} cannot have transitions"))
        for t in state.transitions:
            # A target the schema already rejected (not even a name) is not reported again.
            if t.target is not None and t.dest is None and TARGET.match(t.target):
                problems.append(
                    Problem(
                        t.loc,
                        f"transition {t.event!r} of state {state.path!r} goes to state "
                        f"{t.target!r}, which does not exist{_suggest(t.target, names)}",
                    )
                )
    return problems


def _liveness(chart: Statechart) -> list[Problem]:
    """Every state reachable; every resting state leaves (or is final); turn-taking ones time out."""
    problems: list[Problem] = []
    for leaf in _leaves(chart):
        if leaf.final:
            continue
        lineage = chart.lineage(leaf.path)
        # A target that does not exist is reported above; it is not a second problem here.
        leaves = any(
            t.target is not None and (t.dest is None or chart.leaf(t.dest) != leaf.path)
            for state in lineage
            for t in state.transitions
        )
        if not leaves:
            problems.append(Problem(leaf.loc, f"state {leaf.path!r} has no way out and is not final"))
        timed = any(t.after_ms is not None for state in lineage for t in state.transitions)
        if chart.kind == "turn_taking" and not timed:
            problems.append(
                Problem(
                    leaf.loc,
                    f"state {leaf.path!r} has no timeout: add an 'after' transition (to it or to a "
                    "state enclosing it) so the agent can never be stuck in it",
                )
            )
    if chart.initial_leaf is not None:
        reachable = _reachable(chart)
        for state in chart.all_states.values():
            if state.path not in reachable:
                problems.append(
                    Problem(state.loc, f"state {state.path!r} is unreachable from {chart.initial!r}")
                )
    # Without states at all the schema has said so; "no final state" would only repeat it.
    if chart.kind == "conversation" and chart.states and not any(s.final for s in chart.all_states.values()):
        problems.append(Problem(chart.loc, "a conversation needs a final state (type: final)"))
    return problems


def _names(chart: Statechart, registry: Registry) -> list[Problem]:
    """Tools, guards, actions and triggers the registry knows."""
    problems: list[Problem] = []
    for state in chart.all_states.values():
        for tool, loc in state.tools:
            if not registry.has_tool(tool):
                problems.append(
                    Problem(loc, f"tool {tool!r} is not registered{_suggest(tool, registry.tool_names)}")
                )
    for kind, ref in _callbacks(chart):
        registered = {
            "guard": registry.guard_names,
            "action": registry.action_names,
            "trigger": registry.trigger_names,
        }[kind]
        if ref.name not in registered:
            problems.append(
                Problem(ref.loc, f"{kind} {ref.name!r} is not registered{_suggest(ref.name, registered)}")
            )
        elif kind == "trigger":
            try:
                registry.get_trigger(ref.name)(ref.params, "")
            except ValueError as exc:
                problems.append(Problem(ref.loc, str(exc)))
    return problems


def check_statechart(chart: Statechart, registry: Registry) -> list[Problem]:
    """Every problem the definition has against `registry`, each with its location."""
    problems: list[Problem] = []
    stem = chart.path.stem
    if chart.id and chart.id != stem:
        problems.append(Problem(chart.loc, f"id {chart.id!r} must equal the file name {stem!r}"))
    return problems + _structure(chart) + _liveness(chart) + _names(chart, registry)
