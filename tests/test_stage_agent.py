"""The conversation statechart drives the agent: stage events are tools, calling one moves on."""

from __future__ import annotations

from pathlib import Path

from livekit.agents import llm

from realtime.agent import StageAgent
from realtime.tools import conversation_registry
from statecharts.clock import ManualClock
from statecharts.load import load_statechart
from statecharts.records import TransitionRecord

DEFINITIONS = Path(__file__).resolve().parent.parent / "statecharts" / "definitions"


def _tool_names(agent: StageAgent) -> set[str]:
    return {
        tool.info.raw_schema["name"] if isinstance(tool, llm.RawFunctionTool) else tool.info.name
        for tool in agent.tools
        if isinstance(tool, llm.RawFunctionTool | llm.FunctionTool)
    }


def _agent(records: list[TransitionRecord]) -> StageAgent:
    registry = conversation_registry()
    chart = load_statechart(DEFINITIONS / "sales_roleplay.yaml", registry)
    return StageAgent(chart, registry, clock=ManualClock(), on_transition=records.append)


async def test_each_stage_offers_its_events_as_tools_and_its_instructions() -> None:
    """In 'opening' the LLM sees the persona, the opening instructions and the opening's moves."""
    agent = _agent([])
    assert agent.stage == "opening"
    assert _tool_names(agent) == {"rep_stated_purpose", "rep_lost_interest"}
    assert "Dana Reyes" in str(agent.instructions) and "guarded" in str(agent.instructions)


async def test_calling_a_move_tool_changes_stage_instructions_and_tools() -> None:
    """The tool call is a chart transition: recorded, and the next reply uses the new stage."""
    records: list[TransitionRecord] = []
    agent = _agent(records)
    move = next(
        t
        for t in agent.tools
        if isinstance(t, llm.RawFunctionTool) and t.info.raw_schema["name"] == "rep_stated_purpose"
    )
    result = await move({})
    assert agent.stage == "discovery"
    assert "discovery" in str(result)
    assert [(r.event, r.source, r.dest) for r in records] == [("rep_stated_purpose", "opening", "discovery")]
    assert _tool_names(agent) == {"rep_pitched", "rep_lost_interest"}
    assert "Reveal one pain at a time" in str(agent.instructions)


async def test_the_last_stage_offers_the_end_call_tool() -> None:
    """Only the wrap-up stage can hang up."""
    agent = _agent([])
    await agent.move("rep_lost_interest")
    assert agent.stage == "wrap_up"
    assert "end_call" in _tool_names(agent)
