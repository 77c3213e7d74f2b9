"""`rapport statechart validate`: the schema and the checks, each problem at its FILE:LINE:COL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rapport.cli import main
from statecharts.schema import SCHEMA_PATH
from statecharts.validate import definition_files, validate_files

DEFINITIONS = Path(__file__).resolve().parent.parent / "statecharts" / "definitions"

CONVERSATION = """\
id: demo
kind: conversation
initial: opening
states:
  opening:
    instructions: Say hello.
    on:
      greeted:
        target: billing
        description: Call once you have said hello.
  billing:
    initial: verify
    on:
      hung_up: done
    states:
      verify:
        instructions: Check who is calling.
        on:
          verified: quote
      quote:
        instructions: Give the price.
        tools: [end_call]
        on:
          accepted: done
  done:
    type: final
"""

TURN_TAKING = """\
id: turns
kind: turn_taking
initial: idle
states:
  idle:
    on:
      speech_started: busy
    after:
      20000: {actions: [nudge_caller]}
  busy:
    initial: hearing
    after:
      30000: idle
    states:
      hearing:
        on:
          speech_ended: pausing
      pausing:
        on:
          speech_started: hearing
          hangup: ended
  ended:
    type: final
"""


def _write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    return [str(p) for p in validate_files([path]).problems]


def _line_of(text: str, fragment: str) -> int:
    """1-based line of the first line containing `fragment`: tests name lines by content."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def _only(path: Path, text: str, fragment: str) -> str:
    """The one problem the file has, asserted to be on the line holding `fragment`."""
    problems = _problems(path)
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.startswith(f"{path}:{_line_of(text, fragment)}:"), problem
    return problem


def _at(path: Path, text: str, fragment: str) -> str:
    """The one problem on the line holding `fragment` (a mistake is reported once, where it is)."""
    line = _line_of(text, fragment)
    here = [p for p in _problems(path) if p.startswith(f"{path}:{line}:")]
    assert len(here) == 1, _problems(path)
    return here[0]


def test_the_schema_is_valid_draft_2020_12_with_an_id_editors_can_use() -> None:
    """The schema checks out against its metaschema and carries $id, title and $schema."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]


def test_each_shipped_definition_points_its_editor_at_the_schema() -> None:
    """The yaml-language-server comment on line 1 names the schema file by a working relative path."""
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, f"{path.name}: {first!r}"
        assert (path.parent / match.group(1)).resolve() == SCHEMA_PATH.resolve()


def test_valid_nested_definitions_have_no_problems(tmp_path: Path) -> None:
    """A conversation with a compound stage and a nested turn-taking machine both pass."""
    assert _problems(_write(tmp_path, CONVERSATION)) == []
    assert _problems(_write(tmp_path, TURN_TAKING, name="turns")) == []


@pytest.mark.parametrize(
    ("old", "new", "fragment", "expected"),
    [
        (
            "    instructions: Say hello.",
            "    instructons: Say hello.",
            "instructons",
            "unknown key 'instructons' in states.opening (allowed: ",
        ),
        ("  done:\n    type: final", "  done:\n    type: finale", "finale", "'finale' is not one of atomic"),
        ("kind: conversation", "kind: chat", "kind:", "kind: 'chat' is not one of turn_taking, conversation"),
        ("        tools: [end_call]", "        tools: end_call", "tools:", "tools must be a list"),
        (
            "          accepted: done",
            "          accepted: 42",
            "accepted",
            "must be text, a mapping or a list",
        ),
        ("          accepted: done", "          accepted: []", "accepted", "must not be empty"),
        ("      hung_up: done", "      Hung_up: done", "Hung_up", "key 'Hung_up' in states.billing.on"),
        ("      hung_up: done", "      hung_up: Done", "Done", "'Done': a target is a state's name"),
        (
            "  billing:\n    initial: verify\n",
            "  billing:\n",
            "  billing:",
            "no initial state in states.billing",
        ),
        (
            "    on:\n      hung_up: done",
            "    after:\n      soon: done\n    on:\n      hung_up: done",
            "soon",
            "an 'after' delay is a positive whole number of milliseconds",
        ),
    ],
)
def test_schema_errors_are_reported_at_their_line(
    tmp_path: Path, old: str, new: str, fragment: str, expected: str
) -> None:
    """Unknown keys, wrong types, unknown enum values, bad names and delays, missing initial states."""
    assert old in CONVERSATION
    text = CONVERSATION.replace(old, new)
    assert expected in _at(_write(tmp_path, text), text, fragment)


def test_a_duplicate_state_is_reported_at_the_second_one(tmp_path: Path) -> None:
    """JSON cannot hold a duplicate key; YAML can, and the second one is the mistake."""
    text = CONVERSATION + "  done:\n    type: final\n"
    (problem,) = _problems(_write(tmp_path, text))
    assert (
        problem == f"{tmp_path / 'demo.yaml'}:{len(text.splitlines()) - 1}:3: duplicate key 'done' in states"
    )


def test_a_missing_initial_state_is_reported_once(tmp_path: Path) -> None:
    """The schema requires `initial`; the checks do not add a second problem about it."""
    path = _write(tmp_path, CONVERSATION.replace("initial: opening\n", ""))
    assert _problems(path) == [f"{path}:1:1: no initial state: add 'initial: <state>'"]


def test_a_python_path_callback_is_one_problem_not_two(tmp_path: Path) -> None:
    """The schema rejects `os.getcwd`; the registry check does not report it again."""
    text = CONVERSATION.replace(
        "          verified: quote",
        "          verified:\n            target: quote\n            actions: [os.getcwd]",
    )
    problem = _only(_write(tmp_path, text), text, "os.getcwd")
    assert "'os.getcwd'" in problem and "never Python paths" in problem


@pytest.mark.parametrize(
    ("old", "new", "fragment", "expected"),
    [
        (
            "          verified: quote",
            "          verified: qoute",
            "qoute",
            "transition 'verified' of state 'billing.verify' goes to state 'qoute', which does not exist; "
            "did you mean 'quote'?",
        ),
        (
            "        target: billing",
            "        target: billing.qoute",
            "billing.qoute",
            "goes to state 'billing.qoute', which does not exist; did you mean 'billing.quote'?",
        ),
        (
            "    initial: verify",
            "    initial: verfy",
            "verfy",
            "initial state 'verfy' of 'billing' is not one of",
        ),
        (
            "initial: opening",
            "initial: openin",
            "openin",
            "initial state 'openin' does not exist; did you mean",
        ),
        (
            "        tools: [end_call]",
            "        tools: [end_cal]",
            "end_cal",
            "tool 'end_cal' is not registered",
        ),
        (
            "          accepted: done",
            "          accepted: {target: done, guard: is_ready}",
            "is_ready",
            "guard 'is_ready' is not registered",
        ),
        (
            "          accepted: done",
            "          accepted: {target: done, actions: [{type: note, params: {x: 1}}]}",
            "note",
            "action 'note' is not registered",
        ),
        (
            "  done:\n    type: final",
            "  done:\n    type: final\n    on:\n      again: opening",
            "  done:",
            "final state 'done' cannot have transitions",
        ),
        (
            "    initial: verify\n",
            "    type: atomic\n    initial: verify\n",
            "  billing:",
            "must be compound",
        ),
    ],
)
def test_check_errors_are_reported_at_their_line(
    tmp_path: Path, old: str, new: str, fragment: str, expected: str
) -> None:
    """Targets (sibling or dotted, with a suggestion), initial states, names, final and compound states."""
    assert old in CONVERSATION
    text = CONVERSATION.replace(old, new)
    assert expected in _at(_write(tmp_path, text), text, fragment)


def test_unreachable_states_are_named_by_path(tmp_path: Path) -> None:
    """A top-level state or a child that no transition enters is unreachable from the start."""
    text = (
        CONVERSATION.replace(
            "      quote:\n", "      extra:\n        on:\n          back: verify\n      quote:\n"
        )
        + "  limbo:\n    type: final\n"
    )
    path = _write(tmp_path, text)
    assert _problems(path) == [
        f"{path}:{_line_of(text, 'extra:')}:7: state 'billing.extra' is unreachable from 'opening'",
        f"{path}:{_line_of(text, 'limbo:')}:3: state 'limbo' is unreachable from 'opening'",
    ]


def test_a_child_with_no_way_out_is_reported(tmp_path: Path) -> None:
    """A leaf whose own transitions and its parents' all stay put must be final."""
    text = CONVERSATION.replace("    on:\n      hung_up: done\n", "").replace(
        "        on:\n          accepted: done\n", ""
    )
    path = _write(tmp_path, text)
    problems = _problems(path)
    assert (
        f"{path}:{_line_of(text, '      quote:')}:7: state 'billing.quote' has no way out and is not final"
        in problems
    )


def test_a_parents_transition_is_a_way_out_for_its_children(tmp_path: Path) -> None:
    """`hung_up` on billing lets quote leave even without transitions of its own."""
    text = CONVERSATION.replace("        on:\n          accepted: done\n", "")
    assert _problems(_write(tmp_path, text)) == []


def test_turn_taking_timeouts_may_be_inherited_from_a_parent(tmp_path: Path) -> None:
    """busy's `after` covers its children; without it, each child lacks a timeout path."""
    assert _problems(_write(tmp_path, TURN_TAKING, name="turns")) == []
    text = TURN_TAKING.replace("    after:\n      30000: idle\n", "")
    path = _write(tmp_path, text, name="turns")
    problems = _problems(path)
    assert [p for p in problems if "timeout" in p] == [
        f"{path}:{_line_of(text, 'hearing:')}:7: state 'busy.hearing' has no timeout: add an 'after' "
        "transition (to it or to a state enclosing it) so the agent can never be stuck in it",
        f"{path}:{_line_of(text, 'pausing:')}:7: state 'busy.pausing' has no timeout: add an 'after' "
        "transition (to it or to a state enclosing it) so the agent can never be stuck in it",
    ]


def test_broken_yaml_is_one_problem_at_its_position(tmp_path: Path) -> None:
    """A YAML syntax error stops that file only, at its line."""
    path = _write(tmp_path, CONVERSATION.replace("  done:\n", "  done: [unclosed\n"))
    (problem,) = _problems(path)
    assert re.match(rf"{re.escape(str(path))}:2\d:\d+: YAML syntax error", problem), problem


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("id: demo\nkind: conversation\ninitial: a\nstates: &s [*s]\n", ":4:13:"),  # refers to itself
        ("id: demo\nx: &a [1, 1, 1]\ny: &b [*a, *a, *a]\nz: [*b, *b, *b]\n", ":3:8:"),  # grows 3^n
    ],
)
def test_a_yaml_alias_is_refused_at_its_place(tmp_path: Path, text: str, where: str) -> None:
    """A definition may not use `*alias`: one that refers to itself once raised RecursionError past
    the error handling (and stopped `rapport up`); nested ones grow exponentially."""
    path = _write(tmp_path, text)
    assert _problems(path) == [f"{path}{where} aliases (*name) are not allowed in definitions"]


def test_validate_cli_passes_the_shipped_definitions(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0 and one line naming the definitions."""
    assert main(["statechart", "validate", str(DEFINITIONS)]) == 0
    out = capsys.readouterr().out
    charts = "inbound_qualification, routewise_inbound, sales_roleplay, turn_taking"
    assert out == f"4 definitions valid: {charts}\n"


def test_validate_cli_lists_every_problem_of_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1; each problem is one FILE:LINE:COL: message line on stdout, the count on stderr."""
    good = _write(tmp_path, CONVERSATION)
    bad = _write(
        tmp_path,
        CONVERSATION.replace("initial: opening", "intial: opening").replace(
            "verified: quote", "verified: qoute"
        ),
        name="broken",
    )
    assert main(["statechart", "validate", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines and all(re.match(rf"{re.escape(str(bad))}:\d+:\d+: \S", line) for line in lines), lines
    assert any("unknown key 'intial'" in line for line in lines)
    assert any("'qoute', which does not exist" in line for line in lines)
    assert any("id 'demo' must equal the file name 'broken'" in line for line in lines)
    assert captured.err.strip() == f"{len(lines)} problems in 1 of 2 definitions"


def test_validate_cli_refuses_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is trouble (exit 2), not a validation failure."""
    assert main(["statechart", "validate", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert definition_files([DEFINITIONS]) == sorted(DEFINITIONS.glob("*.yaml"))
