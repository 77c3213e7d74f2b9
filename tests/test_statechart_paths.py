"""Path enumeration and `rapport statechart test`: every transition covered, untakeable ones found.

Conversation charts run in a real livekit `AgentSession` in text mode with the scripted LLM; the
turn-taking chart runs the real `TurnTaking` model on a manual clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from statecharts.drive_conversation import ConversationDriver
from statecharts.edges import chart_edges
from statecharts.load import load_statechart
from statecharts.path_test import cover_chart
from statecharts.paths import shortest_paths, transition_paths
from statecharts.registries import load_any
from statecharts.registry import Context, Registry

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "statecharts" / "definitions"
EXAMPLE = ROOT / "examples" / "statecharts" / "support_triage.yaml"
CHARTS = [*sorted(DEFINITIONS.glob("*.yaml")), EXAMPLE]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`rapport statechart test ...` as a developer runs it: its own process, exit status and output."""
    return subprocess.run(
        [sys.executable, "-m", "rapport.cli", "statechart", "test", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


SHADOWED = """\
id: shadowed
kind: conversation
initial: asking
states:
  asking:
    instructions: Ask what the caller wants.
    on:
      decided:
        - {target: booking}
        - {target: farewell}
  booking:
    instructions: Book it.
    on:
      booked: farewell
  farewell:
    instructions: Say goodbye.
    on:
      call_ended: done
  done:
    type: final
"""


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.stem)
def test_the_paths_cover_every_transition(path: Path) -> None:
    chart = load_any(path)
    covered = {edge for p in transition_paths(chart) for edge in p.edges}
    assert covered == set(chart_edges(chart))


def test_paths_start_with_the_shortest_way_to_their_state() -> None:
    chart = load_any(DEFINITIONS / "sales_roleplay.yaml")
    ways = shortest_paths(chart)
    assert [s.edge.event for s in ways[("closing",)]] == [
        "rep_stated_purpose",
        "rep_pitched",
        "objections_handled",
    ]
    assert [s.edge.event for s in ways[("wrap_up",)]] == ["rep_lost_interest"]
    # Eight transitions, four conversations: no path is the start of another.
    paths = transition_paths(chart)
    assert [p.events for p in paths] == [
        ("rep_stated_purpose", "rep_lost_interest"),
        ("rep_stated_purpose", "rep_pitched", "rep_lost_interest"),
        ("rep_stated_purpose", "rep_pitched", "objections_handled", "next_step_agreed"),
        ("rep_lost_interest", "call_ended"),
    ]
    assert not any(a is not b and b.steps[: len(a.steps)] == a.steps for a in paths for b in paths)


def test_timers_are_events_on_the_path() -> None:
    chart = load_any(EXAMPLE)
    events = {e for p in transition_paths(chart) for e in p.events}
    assert "after_120000ms" in events


def test_the_shipped_conversations_pass() -> None:
    names = ["sales_roleplay", "inbound_qualification", "routewise_inbound"]
    done = _cli(*(str(DEFINITIONS / f"{name}.yaml") for name in names))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NEVER TAKEN" not in done.stdout
    for name in names:
        edges = len(chart_edges(load_any(DEFINITIONS / f"{name}.yaml")))
        assert f"statechart {name}:" in done.stdout
        assert f"{edges} of {edges} transitions taken" in done.stdout


def test_the_worked_example_passes_with_its_nested_stage_and_timer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Entering `technical` enters `diagnose`; `needs_specialist` of `technical` fires from either
    child; the escalation's two-minute timer moves the agent's tools to the farewell's."""
    done = _cli(str(EXAMPLE), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout)
    assert report["never_taken"] == []
    taken = {(t["source"], t["event"], t["target"]): t["taken"] for t in report["transitions"]}
    assert taken[("technical", "needs_specialist", "escalation")] >= 1
    assert taken[("escalation", "after_120000ms", "farewell")] >= 1
    assert taken[("technical.fix", "fixed", "farewell")] >= 1


def test_the_turn_taking_chart_is_driven_on_a_manual_clock() -> None:
    """Every transition is taken, including those whose guards depend on where a barge-in came from
    (found by trying other ways to `barge_in_candidate`)."""
    done = _cli(str(DEFINITIONS / "turn_taking.yaml"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout)
    assert report["never_taken"] == []
    taken = {
        (t["source"], t["event"], t["target"], tuple(t["guards"])): t["taken"] for t in report["transitions"]
    }
    assert (
        taken[
            ("barge_in_candidate", "after_3000ms", "thinking", ("transcription_idle", "came_from_thinking"))
        ]
        >= 1
    )
    assert taken[("interrupted", "interrupt_done", "endpointing", ())] >= 1


def test_a_shadowed_transition_is_reported_never_taken(tmp_path: Path) -> None:
    path = tmp_path / "shadowed.yaml"
    path.write_text(SHADOWED, encoding="utf-8")
    done = _cli(str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "NEVER TAKEN  asking --decided--> farewell" in out
    assert "asking --decided--> booking happened instead" in out


async def test_a_guard_that_never_passes_leaves_its_transition_untaken(tmp_path: Path) -> None:
    """The scripted LLM calls the event; the machine refuses it; the report says so."""
    registry = Registry()

    @registry.guard("caller_is_ready")
    def _never(ctx: Context) -> bool:
        return False

    path = tmp_path / "guarded.yaml"
    path.write_text(
        SHADOWED.replace("id: shadowed", "id: guarded").replace(
            "- {target: booking}", "- {target: booking, guard: caller_is_ready}"
        ),
        encoding="utf-8",
    )
    chart = load_statechart(path, registry)
    coverage = await cover_chart(chart, ConversationDriver(chart, registry))
    assert [e.describe() for e in coverage.never_taken] == [
        "asking --decided [caller_is_ready]--> booking",
        "booking --booked--> farewell",
    ]
