"""The load pipeline's front door, and a library that picks up edited files for new calls."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from statecharts.checks import check_statechart
from statecharts.errors import Problem, StatechartError
from statecharts.parse import parse_statechart
from statecharts.records import Location, Statechart
from statecharts.registry import Registry

__all__ = ["StatechartLibrary", "UnknownStatechart", "find_statechart", "load_statechart"]


class UnknownStatechart(LookupError):
    """No definition of that name; the message lists the ones there are."""


def load_statechart(path: Path, registry: Registry) -> Statechart:
    """Parse, check and return a definition; raise `StatechartError` with every problem."""
    chart, problems = parse_statechart(path)
    if chart is not None:
        problems += check_statechart(chart, registry)
    if problems or chart is None:
        raise StatechartError(problems or [Problem(Location(str(path), 1, 1), "not a statechart")])
    return chart


def find_statechart(name: str, directory: Path) -> Path:
    path = directory / f"{name}.yaml"
    if path.is_file():
        return path
    available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
    raise UnknownStatechart(f"unknown statechart {name!r} in {directory} (available: {available})")


@dataclass
class _Entry:
    mtime_ns: int
    size: int
    chart: Statechart


class StatechartLibrary:
    """Loads definitions by name; an edited file is reloaded for the next `get`.

    Records are immutable, so a call holding the version it started with keeps it.
    """

    def __init__(self, directory: Path, registry: Registry) -> None:
        self.directory = directory
        self._registry = registry
        self._cache: dict[str, _Entry] = {}

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.yaml"))

    def get(self, name: str) -> Statechart:
        path = find_statechart(name, self.directory)
        stat = path.stat()
        entry = self._cache.get(name)
        if entry is None or (entry.mtime_ns, entry.size) != (stat.st_mtime_ns, stat.st_size):
            entry = _Entry(stat.st_mtime_ns, stat.st_size, load_statechart(path, self._registry))
            self._cache[name] = entry
        return entry.chart
