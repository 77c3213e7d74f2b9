"""`rapport statechart diff OLD NEW`: states and transitions added, removed and changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapport.cli import main

OLD = """\
id: demo
kind: conversation
initial: opening
settings:
  role: You are Dana.
states:
  opening:
    instructions: Say hello.
    on:
      greeted: {target: billing, description: Call once you have said hello.}
      rude: done
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

NEW = """\
id: demo
kind: conversation
initial: opening
settings:
  role: You are Dana Reyes.
  greeting: Hello?
states:
  opening:
    instructions: Say hello warmly.
    on:
      greeted: {target: billing, description: Call once you have said hello.}
  billing:
    initial: verify
    on:
      hung_up: done
    states:
      verify:
        instructions: Check who is calling.
        on:
          verified:
            - {target: discount, guard: is_loyal}
            - quote
      discount:
        instructions: Offer ten percent.
        on:
          accepted: done
      quote:
        instructions: Give the price.
        on:
          accepted: {target: done, actions: [note]}
  done:
    type: final
"""


def _files(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old_path, new_path = tmp_path / "old" / "demo.yaml", tmp_path / "new" / "demo.yaml"
    old_path.write_text(old, encoding="utf-8")
    new_path.write_text(new, encoding="utf-8")
    return old_path, new_path


def test_diff_lists_state_and_transition_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 1; each change on its own line, what changed indented below it, a count at the end."""
    old, new = _files(tmp_path, OLD, NEW)
    assert main(["statechart", "diff", str(old), str(new)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"--- {old} (version ") and lines[1].startswith(f"+++ {new} (version ")
    assert lines[2:] == [
        "~ settings",
        "    ~role +greeting",
        "~ state opening",
        "    instructions:",
        "      - Say hello.",
        "      + Say hello warmly.",
        "+ state billing.discount",
        "~ state billing.quote",
        "    tools: -end_call",
        # A new guarded alternative first in the list: an addition, the old one is unchanged.
        "+ transition billing.verify --verified [is_loyal]--> billing.discount",
        "+ transition billing.discount --accepted--> done",
        "~ transition billing.quote --accepted--> done",
        "    actions: [] → [note]",
        "- transition opening --rude--> done",
        "3 added, 1 removed, 4 changed",
    ]


def test_a_changed_target_and_a_removed_state_read_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retargeting a transition is one change; a removed child state is named by its path."""
    new = OLD.replace("accepted: done", "accepted: verify").replace(
        "      quote:\n        instructions: Give the price.\n        tools: [end_call]\n"
        "        on:\n          accepted: verify\n",
        "",
    )
    new = new.replace("verified: quote", "verified: done")
    old_path, new_path = _files(tmp_path, OLD, new)
    assert main(["statechart", "diff", str(old_path), str(new_path)]) == 1
    out = capsys.readouterr().out
    assert (
        "~ transition billing.verify --verified--> billing.quote\n    target: billing.quote → done\n" in out
    )
    assert "- state billing.quote\n" in out
    assert "- transition billing.quote --accepted--> done\n" in out


def test_only_comments_changed_is_no_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """diff(1)'s convention: 0 when the states and transitions are the same, whatever the bytes."""
    old, new = _files(tmp_path, OLD, "# the same chart\n" + OLD)
    assert main(["statechart", "diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "no changes to states or transitions (only layout or comments differ)"
    assert main(["statechart", "diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no changes to states or transitions (identical)"


def test_an_unreadable_file_is_trouble(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 for a missing file or broken YAML, with the problem at its place."""
    old, new = _files(tmp_path, OLD, "states: [unclosed\n")
    assert main(["statechart", "diff", str(old), str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["statechart", "diff", str(old), str(new)]) == 2
    assert f"{new}:2:1: YAML syntax error" in capsys.readouterr().err
