"""The registry a chart's names resolve against, chosen by its `kind`, and loading by it.

The registries live with the code that implements them (`realtime/`), so they are imported
only when a command asks for one.
"""

from __future__ import annotations

from pathlib import Path

from statecharts.errors import Problem, StatechartError
from statecharts.load import load_statechart
from statecharts.parse import parse_statechart
from statecharts.records import Kind, Location, Statechart
from statecharts.registry import Registry

__all__ = ["load_any", "registry_for"]


def registry_for(kind: Kind) -> Registry:
    if kind == "turn_taking":
        from realtime.turn_taking import registry

        return registry
    from realtime.tools import conversation_registry

    return conversation_registry()


def load_any(path: Path) -> Statechart:
    """Load and check a definition of either kind; raise `StatechartError` with every problem."""
    chart, problems = parse_statechart(path)
    if chart is None:
        raise StatechartError(problems or [Problem(Location(str(path), 1, 1), "not a statechart")])
    return load_statechart(path, registry_for(chart.kind))
