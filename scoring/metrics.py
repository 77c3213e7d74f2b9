"""A call's conversation metrics, computed exactly from its events (no model, no randomness).

The caller is the rep practising (the agent plays the buyer), so "questions", "response gap" and
the filler count are the rep's. Each metric is shown beside the range managers already read
elsewhere (`TARGETS`).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from db.event_store import StoredEvent
from db.projections import project
from rapport.stats import percentile

__all__ = ["TARGETS", "Metrics", "Segment", "Target", "compute_metrics", "speech_segments"]

Speaker = Literal["caller", "agent"]
SIDES: tuple[Speaker, ...] = ("caller", "agent")

_FILLERS = re.compile(
    r"\b(?:um+|uh+|erm+|er|ah+|hmm+|you know|i mean|kind of|sort of|basically|literally)\b", re.IGNORECASE
)
_WORD = re.compile(r"[A-Za-z0-9']+")
_QUESTION = re.compile(r"[^.!?]*\?")


@dataclass(frozen=True)
class Segment:
    """One stretch of one side talking, in seconds from the start of the call."""

    speaker: Speaker
    start_s: float
    end_s: float
    # Agent segments: the caller talked over it and it was cut.
    interrupted: bool = False

    @property
    def seconds(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass(frozen=True)
class Target:
    low: float | None
    high: float | None
    note: str


# Usual ranges (Gong, Zoom Revenue Accelerator, Revenue.io), keyed by metric.
TARGETS: Mapping[str, Target] = {
    # The caller is the rep: top reps talk about 43% of the time, reps on average 65–75%.
    "talk_ratio": Target(0.35, 0.50, "the rep's share of talk time"),
    "questions": Target(11, 14, "questions per discovery call"),
    "speech_rate_wpm": Target(110, 150, "conversational pace"),
    "longest_monologue_s": Target(None, 150, "top reps rarely talk over 2.5 minutes at a stretch"),
    "interactivity_per_min": Target(3, None, "speaker switches per minute"),
    "response_gap_ms": Target(600, 2000, "patience: a pause before answering, not a rush"),
    "filler_words_per_min": Target(None, 3, "um, uh, you know…"),
    "agent_latency_ms": Target(None, 900, "the buyer's reply time (voice to voice, p50)"),
}


@dataclass(frozen=True)
class Metrics:
    duration_s: float
    talk_s: dict[str, float]
    talk_ratio: float | None
    longest_monologue_s: dict[str, float]
    questions: int
    interruptions: dict[str, int]
    speech_rate_wpm: dict[str, float | None]
    filler_words: dict[str, int]
    filler_words_per_min: float | None
    response_gap_ms: int | None
    interactivity_per_min: float | None
    agent_latency_ms: dict[str, int | None]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def speech_segments(events: Sequence[StoredEvent]) -> list[Segment]:
    """Who spoke when: the caller from the VAD's speech edges, the agent from the audio it played."""
    start = next((e.at for e in events if e.type == "call_started"), events[0].at if events else 0.0)
    segments: list[Segment] = []
    caller_from: float | None = None
    for event in events:
        data = event.data
        if event.type == "machine_transition" and data.get("machine") == "turn_taking":
            name = data.get("event")
            if name == "speech_started" and caller_from is None:
                caller_from = event.at
            elif name in ("speech_ended", "hangup") and caller_from is not None:
                segments.append(Segment("caller", caller_from - start, event.at - start))
                caller_from = None
        elif event.type == "agent_utterance":
            began = float(data.get("started_at", event.at))
            ended = float(data.get("ended_at", event.at))
            interrupted = bool(data.get("interrupted", False))
            segments.append(Segment("agent", began - start, ended - start, interrupted))
    if caller_from is not None:
        segments.append(Segment("caller", caller_from - start, events[-1].at - start))
    return sorted(segments, key=lambda s: s.start_s)


def _monologues(segments: Sequence[Segment], speaker: Speaker) -> float:
    """The longest run of one side's segments with no word from the other side in between."""
    longest, run_start, run_end = 0.0, None, 0.0
    for segment in segments:
        if segment.speaker != speaker:
            run_start = None
            continue
        if run_start is None:
            run_start, run_end = segment.start_s, segment.end_s
        run_end = max(run_end, segment.end_s)
        longest = max(longest, run_end - run_start)
    return round(longest, 2)


def _agent_interruptions(segments: Sequence[Segment]) -> int:
    """Agent audio that began while the caller was talking."""
    callers = [s for s in segments if s.speaker == "caller"]
    return sum(
        1
        for agent in segments
        if agent.speaker == "agent" and any(c.start_s < agent.start_s < c.end_s for c in callers)
    )


def _response_gaps(segments: Sequence[Segment]) -> list[float]:
    """Each time the agent finished a reply and the caller spoke next: how long the caller waited."""
    gaps: list[float] = []
    for before, after in itertools.pairwise(segments):
        if before.speaker == "agent" and after.speaker == "caller" and not before.interrupted:
            gaps.append((after.start_s - before.end_s) * 1000)
    return [g for g in gaps if g >= 0]


def _per_minute(count: float, seconds: float) -> float | None:
    return round(count / (seconds / 60), 2) if seconds > 0 else None


def compute_metrics(call_id: str, events: Sequence[StoredEvent]) -> Metrics:
    segments = speech_segments(events)
    started = next((e.at for e in events if e.type == "call_started"), events[0].at if events else 0.0)
    ended = next((e.at for e in reversed(events) if e.type == "call_ended"), events[-1].at if events else 0.0)
    duration = max(0.0, ended - started)
    talk: dict[str, float] = {
        side: round(sum(s.seconds for s in segments if s.speaker == side), 2) for side in SIDES
    }
    said = {
        "caller": [str(e.data.get("text", "")) for e in events if e.type == "caller_utterance"],
        "agent": [str(e.data.get("heard_text", "")) for e in events if e.type == "agent_utterance"],
    }
    words = {side: sum(len(_WORD.findall(text)) for text in texts) for side, texts in said.items()}
    fillers = {side: sum(len(_FILLERS.findall(text)) for text in texts) for side, texts in said.items()}
    switches = sum(1 for a, b in itertools.pairwise(segments) if a.speaker != b.speaker)
    gaps = _response_gaps(segments)
    latencies = [t.latency_ms for t in project(call_id, events).turns if t.latency_ms is not None]
    total_talk = talk["caller"] + talk["agent"]
    return Metrics(
        duration_s=round(duration, 2),
        talk_s=talk,
        talk_ratio=round(talk["caller"] / total_talk, 3) if total_talk > 0 else None,
        longest_monologue_s={side: _monologues(segments, side) for side in SIDES},
        questions=sum(len(_QUESTION.findall(text)) for text in said["caller"]),
        interruptions={
            "caller": sum(1 for s in segments if s.speaker == "agent" and s.interrupted),
            "agent": _agent_interruptions(segments),
        },
        speech_rate_wpm={side: _per_minute(words[side], talk[side]) for side in SIDES},
        filler_words=fillers,
        filler_words_per_min=_per_minute(fillers["caller"], talk["caller"]),
        response_gap_ms=round(statistics.median(gaps)) if gaps else None,
        interactivity_per_min=_per_minute(switches, duration),
        agent_latency_ms={
            "p50": round(percentile(latencies, 50)) if latencies else None,
            "p95": round(percentile(latencies, 95)) if latencies else None,
            "replies": len(latencies),
        },
    )
