"""Stage moves the caller's words decide: `caller_says` triggers, matched by MiniLM embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit.agents import AgentSession, llm
from livekit.agents.voice.events import ConversationItemAddedEvent

from realtime.agent import StageAgent
from realtime.session import Models
from realtime.tools import conversation_registry
from realtime.triggers import caller_says
from statecharts.clock import ManualClock
from statecharts.load import load_statechart
from statecharts.records import TransitionRecord
from statecharts.validate import validate_files

DEFINITIONS = Path(__file__).resolve().parent.parent / "statecharts" / "definitions"


def _agent(records: list[TransitionRecord]) -> StageAgent:
    registry = conversation_registry()
    chart = load_statechart(DEFINITIONS / "sales_roleplay.yaml", registry)
    return StageAgent(chart, registry, clock=ManualClock(), on_transition=records.append)


def _params(agent: StageAgent, event: str) -> dict[str, object]:
    transition = next(
        t for state in agent.chart.all_states.values() for t in state.transitions if t.event == event
    )
    return dict(transition.triggers[0].params)


# Lines of real sales calls, none of them among the chart's examples: (line, purpose?, pitch?).
LINES = [
    ("Hi Dana, this is Jordan from Northwind. Do you have a few minutes?", False, False),
    ("Yeah, right.", False, False),
    ("I'm with Routewise, we help fleets plan better routes. I'm calling because fuel is up.", True, False),
    ("Sam from Routewise here, I wanted to ask how you plan routes for your drivers.", True, False),
    ("How do you handle dispatch today?", True, False),
    ("What does that cost you each week?", False, False),
    ("And how are the routes for your drivers planned now?", True, False),
    ("I'm calling because your fuel bill is probably too high.", True, False),
    ("Who else would be involved in the decision?", False, False),
    ("Routewise plans every route automatically, so your dispatchers don't need spreadsheets.", True, True),
    ("With our tool your drivers would get optimized routes every morning.", True, True),
    ("Our platform cuts fuel costs by about twelve percent. Can we book a demo next Tuesday?", False, True),
]


@pytest.mark.parametrize(("line", "purpose", "pitch"), LINES)
def test_the_sales_charts_triggers_tell_purpose_and_pitch_from_other_lines(
    line: str, purpose: bool, pitch: bool
) -> None:
    """A rep stating why they call (or asking about the work) is a purpose; presenting the product
    or its price is a pitch; greetings, backchannels and questions about cost or the decision are
    neither."""
    agent = _agent([])
    assert caller_says(_params(agent, "rep_stated_purpose"), line) is purpose
    assert caller_says(_params(agent, "rep_pitched"), line) is pitch


async def test_a_turn_that_fires_a_trigger_moves_the_stage_once_it_is_answered(models: Models) -> None:
    """The reply to the turn is asked in the stage it was said in (a move re-evaluates the whole
    prompt, which the caller would wait for); once that reply is in the chat, the chart moves, as a
    recorded transition, and the next reply gets the new stage's instructions."""
    records: list[TransitionRecord] = []
    agent = _agent(records)
    async with AgentSession(llm=models.llm) as session:
        await session.start(agent)
        await agent.prefilled()
        turn = agent.chat_ctx.copy()
        said = turn.add_message(
            role="user", content="I'm calling to ask how your team plans delivery routes."
        )
        await agent.on_user_turn_completed(turn, said)
        assert agent.stage == "opening"
        reply = llm.ChatMessage(role="assistant", content=["Go on."])
        session.emit("conversation_item_added", ConversationItemAddedEvent(item=reply))
        await agent.prefilled()
    assert [(r.event, r.source, r.dest) for r in records] == [("rep_stated_purpose", "opening", "discovery")]
    assert "Reveal one pain at a time" in agent.current_instructions()


async def test_a_turn_that_fires_nothing_leaves_the_stage() -> None:
    """A greeting with no reason for the call keeps the buyer in the opening."""
    records: list[TransitionRecord] = []
    agent = _agent(records)
    turn = llm.ChatContext.empty()
    said = turn.add_message(role="user", content="Hi Dana, how are you doing today?")
    await agent.on_user_turn_completed(turn, said)
    assert agent.stage == "opening"
    assert records == []


CHART = """\
id: demo
kind: conversation
initial: opening
states:
  opening:
    instructions: Say hello.
    on:
      greeted:
        target: done
        trigger: {trigger}
  done:
    type: final
"""


@pytest.mark.parametrize(
    ("trigger", "problem"),
    [
        ("{type: caller_says, params: {unlike: [hello]}}", "caller_says needs params.examples"),
        ("{type: caller_says, params: {examples: hello}}", "params.examples must be a list of phrases"),
        ("{type: caller_says, params: {examples: [hi], min_similarity: high}}", "must be a number"),
        ("caller_said", "trigger 'caller_said' is not registered; did you mean 'caller_says'?"),
    ],
)
def test_a_broken_trigger_is_reported_at_its_line_when_the_chart_loads(
    tmp_path: Path, trigger: str, problem: str
) -> None:
    """Bad params or an unknown trigger fail validation at FILE:LINE, never mid-call."""
    path = tmp_path / "demo.yaml"
    path.write_text(CHART.replace("{trigger}", trigger))
    problems = [str(p) for p in validate_files([path]).problems]
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:10:")
    assert problem in problems[0]
