"""`rapport statechart graph`: a definition as a mermaid `stateDiagram-v2` or as an SVG file."""

from __future__ import annotations

from typing import Literal

from statecharts.mermaid import mermaid
from statecharts.records import Statechart
from statecharts.svg import diagram_svg

__all__ = ["FORMATS", "GraphFormat", "render_graph"]

GraphFormat = Literal["mermaid", "svg"]
FORMATS: tuple[GraphFormat, ...] = ("mermaid", "svg")


def render_graph(chart: Statechart, fmt: GraphFormat) -> str:
    if fmt == "mermaid":
        return mermaid(chart)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(diagram_svg(chart)) + "\n"
