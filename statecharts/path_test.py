"""`rapport statechart test`: drive a chart along paths that cover every transition; tally them.

Each path from `paths.transition_paths` is run on a fresh machine by a driver (the turn-taking
machine fed its events on a manual clock, or a conversation in a livekit `AgentSession` in text
mode). A repeatable driver is also searched, step by step, for inputs that make a guard pass
(another transcript, an internal event first), and where the shortest way to a state does not
let a transition fire, the other simple ways there are tried: a guard may depend on history.
A transition no path takes is reported as never taken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from statecharts.coverage import Coverage
from statecharts.driving import Driver, Input, StepResult
from statecharts.edges import Edge, available_edges, chart_edges, leaf_of
from statecharts.paths import Step, shortest_paths, simple_paths, transition_paths
from statecharts.records import Statechart

__all__ = ["cover_chart"]

# Runs tried per path when searching for inputs; a turn-taking path needs a few dozen at most.
_BUDGET = 400
# Other ways to a state tried for a transition the shortest way could not take.
_DETOURS = 40


def _matches(step: Step, result: StepResult) -> bool:
    return step.edge in result.fired and result.leaf == step.dest


def _followed(skeleton: Sequence[Step], results: Sequence[StepResult]) -> list[StepResult]:
    """The results up to and including the first step that went off the path."""
    out: list[StepResult] = []
    for step, result in zip(skeleton, results, strict=False):
        out.append(result)
        if not _matches(step, result):
            break
    return out


async def _drive(driver: Driver, skeleton: Sequence[Step]) -> tuple[bool, list[StepResult]]:
    """Try to take every step of `skeleton`; returns whether it worked and what was taken."""
    first = [driver.variants(s.edge, s.source)[0] for s in skeleton]
    ran = await driver.run(first)
    results = _followed(skeleton, ran)
    if len(results) == len(skeleton) and _matches(skeleton[-1], results[-1]):
        return True, results
    if not driver.repeatable:
        # A real LLM went its own way: everything it did still counts as taken.
        return False, ran
    best = results
    budget = _BUDGET

    async def search(chosen: list[list[Input]]) -> list[StepResult] | None:
        nonlocal best, budget
        k = len(chosen)
        for inputs in driver.variants(skeleton[k].edge, skeleton[k].source):
            if budget <= 0:
                return None
            budget -= 1
            tried = await driver.run([*chosen, inputs])
            if not _matches(skeleton[k], tried[k]):
                continue
            if k + 1 > len(best):
                best = tried
            if k + 1 == len(skeleton):
                return tried
            found = await search([*chosen, inputs])
            if found is not None:
                return found
        return None

    found = await search([])
    return (True, found) if found is not None else (False, best)


def _detours(chart: Statechart, edge: Edge) -> list[tuple[Step, ...]]:
    """Other ways to take `edge`: each simple path to a state where it can fire, then it."""
    edges = chart_edges(chart)
    ways: list[tuple[Step, ...]] = []
    for leaf in shortest_paths(chart):
        if edge not in available_edges(edges, leaf):
            continue
        dest = leaf if edge.target is None else leaf_of(chart, edge.target)
        ways += [(*prefix, Step(edge, leaf, dest)) for prefix in simple_paths(chart, leaf, most=_DETOURS)]
    return sorted(ways, key=len)[:_DETOURS]


async def cover_chart(chart: Statechart, driver: Driver) -> Coverage:
    """Run the paths and tally which transitions were taken."""
    edges = chart_edges(chart)
    taken: Counter[Edge] = Counter()
    # For a transition a path failed to take: what the machine did at that step instead.
    instead: dict[Edge, set[str]] = {}
    runs = 0

    async def attempt(skeleton: Sequence[Step]) -> bool:
        nonlocal runs
        ok, results = await _drive(driver, skeleton)
        runs += 1
        for result in results:
            taken.update(result.fired)
        missed = next((i for i, r in enumerate(results) if not _matches(skeleton[i], r)), None)
        if not ok and missed is not None:
            went = [e.describe() for e in results[missed].fired] or ["nothing"]
            instead.setdefault(skeleton[missed].edge, set()).update(went)
        return ok

    for path in transition_paths(chart):
        await attempt(path.steps)
    if driver.repeatable:
        for edge in edges:
            for way in _detours(chart, edge) if not taken[edge] else []:
                if await attempt(way):
                    break
    notes = tuple(
        f"{edge.describe()}: {'; '.join(sorted(instead[edge]))} happened instead"
        for edge in edges
        if not taken[edge] and edge in instead
    )
    return Coverage(chart.id, tuple(edges), dict(taken), runs, notes)
