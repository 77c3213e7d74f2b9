"""The call page's plots as inline SVG, drawn in Python: no chart library, no script, no network.

Both plots scale to their container (a viewBox, width 100%); colours come from the page's CSS
classes, so the markup carries only geometry and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from scoring.metrics import Segment

__all__ = ["LatencyBar", "barge_ins", "clock", "latency_svg", "timeline_svg"]

WIDTH = 960
_LEFT = 92  # room for the lane labels
_RIGHT = 16
_NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800)


@dataclass(frozen=True)
class LatencyBar:
    reply: int  # 1-based number of the agent reply
    at_s: float  # when it started, seconds into the call
    latency_ms: int


def clock(seconds: float) -> str:
    """m:ss for axis labels and timestamps."""
    whole = max(0, round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _tick_step(span: float, most: int = 10) -> float:
    return next((s for s in _NICE_STEPS if span / s <= most), _NICE_STEPS[-1])


def _svg(height: int, label: str, css: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="plot {css}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img"'
        f' aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def barge_ins(segments: Sequence[Segment]) -> list[float]:
    """When the caller cut the agent off: the start of the caller's speech inside a cut reply."""
    marks = []
    callers = [s for s in segments if s.speaker == "caller"]
    for agent in (s for s in segments if s.speaker == "agent" and s.interrupted):
        # The caller's speech began before the agent's audio stopped (the cut follows the barge-in).
        over = [c.start_s for c in callers if agent.start_s <= c.start_s <= agent.end_s]
        marks.append(over[0] if over else agent.end_s)
    return marks


def timeline_svg(segments: Sequence[Segment], duration_s: float) -> Markup:
    """Who spoke when: one lane per side, cut agent replies outlined, barge-ins marked in red."""
    span = max(duration_s, max((s.end_s for s in segments), default=0.0), 1.0)
    plot_w = WIDTH - _LEFT - _RIGHT

    def x(t: float) -> float:
        return _LEFT + plot_w * max(0.0, t) / span

    lanes = {"caller": (18, "Rep"), "agent": (56, "Buyer (AI)")}
    body = [
        f'<text class="lane" x="{_LEFT - 8}" y="{y + 19}" text-anchor="end">{label}</text>'
        f'<rect class="lane-bg" x="{_LEFT}" y="{y}" width="{plot_w}" height="28"/>'
        for y, label in lanes.values()
    ]
    for seg in segments:
        y = lanes[seg.speaker][0]
        css = f"seg {seg.speaker}" + (" cut" if seg.interrupted else "")
        width = max(1.5, x(seg.end_s) - x(seg.start_s))
        tip = f"{'rep' if seg.speaker == 'caller' else 'buyer'} {clock(seg.start_s)}–{clock(seg.end_s)}"
        tip += " (cut off)" if seg.interrupted else ""
        body.append(
            f'<rect class="{css}" x="{x(seg.start_s):.1f}" y="{y}" width="{width:.1f}" height="28">'
            f"<title>{tip}</title></rect>"
        )
    for at in barge_ins(segments):
        body.append(
            f'<g class="barge-in"><line x1="{x(at):.1f}" x2="{x(at):.1f}" y1="10" y2="90"/>'
            f'<path d="M{x(at) - 5:.1f},4 L{x(at) + 5:.1f},4 L{x(at):.1f},12 Z"/>'
            f"<title>barge-in at {clock(at)}</title></g>"
        )
    step = _tick_step(span)
    ticks = [i * step for i in range(int(span // step) + 1)]
    body += [
        f'<line class="tick" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="88" y2="93"/>'
        f'<text class="axis" x="{x(t):.1f}" y="106" text-anchor="middle">{clock(t)}</text>'
        for t in ticks
    ]
    if not any(s.speaker == "caller" for s in segments):
        body.append(f'<text class="note" x="{_LEFT + 8}" y="37">no speech from the rep</text>')
    return _svg(112, "who spoke when", "timeline", body)


def latency_svg(bars: Sequence[LatencyBar], target_ms: float | None) -> Markup:
    """The buyer's latency per reply (end of the rep's speech to its first audio), target dashed."""
    height, top, bottom = 200, 14, 160
    if not bars:
        return _svg(
            60, "reply latency", "latency", ['<text class="note" x="12" y="34">no measured replies</text>']
        )
    top_ms = max(max(b.latency_ms for b in bars), target_ms or 0) * 1.15
    plot_w = WIDTH - _LEFT - _RIGHT
    slot = plot_w / len(bars)

    def y(ms: float) -> float:
        return bottom - (bottom - top) * ms / top_ms

    body = []
    grid_step = _nice_ms(top_ms)
    for i in range(int(top_ms // grid_step) + 1):
        ms = i * grid_step
        body.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(ms):.1f}" y2="{y(ms):.1f}"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{ms:g} ms</text>'
        )
    for i, bar in enumerate(bars):
        over = target_ms is not None and bar.latency_ms > target_ms
        left = _LEFT + i * slot + slot * 0.2
        body.append(
            f'<rect class="bar{" over" if over else ""}" x="{left:.1f}" y="{y(bar.latency_ms):.1f}"'
            f' width="{slot * 0.6:.1f}" height="{bottom - y(bar.latency_ms):.1f}">'
            f"<title>reply {bar.reply} at {clock(bar.at_s)}: {bar.latency_ms} ms</title></rect>"
            f'<text class="axis" x="{left + slot * 0.3:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"#{bar.reply}</text>"
        )
    if target_ms is not None:
        body.append(
            f'<line class="target" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(target_ms):.1f}"'
            f' y2="{y(target_ms):.1f}"/>'
            # Under the axis, where no bar can hide it.
            f'<text class="target-label" x="{WIDTH - _RIGHT}" y="{height - 8}" text-anchor="end">'
            f"- - - target ≤ {target_ms:g} ms</text>"
        )
    body.append(f'<text class="axis" x="{_LEFT}" y="{height - 8}">reply</text>')
    return _svg(height, "reply latency", "latency", body)


def _nice_ms(top_ms: float) -> float:
    """A grid step giving about four lines up to `top_ms`."""
    return next(
        (s for s in (100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000) if top_ms / s <= 5), 60_000
    )
