"""`rapport statechart graph`: mermaid text and SVG diagrams of the definitions."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from statecharts.edges import chart_edges, path_name, walk_states
from statecharts.mermaid import mermaid
from statecharts.parse import parse_statechart
from statecharts.registries import load_any
from statecharts.svg import diagram_svg

ROOT = Path(__file__).resolve().parent.parent
CHARTS = [
    ROOT / "statecharts" / "definitions" / "sales_roleplay.yaml",
    ROOT / "statecharts" / "definitions" / "inbound_qualification.yaml",
    ROOT / "statecharts" / "definitions" / "turn_taking.yaml",
    ROOT / "examples" / "statecharts" / "support_triage.yaml",
]
SVG = "{http://www.w3.org/2000/svg}"

SMALL = """\
id: small
kind: conversation
initial: hello
states:
  hello:
    on:
      greeted: help
      hung_up: {target: done, guard: caller_gone}
  help:
    initial: ask
    on:
      resolved: done
    states:
      ask:
        on:
          answered: answer
      answer:
        on:
          again: ask
    after:
      8000: {target: done}
  done:
    type: final
"""

SMALL_MERMAID = """\
stateDiagram-v2
    [*] --> hello
    state help {
        [*] --> ask
        ask --> answer : answered
        answer --> ask : again
    }
    hello --> help : greeted
    hello --> done : hung_up [caller_gone]
    help --> done : resolved
    help --> done : after 8000ms
    done --> [*]
"""


def test_mermaid_of_a_small_chart_is_exact(tmp_path: Path) -> None:
    """Initial arrow, guards in brackets, timers as `after Nms`, a compound state as a block, the final
    state's exit; the guard need not be registered to be drawn."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    chart, problems = parse_statechart(path)
    assert chart is not None and not problems
    assert mermaid(chart) == SMALL_MERMAID


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.stem)
def test_the_svg_parses_and_names_every_state_and_event(path: Path) -> None:
    chart = load_any(path)
    root = ET.fromstring(str(diagram_svg(chart)))
    assert root.tag == f"{SVG}svg"
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    words = " ".join(texts)
    for state_path, _state in walk_states(chart):
        assert state_path[-1] in texts, state_path
    for edge in chart_edges(chart):
        assert edge.label in words, edge.describe()
    drawn = {g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("data-state")}
    assert drawn == {path_name(p) for p, _ in walk_states(chart)}


def test_a_taken_path_is_highlighted_in_order() -> None:
    chart = load_any(CHARTS[0])
    taken = [
        ("opening", "rep_stated_purpose", "discovery"),
        ("discovery", "rep_pitched", "objections"),
        ("objections", "rep_lost_interest", "wrap_up"),
    ]
    root = ET.fromstring(str(diagram_svg(chart, taken)))
    groups = [g for g in root.iter(f"{SVG}g") if "sc-taken" in (g.get("class") or "").split()]
    assert [g.get("data-events") for g in groups] == [
        "rep_stated_purpose",
        "rep_pitched",
        "rep_lost_interest",
    ]
    labels = ["".join(t.itertext()) for g in groups for t in g.iter(f"{SVG}text")]
    assert labels == ["#1 rep_stated_purpose", "#2 rep_pitched", "#3 rep_lost_interest"]
    visited = {
        g.get("data-state")
        for g in root.iter(f"{SVG}g")
        for r in g.iter(f"{SVG}rect")
        if "sc-visited" in (r.get("class") or "")
    }
    assert visited == {"opening", "discovery", "objections", "wrap_up"}


def test_the_graph_command_writes_either_format(tmp_path: Path) -> None:
    def graph(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "rapport.cli", "statechart", "graph", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)

    done = graph(str(CHARTS[0]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("stateDiagram-v2\n    [*] --> opening\n")
    out = tmp_path / "chart.svg"
    done = graph(str(CHARTS[2]), "--format", "svg", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert ET.parse(out).getroot().tag == f"{SVG}svg"
