"""The conversation statechart drives the agent: stage events are tools, calling one moves on."""

from __future__ import annotations

from pathlib import Path

from livekit.agents import llm
from livekit.agents.voice.generation import update_instructions

from realtime.agent import StageAgent
from realtime.plugins.llama_llm import chat_messages
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
    assert "Dana Reyes" in str(agent.instructions) and "guarded" in agent.current_instructions()


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
    assert "Reveal one pain at a time" in agent.current_instructions()


async def test_a_move_adds_the_new_stages_note_at_the_prompts_end() -> None:
    """The persona, the first stage and the call so far stay the prompt's start (a local model's
    cached prefix); a move adds the new stage's instructions and moves as a note at its end, so the
    model evaluates that note, not the whole call again."""
    agent = _agent([])
    chat = agent.chat_ctx.copy()  # the opening stage's note, then the persona's earlier call
    update_instructions(chat, instructions=agent.instructions, add_if_missing=True)
    chat.add_message(role="assistant", content="Northwind Freight, this is Dana.")
    chat.add_message(role="user", content="Hi Dana, this is Jordan from Routewise.")
    chat.add_message(role="assistant", content="What's it about?")

    def prompt() -> list[dict[str, str]]:
        tools = [t for t in agent.tools if isinstance(t, llm.Tool)]
        return chat_messages(agent.persona.framed(chat), tools)

    before = prompt()
    await agent.move("rep_stated_purpose")
    chat.items.append(agent.chat_ctx.items[-1])
    after = prompt()
    assert before[:-2] == after[:-2] and after[-1] == before[-1] == {"role": "user", "content": "(Go on.)"}
    # The reminder of who answers the caller's next line ends the system message before it.
    reminder = before[-2]["content"]
    assert after[-2]["content"].endswith("\n\n" + reminder) and "Dana" in reminder
    lead, note = before[0]["content"], after[-2]["content"]
    assert "Dana Reyes" in lead and "guarded" in lead and "CALL rep_stated_purpose" in lead
    assert after[-2]["role"] == "system" and "Reveal one pain" in note and "- rep_pitched:" in note
    assert "rep_stated_purpose" not in note


async def test_the_last_stage_offers_the_end_call_tool() -> None:
    """Only the wrap-up stage can hang up."""
    agent = _agent([])
    await agent.move("rep_lost_interest")
    assert agent.stage == "wrap_up"
    assert "end_call" in _tool_names(agent)
