"""Recorded calls for the dashboard's tests, stored through the real write path.

A `CallScript` emits the events a real call records (call_started v2 with the rep and wall time,
the turn-taking machine's transitions, the conversation machine's stages, utterances with what
was heard, call_ended) on a made-up clock; `store` appends them and folds them into the
projections in one transaction, as the worker's activity does; `score` stores the scorecard as
the post-call workflow does, with metrics from `compute_metrics`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from db.event_store import StoredEvent, append_events
from db.projections import apply_events
from db.scorecards import save_metrics, save_rubric
from scoring.metrics import compute_metrics

__all__ = ["RUBRIC", "CallScript", "make_org", "sales_call", "score", "store", "unique"]

# The call clock's origin: events carry monotonic seconds, not wall time.
T0 = 5000.0

RUBRIC: list[dict[str, Any]] = [
    {
        "criterion": "discovery",
        "score": 0.75,
        "reason": "Asked about routes and fuel before pitching.",
        "evidence": [{"quote": "How do your drivers plan routes today?", "at_s": 6.2}],
        "checks": [{"check": "Asked about the current process", "passed": True}],
    },
    {
        "criterion": "objection handling",
        "score": 0.5,
        "reason": "Answered price with savings, not with the buyer's pains.",
        "evidence": [{"quote": "It pays for itself in fuel.", "at_s": 21.0}],
        "checks": [{"check": "Tied the answer to a stated pain", "passed": False}],
    },
    {
        "criterion": "next steps",
        "score": 1.0,
        "reason": "Proposed a demo with the dispatch lead on Thursday.",
        "evidence": [{"quote": "Could we book a demo with your dispatch lead Thursday?", "at_s": 30.5}],
        "checks": [],
    },
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class CallScript:
    """Builds one call's events in order; each method advances the call clock like the real call."""

    def __init__(
        self, call_id: str, *, rep_id: str | None, wall_time: float, statechart: str = "sales_roleplay"
    ) -> None:
        self.call_id = call_id
        self.statechart = statechart
        self.events: list[StoredEvent] = []
        self.t = 0.0
        self._turn_state = "listening"
        self._stage = "opening"
        self._add(
            "call_started",
            version=2,
            call_id=call_id,
            statechart=statechart,
            statechart_version="test",
            turn_taking_version="test",
            caller_number="+15555550101",
            rep_id=rep_id,
            wall_time=wall_time,
        )

    def _add(self, kind: str, *, version: int = 1, **data: Any) -> None:
        self.events.append(StoredEvent(self.call_id, len(self.events) + 1, kind, version, T0 + self.t, data))

    def _turn(self, event: str, dest: str) -> None:
        self._add(
            "machine_transition", machine="turn_taking", event=event, source=self._turn_state, dest=dest
        )
        self._turn_state = dest

    def stage(self, event: str, dest: str) -> CallScript:
        """The conversation machine moves on (the LLM's tool call)."""
        self._add("machine_transition", machine=self.statechart, event=event, source=self._stage, dest=dest)
        self._stage = dest
        return self

    def agent(self, text: str, seconds: float, *, after: float = 0.7) -> CallScript:
        """A reply played to its end, starting `after` seconds from now."""
        self.t += after
        started = T0 + self.t
        self._turn("agent_audio_started", "agent_speaking")
        self.t += seconds
        self._turn("agent_audio_ended", "listening")
        self._add(
            "agent_utterance",
            text=text,
            heard_text=text,
            interrupted=False,
            started_at=started,
            ended_at=T0 + self.t,
        )
        return self

    def rep(self, text: str, seconds: float, *, after: float = 0.9) -> CallScript:
        """The rep speaks; the transcript lands and the agent starts thinking."""
        self.t += after
        self._turn("speech_started", "user_speaking")
        self.t += seconds
        self._finish_rep(text)
        return self

    def _utterance(self, text: str, heard: str, started: float, *, interrupted: bool) -> None:
        self._add(
            "agent_utterance",
            text=text,
            heard_text=heard,
            interrupted=interrupted,
            started_at=started,
            ended_at=T0 + self.t,
        )

    def _finish_rep(self, text: str) -> None:
        self._turn("speech_ended", "endpointing")
        self.t += 0.3
        self._turn("transcript", "thinking")
        self._add("caller_utterance", text=text)

    def barge_in(self, text: str, *, heard_words: int, rep_text: str, rep_seconds: float) -> CallScript:
        """The agent starts a reply; the rep talks over it after `heard_words` words and it is cut."""
        self.t += 0.7
        started = T0 + self.t
        self._turn("agent_audio_started", "agent_speaking")
        self.t += 0.4 * heard_words
        self._turn("speech_started", "barge_in_candidate")
        self.t += 0.6
        self._turn("barge_in_threshold", "interrupted")
        heard = " ".join(text.split()[:heard_words])
        self._add(
            "agent_utterance",
            text=text,
            heard_text=heard,
            interrupted=True,
            started_at=started,
            ended_at=T0 + self.t,
        )
        self._turn("interrupt_done", "user_speaking")
        self.t += rep_seconds
        self._finish_rep(rep_text)
        return self

    def end(self, reason: str = "caller", *, after: float = 1.0) -> list[StoredEvent]:
        self.t += after
        self._turn("hangup", "ended")
        self._add("call_ended", reason=reason)
        return self.events


def sales_call(call_id: str, *, rep_id: str | None, wall_time: float) -> list[StoredEvent]:
    """A short discovery call with one barge-in and a path through four stages."""
    return (
        CallScript(call_id, rep_id=rep_id, wall_time=wall_time)
        .agent("Northwind Freight, this is Dana.", 1.8, after=0.5)
        .rep("Hi Dana, this is Jordan from Routewise. I help fleets cut fuel costs. Got a minute?", 4.0)
        .stage("rep_stated_purpose", "discovery")
        .agent("Sure, a minute. What is this about?", 2.0)
        .rep("How do your drivers plan routes today? Is it mostly spreadsheets?", 3.5)
        .barge_in(
            "Mostly spreadsheets, and honestly our dispatchers spend half the morning on it.",
            heard_words=4,
            rep_text="And what does that cost you in fuel, roughly?",
            rep_seconds=2.6,
        )
        .agent("Fuel went up about eighteen percent this year.", 2.4, after=1.1)
        .rep("Our platform pays for itself in fuel.", 2.2)
        .stage("rep_pitched", "objections")
        .agent("It sounds expensive, and we are in a contract until spring.", 2.8)
        .rep("Could we book a demo with your dispatch lead Thursday?", 3.0)
        .stage("objections_handled", "closing")
        .agent("Thursday works. Send me an invite.", 2.0, after=0.8)
        .stage("next_step_agreed", "wrap_up")
        .end()
    )


async def store(pool: asyncpg.Pool, events: Sequence[StoredEvent]) -> None:
    """Append and project in one transaction, as the worker's store_events activity does."""
    async with pool.acquire() as conn, conn.transaction():
        await append_events(conn, events)
        await apply_events(conn, events[0].call_id, events)


async def score(
    pool: asyncpg.Pool,
    events: Sequence[StoredEvent],
    *,
    rubric: Sequence[Mapping[str, Any]] | None = None,
    error: str | None = None,
    overall: float | None = None,
) -> None:
    """Metrics first; then the rubric (or its failure) unless neither is given (still pending)."""
    call_id = events[0].call_id
    await save_metrics(pool, call_id, compute_metrics(call_id, events).as_json())
    if rubric is not None or error is not None:
        await save_rubric(
            pool, call_id, rubric_name="sales_discovery", criteria=rubric or [], score=overall, error=error
        )


async def make_org(pool: asyncpg.Pool, teams: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, str]]:
    """A new organisation with the given teams and reps (by name); returns its id and {name: id}."""
    org_id = unique("org")
    await pool.execute("INSERT INTO orgs (org_id, name) VALUES ($1, $1)", org_id)
    ids: dict[str, str] = {}
    for team, reps in teams.items():
        ids[team] = unique(team)
        await pool.execute(
            "INSERT INTO teams (team_id, org_id, name) VALUES ($1, $2, $3)", ids[team], org_id, team
        )
        for rep in reps:
            ids[rep] = unique(rep)
            await pool.execute(
                "INSERT INTO reps (rep_id, team_id, name) VALUES ($1, $2, $3)",
                ids[rep],
                ids[team],
                rep.title(),
            )
    return org_id, ids
