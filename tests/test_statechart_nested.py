"""Compound states, built and driven: entering and leaving them, their timers, their stages."""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit.agents import llm

from realtime.agent import StageAgent
from realtime.tools import conversation_registry
from statecharts.build import build_machine, stage_tools
from statecharts.clock import ManualClock
from statecharts.load import load_statechart
from statecharts.records import Statechart, TransitionRecord
from statecharts.registry import Context, Registry

MACHINE = """\
id: nested
kind: turn_taking
initial: idle
states:
  idle:
    on:
      call_came_in: on_call
    after:
      60000: {actions: [log]}
  on_call:
    initial: greeting_caller
    entry: [log]
    exit: [{type: log, params: {why: leaving}}]
    on:
      hangup: ended
      restart: on_call
    after:
      10000: {target: idle, actions: [log]}
    states:
      greeting_caller:
        entry: [log]
        exit: [log]
        on:
          greeted: talking
        after:
          3000: talking
      talking:
        initial: listening
        on:
          escalate: on_call.on_hold
        states:
          listening:
            on:
              spoke: answering
            after:
              3000: {actions: [log]}
          answering:
            on:
              done_answering: listening
              hangup: {target: idle, guard: is_polite}
      on_hold:
        entry: [log]
        on:
          resume: talking.answering
        after:
          2000: ended
  ended:
    type: final
"""


class Model:
    state: str


class Harness:
    def __init__(self, path: Path) -> None:
        self.log: list[tuple[str, str, str, dict[str, object]]] = []
        registry = Registry()
        registry.action("log")(self._log)
        registry.guard("is_polite")(lambda ctx: bool(ctx.kwargs.get("polite")))
        self.chart = load_statechart(path, registry)
        self.clock = ManualClock()
        self.records: list[TransitionRecord] = []
        self.model = Model()
        self.machine = build_machine(
            self.chart, self.model, registry, clock=self.clock, on_transition=self.records.append
        )

    def _log(self, ctx: Context) -> None:
        assert isinstance(ctx.model, Model)
        self.log.append((ctx.event, ctx.source, ctx.model.state, dict(ctx.params)))

    @property
    def state(self) -> str:
        return self.model.state

    def fire(self, event: str, **kwargs: object) -> None:
        self.machine.events[event].trigger(self.model, **kwargs)

    def moves(self) -> list[tuple[str, str, str]]:
        return [(r.event, r.source, r.dest) for r in self.records]


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    path = tmp_path / "nested.yaml"
    path.write_text(MACHINE, encoding="utf-8")
    return Harness(path)


def test_the_chart_loads_with_full_paths_and_resolved_targets(h: Harness) -> None:
    """Every state is known by its dotted path; targets name siblings, states further out, or paths."""
    assert list(h.chart.all_states) == [
        "idle",
        "on_call",
        "on_call.greeting_caller",
        "on_call.talking",
        "on_call.talking.listening",
        "on_call.talking.answering",
        "on_call.on_hold",
        "ended",
    ]
    dests = {(s.path, t.event): t.dest for s in h.chart.all_states.values() for t in s.transitions}
    assert dests[("on_call.greeting_caller", "greeted")] == "on_call.talking"  # a sibling
    assert dests[("on_call.talking.answering", "hangup")] == "idle"  # a state further out
    assert dests[("on_call.talking", "escalate")] == "on_call.on_hold"  # a dotted path
    assert dests[("on_call.on_hold", "resume")] == "on_call.talking.answering"  # sibling, then down
    assert h.chart.state("on_call").type == "compound" and h.chart.state("ended").final


def test_entering_a_compound_state_enters_its_initial_children(h: Harness) -> None:
    """A transition to on_call rests in its initial leaf; entry actions run outermost first."""
    assert h.state == "idle"
    h.fire("call_came_in")
    assert h.state == "on_call.greeting_caller"
    assert [(e, src, at) for e, src, at, _ in h.log] == [
        ("call_came_in", "idle", "on_call.greeting_caller"),
        ("call_came_in", "idle", "on_call.greeting_caller"),
    ]
    h.fire("greeted")
    assert h.state == "on_call.talking.listening"
    assert h.moves() == [
        ("call_came_in", "idle", "on_call.greeting_caller"),
        ("greeted", "on_call.greeting_caller", "on_call.talking.listening"),
    ]


def test_a_parents_transition_applies_in_every_child_and_a_childs_wins(h: Harness) -> None:
    """`hangup` on on_call leaves from any child; answering's own guarded `hangup` is tried first."""
    h.fire("call_came_in")
    h.fire("greeted")
    h.fire("spoke")
    assert h.state == "on_call.talking.answering"
    h.fire("hangup", polite=True)
    assert h.state == "idle"
    h.fire("call_came_in")
    h.fire("greeted")
    h.fire("spoke")
    h.fire("hangup", polite=False)  # the child's guard fails: the parent's transition is taken
    assert h.state == "ended"
    assert h.moves()[-1] == ("hangup", "on_call.talking.answering", "ended")


def test_leaving_a_compound_state_exits_its_children_first(h: Harness) -> None:
    """Exit actions run innermost first; the parent's exit sees the event that left it."""
    h.fire("call_came_in")
    h.log.clear()
    h.fire("hangup")
    assert h.state == "ended"
    assert [(e, params) for e, _, _, params in h.log] == [("hangup", {}), ("hangup", {"why": "leaving"})]


def test_a_parents_timer_runs_across_moves_between_its_children(h: Harness) -> None:
    """on_call's 10 s timeout counts from entering on_call, not from the last move inside it."""
    h.fire("call_came_in")
    h.clock.advance(2.0)
    h.fire("greeted")
    h.clock.advance(2.9)
    h.fire("spoke")
    h.clock.advance(2.9)
    h.fire("done_answering")
    assert h.state == "on_call.talking.listening"
    h.clock.advance(2.1)  # t = 9.9 s: listening's own 3 s timer has not come due yet
    assert h.state == "on_call.talking.listening"
    h.clock.advance(0.2)
    assert h.state == "idle"
    assert h.moves()[-1] == ("after_10000ms", "on_call.talking.listening", "idle")
    assert h.records[-1].at == pytest.approx(10.0)


def test_a_childs_timer_is_cancelled_when_it_is_left(h: Harness) -> None:
    """greeting_caller's 3 s timer does not fire once the caller is greeted; the child's own timer
    (same 3 s delay as others) moves only from its own state."""
    h.fire("call_came_in")
    h.clock.advance(1.0)
    h.fire("greeted")
    h.clock.advance(2.5)  # 3.5 s after entering on_call: greeting_caller's timer would have fired
    assert h.state == "on_call.talking.listening"
    assert [m for m in h.moves() if m[0] == "after_3000ms"] == []
    h.clock.advance(0.6)  # listening's own internal 3 s timer: a log, no move
    assert h.state == "on_call.talking.listening"
    assert h.log[-1][:2] == ("after_3000ms", "on_call.talking.listening")


def test_a_childs_timer_moves_to_a_sibling(h: Harness) -> None:
    """Nobody greets: after 3 s greeting_caller moves on to talking by itself."""
    h.fire("call_came_in")
    h.clock.advance(3.0)
    assert h.state == "on_call.talking.listening"
    assert h.moves()[-1] == ("after_3000ms", "on_call.greeting_caller", "on_call.talking.listening")


def test_a_dotted_target_and_reentering_a_compound_state(h: Harness) -> None:
    """`escalate` goes to on_call.on_hold by path; `restart` re-enters on_call at its initial child
    and restarts its timer."""
    h.fire("call_came_in")
    h.fire("greeted")
    h.fire("escalate")
    assert h.state == "on_call.on_hold"
    h.fire("resume")
    assert h.state == "on_call.talking.answering"
    h.clock.advance(9.0)
    h.fire("restart")
    assert h.state == "on_call.greeting_caller"
    h.clock.advance(3.0)  # t = 12 s: the first entry's 10 s timer was cancelled by the re-entry
    assert h.state == "on_call.talking.listening"
    h.clock.advance(6.9)
    assert h.state == "on_call.talking.listening"
    h.clock.advance(0.2)  # t = 19.1 s: 10 s after the re-entry
    assert h.state == "idle"


def test_flat_charts_still_record_plain_state_names(tmp_path: Path) -> None:
    """Names with underscores stay whole (transitions' default separator would split them)."""
    path = tmp_path / "flat.yaml"
    path.write_text(
        "id: flat\nkind: conversation\ninitial: first_stage\nstates:\n"
        "  first_stage:\n    on:\n      go_on: last_stage\n  last_stage:\n    type: final\n",
        encoding="utf-8",
    )
    chart = load_statechart(path, conversation_registry())
    model = Model()
    records: list[TransitionRecord] = []
    machine = build_machine(
        chart, model, conversation_registry(), clock=ManualClock(), on_transition=records.append
    )
    machine.events["go_on"].trigger(model)
    assert model.state == "last_stage"
    assert [(r.event, r.source, r.dest) for r in records] == [("go_on", "first_stage", "last_stage")]


STAGES = """\
id: stages
kind: conversation
initial: opening
settings:
  role: You are Dana.
states:
  opening:
    instructions: Say hello.
    on:
      greeted: {target: qualifying, description: Call once greeted.}
  qualifying:
    initial: budget
    instructions: Learn whether the caller can buy.
    tools: [end_call]
    on:
      gave_up: {target: done, description: Call if the caller is not a buyer.}
    states:
      budget:
        instructions: Ask about the budget.
        on:
          budget_known: {target: timeline, description: Call once the budget is known.}
      timeline:
        instructions: Ask about the timeline.
        tools: [end_call]
        on:
          gave_up: {target: done, description: Call if there is no timeline.}
  done:
    type: final
"""


def _stages(tmp_path: Path) -> Statechart:
    path = tmp_path / "stages.yaml"
    path.write_text(STAGES, encoding="utf-8")
    return load_statechart(path, conversation_registry())


def _tool_names(agent: StageAgent) -> list[str]:
    return [
        tool.info.raw_schema["name"] if isinstance(tool, llm.RawFunctionTool) else tool.info.name
        for tool in agent.tools
        if isinstance(tool, llm.RawFunctionTool | llm.FunctionTool)
    ]


def test_a_nested_stage_offers_its_own_and_its_parents_moves(tmp_path: Path) -> None:
    """In qualifying.timeline the child's `gave_up` hides the parent's; budget sees the parent's."""
    chart = _stages(tmp_path)
    assert stage_tools(chart, "qualifying.budget") == [
        ("budget_known", "Call once the budget is known.", "timeline"),
        ("gave_up", "Call if the caller is not a buyer.", "done"),
    ]
    assert stage_tools(chart, "qualifying.timeline") == [("gave_up", "Call if there is no timeline.", "done")]


async def test_the_stage_agent_follows_nested_stages(tmp_path: Path) -> None:
    """Instructions read outermost first; a tool listed by a stage and its parent is offered once."""
    records: list[TransitionRecord] = []
    agent = StageAgent(
        _stages(tmp_path), conversation_registry(), clock=ManualClock(), on_transition=records.append
    )
    await agent.move("greeted")
    assert agent.stage == "qualifying.budget"
    instructions = agent.current_instructions()
    assert instructions.index("Learn whether") < instructions.index("Ask about the budget")
    assert _tool_names(agent) == ["budget_known", "gave_up", "end_call"]
    await agent.move("budget_known")
    assert agent.stage == "qualifying.timeline"
    assert _tool_names(agent) == ["gave_up", "end_call"]
    await agent.move("gave_up")
    assert agent.stage == "done"
    assert [(r.event, r.source, r.dest) for r in records] == [
        ("greeted", "opening", "qualifying.budget"),
        ("budget_known", "qualifying.budget", "qualifying.timeline"),
        ("gave_up", "qualifying.timeline", "done"),
    ]


def test_a_compound_initial_state_is_entered_down_to_its_leaf_with_its_timers(tmp_path: Path) -> None:
    """A machine starting in a compound state rests in its initial leaf; both levels' entry
    actions run and both levels' timers start."""
    path = tmp_path / "start.yaml"
    path.write_text(
        "id: start\nkind: turn_taking\ninitial: top\nstates:\n"
        "  top:\n    initial: inner\n    entry: [log]\n    after:\n      1000: out\n    states:\n"
        "      inner:\n        entry: [log]\n        after:\n          500: {actions: [log]}\n"
        "  out:\n    type: final\n",
        encoding="utf-8",
    )
    h = Harness(path)
    assert h.state == "top.inner"
    assert [(e, src) for e, src, _, _ in h.log] == [("", ""), ("", "")]
    h.clock.advance(0.6)
    assert h.log[-1][:2] == ("after_500ms", "top.inner") and h.state == "top.inner"
    h.clock.advance(0.5)
    assert h.moves() == [("after_1000ms", "top.inner", "out")]
