"""What the call page shows, assembled from the stored call: pure functions of its rows and events.

The page's data comes only from the real records (the projection, the event log, the scorecard),
so what a manager sees is what `rapport replay` and `rapport scorecard` would say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg
from markupsafe import Markup

from dashboard.diagrams import Diagram, call_diagram
from dashboard.plots import LatencyBar, latency_svg, timeline_svg
from db.access import ListedCall
from db.event_store import StoredEvent, read_events
from db.projections import Projection, TurnRow, load_projection
from db.scorecards import Scorecard, load_scorecard
from scoring.metrics import TARGETS, speech_segments

__all__ = [
    "CallView",
    "MetricRow",
    "Stage",
    "TranscriptLine",
    "load_call_view",
    "metric_rows",
    "split_heard",
    "statechart_path",
    "transcript",
]

Format = Callable[[float], str]


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def _unit(fmt: str) -> Format:
    return lambda v: fmt.format(v)


@dataclass(frozen=True)
class MetricSpec:
    key: str  # the TARGETS key, or "" for a fact without a usual range
    label: str
    path: tuple[str, ...]  # where the value sits in the metrics JSON
    fmt: Format


# The rep is the caller: ranges apply to the rep's side; the buyer's figures are context.
_WITH_TARGETS = (
    MetricSpec("talk_ratio", "Talk ratio (rep's share)", ("talk_ratio",), _pct),
    MetricSpec("questions", "Questions asked by the rep", ("questions",), _unit("{:.0f}")),
    MetricSpec("speech_rate_wpm", "Speech rate (rep)", ("speech_rate_wpm", "caller"), _unit("{:.0f} wpm")),
    MetricSpec(
        "longest_monologue_s", "Longest monologue (rep)", ("longest_monologue_s", "caller"), _unit("{:.1f} s")
    ),
    MetricSpec("interactivity_per_min", "Interactivity", ("interactivity_per_min",), _unit("{:.1f}/min")),
    MetricSpec("response_gap_ms", "Response gap (patience)", ("response_gap_ms",), _unit("{:.0f} ms")),
    MetricSpec("filler_words_per_min", "Filler words (rep)", ("filler_words_per_min",), _unit("{:.1f}/min")),
    MetricSpec(
        "agent_latency_ms", "Buyer reply latency p50", ("agent_latency_ms", "p50"), _unit("{:.0f} ms")
    ),
)
_FACTS = (
    MetricSpec("", "Duration", ("duration_s",), _unit("{:.1f} s")),
    MetricSpec("", "Talk time: rep", ("talk_s", "caller"), _unit("{:.1f} s")),
    MetricSpec("", "Talk time: buyer", ("talk_s", "agent"), _unit("{:.1f} s")),
    MetricSpec("", "Rep cut the buyer off", ("interruptions", "caller"), _unit("{:.0f}×")),
    MetricSpec("", "Buyer talked over the rep", ("interruptions", "agent"), _unit("{:.0f}×")),
    MetricSpec("", "Filler words (rep, count)", ("filler_words", "caller"), _unit("{:.0f}")),
    MetricSpec("", "Longest monologue (buyer)", ("longest_monologue_s", "agent"), _unit("{:.1f} s")),
    MetricSpec("", "Buyer reply latency p95", ("agent_latency_ms", "p95"), _unit("{:.0f} ms")),
)


@dataclass(frozen=True)
class MetricRow:
    label: str
    value: str
    target: str
    note: str
    # ok: inside the usual range; off: outside it; none: no value or no range.
    status: Literal["ok", "off", "none"]


@dataclass(frozen=True)
class TranscriptLine:
    seq: int
    speaker: str
    at_s: float
    # For an interrupted agent turn: `heard` reached the caller, `cut` did not.
    heard: str
    cut: str
    interrupted: bool
    latency_ms: int | None


@dataclass(frozen=True)
class Stage:
    name: str
    # The conversation event that led here (None for the first stage) and when, seconds into the call.
    via: str | None
    at_s: float


@dataclass(frozen=True)
class CallView:
    call: ListedCall
    projection: Projection
    scorecard: Scorecard | None
    metrics: tuple[MetricRow, ...]
    facts: tuple[MetricRow, ...]
    timeline: Markup
    latency: Markup
    transcript: tuple[TranscriptLine, ...]
    path: tuple[Stage, ...]
    # The conversation chart drawn with this call's path; None without a statechart folder.
    diagram: Diagram | None = None


def _lookup(metrics: Mapping[str, Any], path: Sequence[str]) -> float | None:
    value: Any = metrics
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _row(spec: MetricSpec, metrics: Mapping[str, Any]) -> MetricRow:
    value = _lookup(metrics, spec.path)
    target = TARGETS.get(spec.key)
    shown = spec.fmt(value) if value is not None else "—"
    if target is None:
        return MetricRow(spec.label, shown, "", "", "none")
    low = spec.fmt(target.low) if target.low is not None else None
    high = spec.fmt(target.high) if target.high is not None else None
    span = f"{low}–{high}" if low and high else f"≥ {low}" if low else f"≤ {high}"
    if value is None:
        return MetricRow(spec.label, shown, span, target.note, "none")
    inside = (target.low is None or value >= target.low) and (target.high is None or value <= target.high)
    return MetricRow(spec.label, shown, span, target.note, "ok" if inside else "off")


def metric_rows(metrics: Mapping[str, Any]) -> tuple[tuple[MetricRow, ...], tuple[MetricRow, ...]]:
    """The metrics beside their usual ranges, and the other facts of the call."""
    return tuple(_row(s, metrics) for s in _WITH_TARGETS), tuple(_row(s, metrics) for s in _FACTS)


_PUNCT = re.compile(r"[^\w']+")


def split_heard(text: str, heard: str) -> tuple[str, str]:
    """An interrupted reply as (what the caller heard, what was cut), on word boundaries."""
    if text.startswith(heard):
        return heard, text[len(heard) :].strip()
    words, heard_words = text.split(), heard.split()

    def same(a: str, b: str) -> bool:
        return _PUNCT.sub("", a).lower() == _PUNCT.sub("", b).lower()

    n = 0
    while n < min(len(words), len(heard_words)) and same(words[n], heard_words[n]):
        n += 1
    # The heard text is the recorded fact; the rest of the generated reply is what was cut.
    return heard, " ".join(words[n:] if n else words[len(heard_words) :])


def transcript(turns: Sequence[TurnRow], started_at: float) -> tuple[TranscriptLine, ...]:
    lines = []
    for turn in turns:
        if turn.speaker == "agent" and turn.interrupted:
            heard, cut = split_heard(turn.text, turn.heard_text or "")
        else:
            heard, cut = turn.text, ""
        lines.append(
            TranscriptLine(
                turn.seq, turn.speaker, turn.at - started_at, heard, cut, turn.interrupted, turn.latency_ms
            )
        )
    return tuple(lines)


def statechart_path(events: Sequence[StoredEvent], started_at: float) -> tuple[Stage, ...]:
    """The conversation machine's stages in order (the turn-taking machine is not a stage)."""
    moves = [
        e
        for e in events
        if e.type == "machine_transition"
        and e.data.get("machine") not in (None, "turn_taking")
        and e.data.get("source") != e.data.get("dest")
    ]
    if not moves:
        return ()
    path = [Stage(str(moves[0].data.get("source")), None, 0.0)]
    path += [Stage(str(e.data.get("dest")), str(e.data.get("event")), e.at - started_at) for e in moves]
    return tuple(path)


def _latency_bars(turns: Sequence[TurnRow], started_at: float) -> list[LatencyBar]:
    agent = [t for t in turns if t.speaker == "agent"]
    return [
        LatencyBar(i, t.at - started_at, t.latency_ms)
        for i, t in enumerate(agent, 1)
        if t.latency_ms is not None
    ]


async def load_call_view(
    pool: asyncpg.Pool, call: ListedCall, statechart_dir: Path | None = None
) -> CallView | None:
    """Everything the call page shows, for a call the viewer may see (checked by the caller)."""
    projection = await load_projection(pool, call.call_id)
    if projection is None:
        return None
    events = await read_events(pool, call.call_id)
    scorecard = await load_scorecard(pool, call.call_id)
    started = projection.call.started_at if projection.call.started_at is not None else events[0].at
    ended = projection.call.ended_at if projection.call.ended_at is not None else events[-1].at
    metrics, facts = metric_rows(scorecard.metrics) if scorecard is not None else ((), ())
    latency_target = TARGETS["agent_latency_ms"].high if "agent_latency_ms" in TARGETS else None
    return CallView(
        call=call,
        projection=projection,
        scorecard=scorecard,
        metrics=metrics,
        facts=facts,
        timeline=timeline_svg(speech_segments(events), ended - started),
        latency=latency_svg(_latency_bars(projection.turns, started), latency_target),
        transcript=transcript(projection.turns, started),
        path=statechart_path(events, started),
        diagram=(
            call_diagram(
                statechart_dir, projection.call.statechart, events, projection.call.statechart_version
            )
            if statechart_dir is not None and projection.call.statechart
            else None
        ),
    )
