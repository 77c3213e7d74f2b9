"""A chart as an SVG diagram, drawn in pure Python: no network service, no external binary.

`svg_layout` places the boxes, arrows and labels; this module writes the markup. Transitions
between the same two boxes share one arrow whose label lists them; internal transitions and
self-transitions are loops on the box's right. A highlighted path (a call's transitions) is drawn
thick and numbered in order, over the visited states. Styling is a `<style>` inside the SVG, so
the file stands alone and the dashboard can inline it.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from statecharts.edges import (
    Edge,
    StatePath,
    Taken,
    chart_edges,
    children,
    find_edge,
    initial_leaf,
    leaf_of,
    path_name,
    walk_states,
)
from statecharts.records import Statechart
from statecharts.svg_layout import LINE_H, Box, Extent, LabelPlacer, curve_between, layout

__all__ = ["STYLE_SHA256", "diagram_svg"]

_FONT = 13
_PAD = 12.0
_SPOTS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)  # where along its curve a label may sit, best first

_STYLE = """
.sc-box{fill:#fff;stroke:#64748b;stroke-width:1.4}
.sc-box.sc-final{stroke-width:3.2;stroke:#334155}
.sc-box.sc-initial{fill:#f1f5f9}
.sc-box.sc-visited{fill:#dbeafe;stroke:#2563eb;stroke-width:2.2}
.sc-frame{fill:none;stroke:#94a3b8;stroke-dasharray:6 4}
.sc-name{font:600 13px system-ui,-apple-system,'Segoe UI',sans-serif;fill:#1f2937}
.sc-frame-name{font:600 12px system-ui,-apple-system,'Segoe UI',sans-serif;fill:#64748b}
.sc-edge{fill:none;stroke:#94a3b8;stroke-width:1.3}
.sc-edge.sc-taken{stroke:#2563eb;stroke-width:3}
.sc-head{fill:#94a3b8}
.sc-head.sc-taken{fill:#2563eb}
.sc-label{font:11px system-ui,-apple-system,'Segoe UI',sans-serif;fill:#475569;
  paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.sc-label.sc-taken{fill:#1d4ed8;font-weight:700}
.sc-start{fill:#1f2937}
"""
# The <style> element's hash, as a Content-Security-Policy allows an inline style by (a page that
# embeds the diagram and forbids inline styles names it in style-src).
STYLE_SHA256 = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def _head(x: float, y: float, angle: float, css: str) -> str:
    size = 8.0
    left = (x - size * math.cos(angle - 0.4), y - size * math.sin(angle - 0.4))
    right = (x - size * math.cos(angle + 0.4), y - size * math.sin(angle + 0.4))
    return (
        f'<path class="sc-head{css}" d="M{x:.1f},{y:.1f} L{left[0]:.1f},{left[1]:.1f} '
        f'L{right[0]:.1f},{right[1]:.1f} Z"/>'
    )


def _label(x: float, y: float, lines: list[tuple[str, bool]], anchor: str) -> str:
    top = y - (len(lines) - 1) * LINE_H / 2
    return "".join(
        f'<text class="sc-label{" sc-taken" if taken else ""}" x="{x:.1f}" y="{top + i * LINE_H + 4:.1f}"'
        f' text-anchor="{anchor}">{escape(text)}</text>'
        for i, (text, taken) in enumerate(lines)
    )


def diagram_svg(chart: Statechart, taken: Sequence[Taken] = ()) -> Markup:
    """The chart as a standalone SVG; `taken` (a call's transitions, in order) is highlighted."""
    edges = chart_edges(chart)
    boxes = layout(chart, edges)
    leaves = {path for path, state in walk_states(chart) if not children(state)}
    extent = Extent()
    for box in boxes.values():
        extent.add(Box(box.x, box.y - 30, box.w, box.h + 30))  # 30: the initial marker above
    steps: dict[Edge, list[int]] = {}
    visited: set[StatePath] = set()
    start = initial_leaf(chart)
    if taken and start is not None:
        visited.add(start)
    for number, record in enumerate(taken, 1):
        edge = find_edge(edges, record)
        if edge is not None:
            steps.setdefault(edge, []).append(number)
            visited.add(edge.source)
            if edge.target is not None:
                visited.add(edge.target)
                visited.add(leaf_of(chart, edge.target))
    body: list[str] = []
    for path, state in walk_states(chart):
        if children(state) and path in boxes:
            box = boxes[path]
            body.append(
                f'<g class="sc-compound" data-state="{escape(path_name(path))}">'
                f'<rect class="sc-frame" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}"'
                f' height="{box.h:.1f}" rx="14"/><text class="sc-frame-name" x="{box.x + 10:.1f}"'
                f' y="{box.y + 16:.1f}">{escape(path[-1])}</text></g>'
            )
    # One arrow per pair of boxes; its label lists every transition it stands for.
    pairs: dict[tuple[StatePath, StatePath], list[Edge]] = {}
    for edge in edges:
        target = edge.target if edge.target is not None else edge.source
        if edge.source in boxes and target in boxes:
            pairs.setdefault((edge.source, target), []).append(edge)

    def lines(group: list[Edge]) -> list[tuple[str, bool]]:
        out = []
        for edge in group:
            mark = " ".join(f"#{n}" for n in steps.get(edge, []))
            text = edge.label if edge.target is not None else f"{edge.label} (internal)"
            out.append((f"{mark} {text}" if mark else text, edge in steps))
        return out

    leaf_boxes = [b for p, b in boxes.items() if p in leaves]
    placer = LabelPlacer(leaf_boxes, extent)
    middle_x = sum(b.cx for b in leaf_boxes) / max(1, len(leaf_boxes))
    row_h = min(
        (abs(a.cy - b.cy) for a in leaf_boxes for b in leaf_boxes if abs(a.cy - b.cy) > 1), default=1.0
    )
    # Self-loops' labels have one place (beside their box), then the path taken gets the best spots.
    order = sorted(pairs, key=lambda k: (k[0] != k[1], not any(e in steps for e in pairs[k])))
    arrows: dict[tuple[StatePath, StatePath], str] = {}
    for source, target in order:
        group = pairs[(source, target)]
        css = " sc-taken" if any(e in steps for e in group) else ""
        text = lines(group)
        if source == target:
            box = boxes[source]
            x, y = box.x + box.w, box.cy
            lx, ly = placer.place([(x + 40, y)], [t for t, _ in text], "start")
            drawn = (
                f'<path class="sc-edge{css}" d="M{x:.1f},{y - 10:.1f} C{x + 34:.1f},{y - 34:.1f}'
                f' {x + 34:.1f},{y + 34:.1f} {x:.1f},{y + 10:.1f}"/>'
                + _head(x, y + 10, math.pi * 0.85, css)
                + _label(lx, ly, text, "start")
            )
        else:
            curve = curve_between(
                boxes[source],
                boxes[target],
                middle_x=middle_x,
                row_h=row_h,
                reverse_too=(target, source) in pairs,
            )
            extent.add(Box(*curve.control, 0, 0))
            lx, ly = placer.place([curve.at(t) for t in _SPOTS], [t for t, _ in text], "middle")
            drawn = (
                f'<path class="sc-edge{css}" d="{curve.d}"/>'
                + _head(*curve.end, curve.end_angle, css)
                + _label(lx, ly, text, "middle")
            )
        data = f' data-source="{escape(path_name(source))}" data-target="{escape(path_name(target))}"'
        events = escape(" ".join(e.event for e in group))
        arrows[(source, target)] = f'<g class="sc-transition{css}"{data} data-events="{events}">{drawn}</g>'
    # In the order written, so the markup reads like the definition.
    body += [arrows[key] for key in pairs]
    for path, state in walk_states(chart):
        if children(state) or path not in boxes:
            continue
        box = boxes[path]
        css = "sc-box" + (" sc-final" if state.final else "") + (" sc-initial" if path == start else "")
        css += " sc-visited" if path in visited else ""
        tip = f"<title>{escape(state.description)}</title>" if state.description else ""
        body.append(
            f'<g class="sc-state" data-state="{escape(path_name(path))}">{tip}'
            f'<rect class="{css}" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}"'
            f' rx="12"/><text class="sc-name" x="{box.cx:.1f}" y="{box.cy + 4.5:.1f}"'
            f' text-anchor="middle">{escape(path[-1])}</text></g>'
        )
    if start is not None and start in boxes:
        box = boxes[start]
        body.append(
            f'<g class="sc-initial-marker"><circle class="sc-start" cx="{box.cx:.1f}" cy="{box.y - 22:.1f}"'
            f' r="6"/><path class="sc-edge" d="M{box.cx:.1f},{box.y - 16:.1f}'
            f' L{box.cx:.1f},{box.y - 2:.1f}"/>' + _head(box.cx, box.y, math.pi / 2, "") + "</g>"
        )
    label = f"statechart {chart.id}" + (f", {len(taken)} transitions highlighted" if taken else "")
    x0, y0 = extent.x0 - _PAD, extent.y0 - _PAD
    width, height = extent.x1 - x0 + _PAD, extent.y1 - y0 + _PAD
    return Markup(
        f'<svg class="statechart" xmlns="http://www.w3.org/2000/svg"'
        f' viewBox="{x0:.0f} {y0:.0f} {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}"'
        f' font-size="{_FONT}"><style>{_STYLE}</style>' + "".join(body) + "</svg>"
    )
