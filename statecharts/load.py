"""The load pipeline's front door, and a library that picks up edited files for new calls."""

from __future__ import annotations

from pathlib import Path

from statecharts.checks import check_statechart
from statecharts.errors import Problem, StatechartError
from statecharts.parse import parse_statechart
from statecharts.records import Location, Statechart
from statecharts.registry import Registry
from statecharts.yaml_nodes import NAME, content_version

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
    """The definition file of `name` in `directory`.

    Names come from outside (a browser's query, a LiveKit room's metadata), so only a name by the
    definitions' own rule reaches the file system: no `..`, no absolute path. The error names the
    chart and the choices, never a path.
    """
    if not NAME.match(name):
        raise UnknownStatechart(
            f"{name!r} is not a statechart name: names match [a-z][a-z0-9_]* ({_available(directory)})"
        )
    path = directory / f"{name}.yaml"
    if path.is_file():
        return path
    raise UnknownStatechart(f"unknown statechart {name!r} ({_available(directory)})")


def _names(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def _available(directory: Path) -> str:
    return f"available: {', '.join(_names(directory)) or 'none'}"


class StatechartLibrary:
    """Loads definitions by name; an edited file is reloaded for the next `get`.

    Records are immutable and a call keeps the ones it started with, so an edit never reaches a
    call in progress. The cache is keyed by content hash rather than modification time: an edit
    that keeps the size within one timestamp tick is still seen.
    """

    def __init__(self, directory: Path, registry: Registry) -> None:
        self.directory = directory
        self._registry = registry
        self._cache: dict[str, Statechart] = {}

    def names(self) -> list[str]:
        return _names(self.directory)

    def get(self, name: str) -> Statechart:
        path = find_statechart(name, self.directory)
        try:
            version = content_version(path.read_bytes())
        except OSError:
            version = ""  # unreadable: loading it reports why
        chart = self._cache.get(name)
        if chart is None or chart.version != version:
            chart = load_statechart(path, self._registry)
            self._cache[name] = chart
        return chart
