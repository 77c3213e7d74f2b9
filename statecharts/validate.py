"""`rapport statechart validate`: every problem of every definition file named, none run.

Each file goes through the load pipeline's front half: YAML → schema → records → checks against
the registry its `kind` names. Nothing stops at the first problem or the first bad file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from statecharts.checks import check_statechart
from statecharts.errors import Problem, StatechartError
from statecharts.parse import parse_statechart
from statecharts.records import Statechart
from statecharts.registries import registry_for

__all__ = ["NoDefinitions", "Validation", "definition_files", "validate_files"]


class NoDefinitions(ValueError):
    """A path that does not exist, or folders holding no definition."""


def definition_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their `*.yaml` files (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.yaml"))
        elif path.exists():
            files.append(path)
        else:
            raise NoDefinitions(f"no such file or folder: {path}")
    if not files:
        raise NoDefinitions(f"no definitions (*.yaml) in {', '.join(str(p) for p in paths)}")
    return files


@dataclass(frozen=True)
class Validation:
    files: tuple[Path, ...]
    valid: tuple[Statechart, ...]
    problems: tuple[Problem, ...]
    """Sorted by file, line and column."""

    def summary(self) -> str:
        if not self.problems:
            noun = "definition" if len(self.valid) == 1 else "definitions"
            return f"{len(self.valid)} {noun} valid: {', '.join(c.id for c in self.valid)}"
        bad = len({p.loc.file for p in self.problems})
        noun = "problem" if len(self.problems) == 1 else "problems"
        return f"{len(self.problems)} {noun} in {bad} of {len(self.files)} definitions"


def _check(path: Path) -> tuple[Statechart | None, list[Problem]]:
    try:
        chart, problems = parse_statechart(path)
    except StatechartError as exc:  # unreadable
        return None, list(exc.problems)
    if chart is not None:
        problems += check_statechart(chart, registry_for(chart.kind))
    return chart, problems


def validate_files(files: Sequence[Path]) -> Validation:
    valid: list[Statechart] = []
    problems: list[Problem] = []
    for path in files:
        chart, found = _check(path)
        problems += found
        if chart is not None and not found:
            valid.append(chart)
    ordered = sorted(problems, key=lambda p: (p.loc.file, p.loc.line, p.loc.col))
    return Validation(tuple(files), tuple(valid), tuple(ordered))
