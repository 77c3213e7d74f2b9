"""The path tests' driver for the turn-taking chart: the real `TurnTaking` model and registry,
fed its events directly on a manual clock (no audio, no session: the machine is the subject)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from realtime.turn_taking import TurnTaking
from statecharts.clock import ManualClock
from statecharts.coverage import machine_leaf, watch_edges
from statecharts.driving import Input, StepResult
from statecharts.edges import Edge, StatePath, available_edges, chart_edges
from statecharts.records import Statechart

__all__ = ["TurnTakingDriver"]

# What the bridge sends with an event. A transcript decides guards by its words: real words
# (an interruption, a turn with words), a backchannel (a false alarm), or nothing (noise).
PAYLOADS: Mapping[str, tuple[Mapping[str, object], ...]] = {
    "transcript": ({"text": "Could you tell me what it costs?"}, {"text": "uh-huh"}, {"text": ""}),
}


class TurnTakingDriver:
    """Events go in through the model's own inputs (`on_speech_started` also notes that the
    caller is speaking, as the bridge's call does); events without one are fired as they are."""

    repeatable = True

    def __init__(self, chart: Statechart) -> None:
        self._chart = chart
        self._edges = chart_edges(chart)

    def variants(self, edge: Edge, source: StatePath) -> list[list[Input]]:
        mains = [[Input.for_edge(edge, payload)] for payload in PAYLOADS.get(edge.event, ({},))]
        # An internal transition first changes what the model knows without leaving the state
        # (the caller stopped talking while the agent was paused): some guards need that.
        helpers = list(
            dict.fromkeys(
                e.event
                for e in available_edges(self._edges, source)
                if e.target is None and e.transition.after_ms is None and e.event != edge.event
            )
        )
        helper_inputs = [Input(event, PAYLOADS.get(event, ({},))[0]) for event in helpers]
        return mains + [[helper, *main] for helper in helper_inputs for main in mains]

    async def run(self, steps: Sequence[Sequence[Input]]) -> list[StepResult]:
        clock = ManualClock()
        fired: list[Edge] = []
        model = TurnTaking(
            self._chart, clock=clock, on_command=lambda _c: None, on_transition=lambda _r: None
        )
        watch_edges(model.machine, self._edges, fired.append)
        results = []
        for inputs in steps:
            start = len(fired)
            for item in inputs:
                if item.after_ms is not None:
                    clock.advance(item.after_ms / 1000)
                    continue
                method = getattr(model, f"on_{item.event}", None)
                if callable(method):
                    method(**item.payload)
                else:
                    model.fire(item.event, **item.payload)
            results.append(StepResult(tuple(fired[start:]), machine_leaf(model.machine, model.state)))
        return results
