"""Loading definitions: parse with line numbers, typed records, static checks, then the machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from realtime.tools import conversation_registry
from realtime.turn_taking import registry as turn_registry
from statecharts.build import build_machine, stage_tools
from statecharts.clock import ManualClock
from statecharts.errors import StatechartError
from statecharts.load import StatechartLibrary, UnknownStatechart, load_statechart
from statecharts.records import TransitionRecord

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "statecharts" / "definitions"

GOOD = """\
id: demo
kind: conversation
initial: opening
states:
  opening:
    instructions: Say hello.
    on:
      greeted:
        target: done
        description: Call once you have said hello.
  done:
    type: final
"""


def _chart(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(StatechartError) as err:
        load_statechart(path, conversation_registry())
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize("name", ["sales_roleplay", "inbound_qualification", "routewise_inbound"])
def test_the_shipped_conversations_load_and_end_in_a_final_stage(name: str) -> None:
    """Each definition passes every check; each has stages with instructions and a way to end."""
    chart = load_statechart(DEFINITIONS / f"{name}.yaml", conversation_registry())
    assert chart.id == name
    assert any(state.final for state in chart.states.values())
    assert all(s.instructions for s in chart.states.values() if not s.final)
    assert any("end_call" in s.tool_names for s in chart.states.values())


def test_the_turn_taking_definition_has_the_required_states() -> None:
    """The shipped turn-taking machine has at least the eight states the loop relies on."""
    chart = load_statechart(DEFINITIONS / "turn_taking.yaml", turn_registry)
    assert {
        "listening",
        "user_speaking",
        "endpointing",
        "thinking",
        "agent_speaking",
        "barge_in_candidate",
        "interrupted",
        "ended",
    } <= set(chart.states)


def test_stage_events_become_tools_with_their_descriptions(tmp_path: Path) -> None:
    """Each event leaving a stage is offered to the LLM as a tool named after it."""
    chart = load_statechart(_chart(tmp_path, GOOD), conversation_registry())
    assert stage_tools(chart, "opening") == [("greeted", "Call once you have said hello.", "done")]


def test_a_built_machine_moves_and_records_each_transition(tmp_path: Path) -> None:
    """Firing an event changes state and yields a record with the injected clock's time."""
    chart = load_statechart(_chart(tmp_path, GOOD), conversation_registry())
    clock = ManualClock(start=5.0)
    records: list[TransitionRecord] = []

    class Model:
        state: str

    model = Model()
    machine = build_machine(chart, model, conversation_registry(), clock=clock, on_transition=records.append)
    machine.events["greeted"].trigger(model)
    assert model.state == "done"
    assert [(r.event, r.source, r.dest, r.at) for r in records] == [("greeted", "opening", "done", 5.0)]


def test_an_unknown_target_names_the_line_and_suggests_the_right_state(tmp_path: Path) -> None:
    """A typo in a target is FILE:LINE:COL with a 'did you mean'."""
    path = _chart(tmp_path, GOOD.replace("target: done", "target: dnoe"))
    problem, unreachable = _problems(path)
    assert problem.startswith(f"{path}:9:")
    assert "'dnoe'" in problem and "did you mean 'done'" in problem
    assert unreachable == f"{path}:11:3: state 'done' is unreachable from 'opening'"


def test_an_unregistered_tool_is_reported_where_it_is_listed(tmp_path: Path) -> None:
    """Tools are names in a registry; an unknown one is an error at its line."""
    path = _chart(
        tmp_path,
        GOOD.replace("    instructions: Say hello.\n", "    instructions: Hi.\n    tools: [end_cal]\n"),
    )
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:7:")
    assert "tool 'end_cal' is not registered" in problem and "end_call" in problem


def test_a_python_path_is_never_accepted_as_a_callback(tmp_path: Path) -> None:
    """transitions would import a dotted path when the event fires; the loader rejects it first."""
    path = _chart(
        tmp_path,
        GOOD.replace(
            "        description: Call once", "        actions: [os.getcwd]\n        description: Call once"
        ),
    )
    problems = _problems(path)
    assert any(p.startswith(f"{path}:10:") and "'os.getcwd'" in p for p in problems), problems


def test_broken_yaml_is_reported_with_its_position(tmp_path: Path) -> None:
    """A YAML syntax error names the file and line instead of a parser traceback."""
    path = _chart(tmp_path, GOOD.replace("  done:\n", "  done:\n   - [unclosed\n"))
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:")
    assert ":13:" in problem or ":14:" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Several mistakes give several problems, each with its own line, in one error."""
    text = GOOD.replace("initial: opening", "initial: start").replace("type: final", "type: finale")
    text += "  orphan:\n    instructions: Nobody comes here.\n"
    problems = _problems(_chart(tmp_path, text))
    assert len(problems) >= 3
    assert len({p.split(":")[1] for p in problems}) == len(problems)


def test_unknown_keys_and_wrong_types_are_errors(tmp_path: Path) -> None:
    """A misspelt key ('intial') or a list where a mapping belongs is caught with its line."""
    problems = _problems(_chart(tmp_path, GOOD.replace("initial: opening", "intial: opening")))
    assert any(":3:" in p and "intial" in p for p in problems), problems
    problems = _problems(_chart(tmp_path, GOOD.replace("states:\n", "states: []\nx:\n")))
    assert any(":4:" in p for p in problems), problems


def test_turn_taking_states_need_a_timeout(tmp_path: Path) -> None:
    """Every non-final turn-taking state must have an 'after' transition: no stuck agent."""
    text = (DEFINITIONS / "turn_taking.yaml").read_text(encoding="utf-8")
    broken = text.replace(
        "    after:\n      # A caller silent for this long hears a short prompt instead of dead air.\n"
        "      20000: {actions: [nudge_caller]}\n",
        "",
    )
    assert broken != text
    path = _chart(tmp_path, broken, name="turn_taking")
    with pytest.raises(StatechartError) as err:
        load_statechart(path, turn_registry)
    assert any("'listening' has no timeout" in str(p) for p in err.value.problems)


def test_the_library_picks_up_an_edited_file_and_rejects_unknown_names(tmp_path: Path) -> None:
    """An edited definition is reloaded on the next get; a missing one lists what there is."""
    path = _chart(tmp_path, GOOD)
    library = StatechartLibrary(tmp_path, conversation_registry())
    first = library.get("demo")
    path.write_text(GOOD.replace("Say hello.", "Say hello warmly."), encoding="utf-8")
    os.utime(path, ns=(first_ns := path.stat().st_mtime_ns + 10**9, first_ns))
    second = library.get("demo")
    assert second.version != first.version
    assert second.states["opening"].instructions == "Say hello warmly."
    with pytest.raises(UnknownStatechart, match=r"^unknown statechart 'demo2' \(available: demo\)$"):
        library.get("demo2")


@pytest.mark.parametrize(
    "name", ["../outside", "/tmp/outside", "definitions/../../outside", "Demo", "demo\n", ".demo", ""]
)
def test_a_name_outside_the_rule_never_reaches_the_file_system(tmp_path: Path, name: str) -> None:
    """Only names of the definitions' own rule ([a-z][a-z0-9_]*) are looked up: a chart beside the
    directory, reached by `..` or an absolute path, is not loaded, and the error names the chart
    and the choices but no path of the server's."""
    directory = tmp_path / "definitions"
    directory.mkdir()
    _chart(directory, GOOD)
    _chart(tmp_path, GOOD, name="outside")
    library = StatechartLibrary(directory, conversation_registry())
    asked = str(tmp_path / "outside") if name == "/tmp/outside" else name
    with pytest.raises(UnknownStatechart, match=r"is not a statechart name.*available: demo\)$") as err:
        library.get(asked)
    # The name asked for is echoed back; nothing else of the server's file system is.
    assert str(tmp_path) not in str(err.value).replace(repr(asked), "")


def test_a_stage_names_its_knowledge_bases_with_where_each_is_written() -> None:
    """`knowledge:` lists bases per stage, each name with its file position; stages without one have none."""
    path = DEFINITIONS / "routewise_inbound.yaml"
    chart = load_statechart(path, conversation_registry())
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "knowledge: [routewise]" in text
    )
    ((name, loc),) = chart.states["questions"].knowledge
    assert name == "routewise" and str(loc) == f"{path}:{line}:17"
    assert chart.states["booking"].knowledge_names == ("routewise",)
    assert chart.states["farewell"].knowledge == ()
