"""Where the diagram's boxes, arrows and labels go: a small layered layout, no external tool.

Atomic and final states are boxes in rows by BFS depth from the initial state (final states share
the bottom row, so "hang up from anywhere" arrows all point down); within a row, states sit
under the states that lead to them (barycentres), children of one compound state side by side.
Arrows are quadratic curves: between neighbouring rows they bend a little to their left (so
A→B and B→A separate), across several rows they swing outwards around the rows between. Labels
go to the free spot along their curve that overlaps the fewest boxes and labels.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from statecharts.edges import Edge, StatePath, available_edges, children, initial_leaf, leaf_of, walk_states
from statecharts.records import Statechart

__all__ = ["LINE_H", "Box", "Curve", "Extent", "LabelPlacer", "curve_between", "label_width", "layout"]

CHAR_W = 7.4  # an average 13 px system-ui character: boxes are sized without measuring a font
LABEL_CHAR_W = 6.3  # the same at 11 px
LINE_H = 14.0
BOX_H = 40.0
FRAME_PAD = 14.0


def label_width(text: str) -> float:
    return len(text) * LABEL_CHAR_W


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def border(self, towards_x: float, towards_y: float) -> tuple[float, float]:
        """Where the line from the centre towards a point leaves the box."""
        dx, dy = towards_x - self.cx, towards_y - self.cy
        if dx == 0 and dy == 0:
            return self.cx, self.cy
        scale = min(
            (self.w / 2) / abs(dx) if dx else math.inf,
            (self.h / 2) / abs(dy) if dy else math.inf,
        )
        return self.cx + dx * scale, self.cy + dy * scale

    def overlap(self, other: Box) -> float:
        w = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        h = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return w * h if w > 0 and h > 0 else 0.0


def _rows(chart: Statechart, edges: list[Edge]) -> list[list[StatePath]]:
    """Leaves by BFS depth; final states last; unreachable ones after them."""
    leaves = [path for path, state in walk_states(chart) if not children(state)]
    start = initial_leaf(chart)
    depth: dict[StatePath, int] = {}
    if start is not None:
        depth[start] = 0
        todo = deque([start])
        while todo:
            leaf = todo.popleft()
            for edge in available_edges(edges, leaf):
                nxt = leaf_of(chart, edge.target) if edge.target is not None else leaf
                if nxt not in depth:
                    depth[nxt] = depth[leaf] + 1
                    todo.append(nxt)
    finals = {path for path, state in walk_states(chart) if state.final}
    bottom = max((depth[p] for p in leaves if p in depth and p not in finals), default=-1) + 1
    rows: list[list[StatePath]] = [[] for _ in range(bottom + 2)]
    for leaf in leaves:
        row = bottom if leaf in finals else depth.get(leaf, bottom + 1)
        rows[row].append(leaf)
    return [row for row in rows if row]


def _order(rows: list[list[StatePath]], edges: list[Edge], chart: Statechart) -> None:
    """Each row under its predecessors (barycentre of their columns), siblings kept together."""
    column: dict[StatePath, float] = {leaf: float(i) for i, leaf in enumerate(rows[0])}
    for r in range(1, len(rows)):
        earlier = {leaf for row in rows[:r] for leaf in row}

        def centre(leaf: StatePath, earlier: set[StatePath] = earlier) -> float:
            sources = [
                column[e.source]
                for e in edges
                if e.target is not None and leaf_of(chart, e.target) == leaf and e.source in earlier
            ]
            return sum(sources) / len(sources) if sources else math.inf

        own = {leaf: centre(leaf) for leaf in rows[r]}
        group: dict[StatePath, list[float]] = {}
        for leaf in rows[r]:
            group.setdefault(leaf[:-1] or leaf, []).append(own[leaf])
        rows[r].sort(key=lambda p: (min(group[p[:-1] or p]), own[p]))
        # Centred rows: a column index is relative to the middle, so rows of any width compare.
        for i, leaf in enumerate(rows[r]):
            column[leaf] = i - (len(rows[r]) - 1) / 2 + (len(rows[0]) - 1) / 2


def layout(chart: Statechart, edges: list[Edge]) -> dict[StatePath, Box]:
    """A box for every state: atomic and final ones in rows, compound ones framing their children."""
    rows = _rows(chart, edges)
    _order(rows, edges, chart)
    leaves = [leaf for row in rows for leaf in row]
    box_w = max([110.0, *(len(p[-1]) * CHAR_W + 28 for p in leaves)])
    # More transitions need more room for their labels between the boxes.
    longest = max((label_width(e.label) for e in edges), default=0.0)
    col_gap = min(max(longest * 0.75, 190.0), 300.0)
    row_gap = min(max(90 + 2.2 * len(edges), 112.0), 170.0)
    widest = max((len(row) for row in rows), default=1)
    width = widest * box_w + (widest - 1) * col_gap
    boxes: dict[StatePath, Box] = {}
    for r, row in enumerate(rows):
        left = (width - (len(row) * box_w + (len(row) - 1) * col_gap)) / 2
        for c, leaf in enumerate(row):
            boxes[leaf] = Box(left + c * (box_w + col_gap), r * (BOX_H + row_gap), box_w, BOX_H)
    for path, state in reversed(list(walk_states(chart))):
        inside = [b for p, b in boxes.items() if p[: len(path)] == path and p != path]
        if children(state) and inside:
            x0 = min(b.x for b in inside) - FRAME_PAD
            y0 = min(b.y for b in inside) - FRAME_PAD - 16  # 16: the frame's name
            x1 = max(b.x + b.w for b in inside) + FRAME_PAD
            y1 = max(b.y + b.h for b in inside) + FRAME_PAD
            boxes[path] = Box(x0, y0, x1 - x0, y1 - y0)
    return boxes


@dataclass(frozen=True)
class Curve:
    """A quadratic Bézier from `start` through control point `control` to `end`."""

    start: tuple[float, float]
    control: tuple[float, float]
    end: tuple[float, float]

    def at(self, t: float) -> tuple[float, float]:
        (x0, y0), (cx, cy), (x1, y1) = self.start, self.control, self.end
        u = 1 - t
        return u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1

    @property
    def d(self) -> str:
        (x0, y0), (cx, cy), (x1, y1) = self.start, self.control, self.end
        return f"M{x0:.1f},{y0:.1f} Q{cx:.1f},{cy:.1f} {x1:.1f},{y1:.1f}"

    @property
    def end_angle(self) -> float:
        return math.atan2(self.end[1] - self.control[1], self.end[0] - self.control[0])


def curve_between(a: Box, b: Box, *, middle_x: float, row_h: float, reverse_too: bool) -> Curve:
    dx, dy = b.cx - a.cx, b.cy - a.cy
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    span = round(abs(dy) / row_h)
    if span <= 1:
        # To the arrow's left: A→B and B→A take opposite sides; within a row, bow away from it.
        bend = 40.0 if span == 0 else 26.0
    else:
        # Around the rows in between, on the outer side; the upward one of a pair swings wider.
        outward = 1.0 if (a.cx + b.cx) / 2 >= middle_x else -1.0
        bend = (40.0 + 30.0 * (span - 1) + (25.0 if reverse_too and dy < 0 else 0.0)) * outward
        bend *= 1.0 if nx >= 0 else -1.0
    mx, my = (a.cx + b.cx) / 2 + nx * bend, (a.cy + b.cy) / 2 + ny * bend
    return Curve(a.border(mx, my), (mx, my), b.border(mx, my))


class Extent:
    """The area drawn so far, labels included: the SVG's viewBox grows to hold all of it."""

    def __init__(self) -> None:
        self.x0, self.y0, self.x1, self.y1 = math.inf, math.inf, -math.inf, -math.inf

    def add(self, box: Box) -> None:
        self.x0, self.y0 = min(self.x0, box.x), min(self.y0, box.y)
        self.x1, self.y1 = max(self.x1, box.x + box.w), max(self.y1, box.y + box.h)


class LabelPlacer:
    """Puts each label where it overlaps the fewest state boxes and labels already placed."""

    def __init__(self, obstacles: Sequence[Box], extent: Extent) -> None:
        self._boxes = [Box(b.x - 4, b.y - 4, b.w + 8, b.h + 8) for b in obstacles]
        self._labels: list[Box] = []
        self._extent = extent

    @staticmethod
    def _bounds(x: float, y: float, lines: Sequence[str], anchor: str) -> Box:
        w = max(label_width(text) for text in lines)
        h = len(lines) * LINE_H
        return Box(x - w / 2 if anchor == "middle" else x, y - h / 2, w, h)

    def place(
        self, spots: Sequence[tuple[float, float]], lines: Sequence[str], anchor: str
    ) -> tuple[float, float]:
        """The best of `spots` (in order of preference) for a label's centre; it is then taken."""

        def cost(spot: tuple[float, float]) -> float:
            bounds = self._bounds(spot[0], spot[1], lines, anchor)
            return sum(bounds.overlap(o) for o in self._boxes) * 3 + sum(
                bounds.overlap(o) for o in self._labels
            )

        best = min(spots, key=cost)
        bounds = self._bounds(best[0], best[1], lines, anchor)
        self._labels.append(bounds)
        self._extent.add(bounds)
        return best
