"""Statechart diagrams for the dashboard: each definition drawn, and the path a call took on it.

Definitions are read from the statechart folder as they are now (parsed only: drawing needs no
guard or tool registry, so the dashboard never imports the realtime code). A call records the
content hash of the definition it started with; when today's file hashes differently, the page
says the diagram is a newer version than the one the call ran.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from db.event_store import StoredEvent
from statecharts.edges import Taken
from statecharts.parse import parse_statechart
from statecharts.records import Statechart
from statecharts.svg import diagram_svg

__all__ = ["SHARED_CHARTS", "Diagram", "call_diagram", "chart_transitions", "list_diagrams"]


@dataclass(frozen=True)
class Diagram:
    name: str
    description: str | None
    version: str | None
    svg: Markup | None
    # Why there is no diagram: no such file, or the file does not parse.
    problem: str | None = None
    # The call's recorded version, when it differs from the file's (the file was edited since).
    ran_version: str | None = None
    taken: int = 0


@functools.lru_cache(maxsize=64)
def _parse(path: Path, _mtime_ns: int, _size: int) -> tuple[Statechart | None, str | None]:
    # Keyed by the file's mtime and size, like `StatechartLibrary`: an edited file is read again.
    chart, problems = parse_statechart(path)
    if chart is None or problems:
        return None, "; ".join(str(p) for p in problems[:3]) or "not a statechart"
    return chart, None


def _chart(directory: Path, name: str) -> tuple[Statechart | None, str | None]:
    path = directory / f"{name}.yaml"
    if "/" in name or not path.is_file():
        return None, f"no definition named {name!r} in the statechart folder"
    stat = path.stat()
    return _parse(path, stat.st_mtime_ns, stat.st_size)


def chart_transitions(events: Sequence[StoredEvent], machine: str) -> list[Taken]:
    """The transitions one machine of a call took, in order, from its `machine_transition` events."""
    return [
        (str(e.data.get("source")), str(e.data.get("event")), str(e.data.get("dest")))
        for e in events
        if e.type == "machine_transition" and e.data.get("machine") == machine
    ]


def call_diagram(
    directory: Path, name: str, events: Sequence[StoredEvent], ran_version: str | None
) -> Diagram:
    """The call's conversation chart with the path it took highlighted."""
    chart, problem = _chart(directory, name)
    if chart is None:
        return Diagram(name, None, None, None, problem)
    taken = chart_transitions(events, name)
    return Diagram(
        name=name,
        description=chart.description,
        version=chart.version,
        svg=diagram_svg(chart, taken),
        ran_version=ran_version if ran_version and ran_version != chart.version else None,
        taken=len(taken),
    )


# The machine every call runs under its conversation (turn-taking and barge-in): the product's,
# not an organisation's, so every manager sees it.
SHARED_CHARTS = frozenset({"turn_taking"})


def list_diagrams(directory: Path, names: Collection[str]) -> list[Diagram]:
    """The folder's definitions among `names`, drawn (a broken one with its first problems instead)."""
    diagrams = []
    for path in sorted(directory.glob("*.yaml")):
        if path.stem not in names:
            continue
        chart, problem = _chart(directory, path.stem)
        if chart is None:
            diagrams.append(Diagram(path.stem, None, None, None, problem))
        else:
            diagrams.append(Diagram(path.stem, chart.description, chart.version, diagram_svg(chart)))
    return diagrams
