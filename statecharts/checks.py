"""Static checks on parsed records: everything that would otherwise fail only when an event fires."""

from __future__ import annotations

import difflib

from statecharts.errors import Problem
from statecharts.records import CallbackRef, Statechart
from statecharts.registry import Registry

__all__ = ["check_statechart"]


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _callbacks(chart: Statechart) -> list[tuple[str, CallbackRef]]:
    refs: list[tuple[str, CallbackRef]] = []
    for state in chart.states.values():
        refs += [("action", ref) for ref in (*state.entry, *state.exit)]
        for transition in state.transitions:
            refs += [("guard", ref) for ref in transition.guards]
            refs += [("action", ref) for ref in transition.actions]
    return refs


def _reachable(chart: Statechart) -> set[str]:
    seen: set[str] = set()
    todo = [chart.initial] if chart.initial in chart.states else []
    while todo:
        name = todo.pop()
        if name is None or name in seen:
            continue
        seen.add(name)
        todo += [t.target for t in chart.states[name].transitions if t.target in chart.states]
    return seen


def check_statechart(chart: Statechart, registry: Registry) -> list[Problem]:
    """Every problem the definition has against `registry`, each with its location."""
    problems: list[Problem] = []
    names = list(chart.states)
    stem = chart.path.stem
    if chart.id and chart.id != stem:
        problems.append(Problem(chart.loc, f"id {chart.id!r} must equal the file name {stem!r}"))
    if chart.initial is None:
        problems.append(Problem(chart.initial_loc, "no initial state: add 'initial: <state>'"))
    elif chart.initial not in chart.states:
        problems.append(
            Problem(
                chart.initial_loc,
                f"initial state {chart.initial!r} does not exist{_suggest(chart.initial, names)}",
            )
        )
    for state in chart.states.values():
        for t in state.transitions:
            if t.target is not None and t.target not in chart.states:
                problems.append(
                    Problem(
                        t.loc,
                        f"transition {t.event!r} of state {state.name!r} goes to state "
                        f"{t.target!r}, which does not exist{_suggest(t.target, names)}",
                    )
                )
        if state.final and state.transitions:
            problems.append(Problem(state.loc, f"final state {state.name!r} cannot have transitions"))
        leaves = any(t.target not in (None, state.name) for t in state.transitions)
        if not state.final and not leaves:
            problems.append(Problem(state.loc, f"state {state.name!r} has no way out and is not final"))
        timed = any(t.after_ms is not None for t in state.transitions)
        if chart.kind == "turn_taking" and not state.final and not timed:
            problems.append(
                Problem(
                    state.loc,
                    f"state {state.name!r} has no timeout: add an 'after' transition so the "
                    "agent can never be stuck in it",
                )
            )
        for tool, loc in state.tools:
            if not registry.has_tool(tool):
                suggestion = _suggest(tool, sorted(registry.tool_names))
                problems.append(Problem(loc, f"tool {tool!r} is not registered{suggestion}"))
    for kind, ref in _callbacks(chart):
        registered = registry.guard_names if kind == "guard" else registry.action_names
        if ref.name not in registered:
            problems.append(
                Problem(
                    ref.loc,
                    f"{kind} {ref.name!r} is not registered{_suggest(ref.name, sorted(registered))}",
                )
            )
    reachable = _reachable(chart)
    if chart.initial in chart.states:
        for state in chart.states.values():
            if state.name not in reachable:
                problems.append(
                    Problem(state.loc, f"state {state.name!r} is unreachable from {chart.initial!r}")
                )
    if chart.kind == "conversation" and not any(s.final for s in chart.states.values()):
        problems.append(Problem(chart.loc, "a conversation needs a final state (type: final)"))
    return problems
