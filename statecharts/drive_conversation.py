"""The path tests' driver for a conversation chart: a real livekit `AgentSession` in text mode.

No room and no audio: `session.run(user_input=...)` sends a caller line as text, and the
session asks the LLM for a reply with the stage's tools, runs the tool it calls (a stage move)
and asks again, exactly as in a call. The LLM is the scripted one (it calls the planned event),
or any other `llm.LLM` (the local model), whose choices are then what the report shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from livekit.agents import AgentSession, llm
from livekit.agents.voice.run_result import RunResult

from realtime.agent import StageAgent
from statecharts.clock import ManualClock
from statecharts.coverage import machine_leaf, watch_edges
from statecharts.driving import Input, StepResult
from statecharts.edges import Edge, StatePath, chart_edges
from statecharts.records import Statechart
from statecharts.registry import Registry
from statecharts.scripted_llm import ScriptedLLM

__all__ = ["ConversationDriver"]

# A scripted reply takes milliseconds; the local model a few seconds per request on 2 cores.
_TURN_TIMEOUT_S = 120.0


class ConversationDriver:
    """One fresh session and `StageAgent` per run; timers are a manual clock moved forward."""

    def __init__(
        self, chart: Statechart, registry: Registry, make_llm: Callable[[], llm.LLM] = ScriptedLLM
    ) -> None:
        self._chart = chart
        self._registry = registry
        self._make_llm = make_llm
        self._edges = chart_edges(chart)
        self.transcript: list[str] = []
        """What was said in the last run, for a report on what a real LLM did."""

    @property
    def repeatable(self) -> bool:
        return self._make_llm is ScriptedLLM

    def variants(self, edge: Edge, source: StatePath) -> list[list[Input]]:
        return [[Input.for_edge(edge)]]

    def _line(self, item: Input) -> str:
        """The caller's line for a step: for a real LLM, what the transition's description says
        should have happened; the scripted LLM does not read it."""
        edge = next((e for e in self._edges if e.event == item.event), None)
        said = edge.transition.description if edge is not None else None
        return f"(The caller's turn. {said or item.event.replace('_', ' ')})"

    async def run(self, steps: Sequence[Sequence[Input]]) -> list[StepResult]:
        clock = ManualClock()
        fired: list[Edge] = []
        agent = StageAgent(self._chart, self._registry, clock=clock, on_transition=lambda _r: None)
        watch_edges(agent.machine, self._edges, fired.append)
        model = self._make_llm()
        self.transcript = []
        results = []
        async with AgentSession(llm=model) as session:
            await session.start(agent)
            for inputs in steps:
                start = len(fired)
                for item in inputs:
                    if item.after_ms is not None:
                        clock.advance(item.after_ms / 1000)
                        await agent.sync_stage()
                        continue
                    if isinstance(model, ScriptedLLM):
                        model.plan(item.event)
                    line = self._line(item)
                    async with asyncio.timeout(_TURN_TIMEOUT_S):
                        result: RunResult[None] = await session.run(user_input=line)
                    self.transcript.append(f"caller: {line}")
                    self.transcript += [_said(event) for event in result.events]
                # A stage move updates the agent's tools before the session's next request.
                results.append(StepResult(tuple(fired[start:]), machine_leaf(agent.machine, agent.stage)))
        return results


def _said(event: object) -> str:
    item = getattr(event, "item", None)
    if isinstance(item, llm.FunctionCall):
        return f"agent calls {item.name}"
    if isinstance(item, llm.ChatMessage):
        return f"{item.role}: {item.text_content or ''}"
    return f"({type(event).__name__})"
