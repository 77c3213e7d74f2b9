"""Scorecards: exact metrics from events, rubric files with FILE:LINE errors, the LLM's verdicts,
and the whole post-call path on the real worker, the real local model and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from temporalio.client import Client

from activities.webhook_signature import SIGNATURE_HEADER, sign, verify
from bench.llm_stand_in import MODEL, serve_llm
from db.event_store import StoredEvent
from db.scorecards import load_scorecard
from rapport.settings import ConfigError, Secret, Settings
from realtime.events import (
    AgentUtterance,
    CallEnded,
    CallerUtterance,
    CallEvent,
    CallStarted,
    MachineTransition,
)
from realtime.recorder import to_record
from scoring.judge import MalformedAnswer, parse_verdict
from scoring.metrics import compute_metrics, speech_segments
from scoring.rubric import RubricError, load_rubric, rubric_for
from tests.conftest import ROOT
from tests.loopback import serve_on_loopback
from tests.workflow_calls import post_call_result, start_call
from worker import build_worker
from workflows.records import CallInput, EventBatch

RUBRICS = ROOT / "scoring" / "rubrics"


def _turn(at: float, event: str, source: str, dest: str) -> MachineTransition:
    return MachineTransition(at, "turn_taking", event, source, dest)


def _reply(started: float, ended: float, text: str, heard: str | None = None) -> AgentUtterance:
    return AgentUtterance(
        ended, text, heard if heard is not None else text, heard is not None, started, ended
    )


def discovery_call(call_id: str) -> list[CallEvent]:
    """Ten seconds of a call whose every number can be worked out by hand.

    Agent 0–2 s; rep 3–6 s (a question); agent 7–9 s, cut at 8 s by the rep, who talks 8–10 s.
    """
    return [
        CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2", rep_id="jordan", wall_time=1_800_000_000.0),
        _reply(0.0, 2.0, "Northwind Freight, this is Dana."),
        _turn(3.0, "speech_started", "listening", "user_speaking"),
        _turn(6.0, "speech_ended", "user_speaking", "endpointing"),
        CallerUtterance(6.2, "Um, how do you plan routes today? And who decides?"),
        _reply(7.0, 8.0, "We use spreadsheets and it takes hours every day.", "We use spreadsheets"),
        _turn(8.0, "speech_started", "agent_speaking", "barge_in_candidate"),
        _turn(10.0, "speech_ended", "interrupted", "endpointing"),
        CallerUtterance(10.1, "Sorry, you know, could we book a demo?"),
        CallEnded(10.5, "caller"),
    ]


def _stored(call_id: str, events: list[CallEvent]) -> list[StoredEvent]:
    records = [to_record(i + 1, e) for i, e in enumerate(events)]
    return [StoredEvent(call_id, r.seq, r.type, r.version, r.at, r.data) for r in records]


def test_metrics_are_exact_for_a_call_worked_out_by_hand() -> None:
    """Talk time, ratio, monologues, questions, interruptions, fillers and gaps, to the millisecond."""
    metrics = compute_metrics("c", _stored("c", discovery_call("c"))).as_json()
    assert metrics["duration_s"] == 10.5
    assert metrics["talk_s"] == {"caller": 5.0, "agent": 3.0}
    assert metrics["talk_ratio"] == 0.625
    assert metrics["longest_monologue_s"] == {"caller": 3.0, "agent": 2.0}
    assert metrics["questions"] == 3
    assert metrics["interruptions"] == {"caller": 1, "agent": 0}
    assert metrics["filler_words"] == {"caller": 2, "agent": 0}
    assert metrics["filler_words_per_min"] == 24.0
    assert metrics["response_gap_ms"] == 1000  # agent ended at 2 s, the rep began at 3 s
    assert metrics["interactivity_per_min"] == round(3 / (10.5 / 60), 2)  # three changes of speaker
    assert metrics["agent_latency_ms"] == {"p50": 1000, "p95": 1000, "replies": 1}
    # Words the rep said over five seconds of talk; the agent's heard words over three.
    assert metrics["speech_rate_wpm"] == {"caller": round(18 / (5 / 60), 2), "agent": round(8 / (3 / 60), 2)}


def test_who_spoke_when_marks_the_cut_reply() -> None:
    """The timeline: caller segments from the VAD's edges, agent segments as played, cuts marked."""
    segments = speech_segments(_stored("c", discovery_call("c")))
    assert [(s.speaker, s.start_s, s.end_s, s.interrupted) for s in segments] == [
        ("agent", 0.0, 2.0, False),
        ("caller", 3.0, 6.0, False),
        ("agent", 7.0, 8.0, True),
        ("caller", 8.0, 10.0, False),
    ]


def test_a_call_with_no_caller_speech_has_metrics_without_divisions_by_zero() -> None:
    """Nothing said by the rep: zero counts, rates left empty rather than invented."""
    events = [CallStarted(0.0, "q", "sales_roleplay", "v1", "v2"), CallEnded(4.0, "caller")]
    metrics = compute_metrics("q", _stored("q", events)).as_json()
    assert metrics["talk_ratio"] is None and metrics["questions"] == 0
    assert metrics["speech_rate_wpm"] == {"caller": None, "agent": None}
    assert metrics["agent_latency_ms"] == {"p50": None, "p95": None, "replies": 0}


def test_the_shipped_rubric_loads_with_its_criteria_and_scores_both_statecharts() -> None:
    """sales_call: discovery, objection handling, next steps; yes/no checks; Rep and Buyer."""
    rubric = load_rubric(RUBRICS / "sales_call.yaml")
    assert [c.name for c in rubric.criteria] == ["discovery", "objection_handling", "next_steps"]
    assert all(c.checks for c in rubric.criteria) and (rubric.caller, rubric.agent) == ("Rep", "Buyer")
    assert rubric_for("inbound_qualification", RUBRICS).id == "sales_call"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "id: r\nstatecharts: [x]\ncriteria:\n  a:\n    checks: ['Is it?']\n    colour: red\n",
            ":6:5:",
            "unknown key 'colour'",
        ),
        (
            "id: r\nstatecharts: [x]\ncriteria:\n  a:\n    checks:\n      - It is good.\n",
            ":6:9:",
            "must be a yes/no question",
        ),
        (
            "id: other\nstatecharts: [x]\ncriteria:\n  a:\n    checks: ['Is it?']\n",
            ":1:5:",
            "must equal the file name 'r'",
        ),
        ("id: r\nstatecharts: [x]\ncriteria:\n  a:\n    description: no checks\n", ":4:3:", "needs 'checks'"),
        ("id: r\nstatecharts: [x]\ncriteria: {a: {checks: ['Is it?']}\n", ":4:1:", "YAML syntax error"),
        ("id: r\ncriteria:\n  a:\n    checks: ['Is it?']\n", ":1:1:", "missing required key 'statecharts'"),
        ("id: r\nstatecharts: &s [*s]\ncriteria: {}\n", ":2:18:", "aliases (*name) are not allowed"),
    ],
)
def test_a_rubric_file_with_errors_is_refused_with_file_and_line(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    """Each mistake a team can make in a rubric is named at its FILE:LINE:COL."""
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        load_rubric(path)
    assert f"{path}{where} " in str(caught.value) and message in str(caught.value)


def test_no_rubric_for_a_statechart_says_so_and_names_broken_files(tmp_path: Path) -> None:
    """A broken file that might have scored the call is reported with the missing rubric."""
    (tmp_path / "broken.yaml").write_text("id: broken\nstatecharts: [x\n", encoding="utf-8")
    with pytest.raises(RubricError) as caught:
        rubric_for("sales_roleplay", tmp_path)
    assert "broken.yaml:" in str(caught.value)
    assert "no rubric scores statechart 'sales_roleplay'" in str(caught.value)


def test_answers_are_yes_or_no_and_anything_else_is_malformed() -> None:
    """A check's answer starts YES or NO, in any case; prose is malformed."""
    assert parse_verdict("YES") is True and parse_verdict("no.") is False
    for answer in ("Sure, they did.", "Yesterday", ""):
        with pytest.raises(MalformedAnswer):
            parse_verdict(answer)


def _batch(events: list[CallEvent]) -> EventBatch:
    return EventBatch([to_record(i + 1, e) for i, e in enumerate(events)])


async def _record_call(temporal: Client, events_for: Any = discovery_call) -> str:
    call_id = f"call-{uuid.uuid4().hex}"
    handle = await start_call(temporal, CallInput(call_id), _batch(events_for(call_id)))
    await handle.result()
    return call_id


async def test_after_hang_up_the_scorecard_is_made_with_the_local_model_and_rapport_prints_it(
    temporal: Client, pool: asyncpg.Pool, worker: None, database_url: str
) -> None:
    """Metrics, a judged rubric whose evidence quotes the rep with timestamps, via `rapport scorecard`."""
    call_id = await _record_call(temporal)
    command = [sys.executable, "-m", "rapport.cli", "scorecard", call_id, "--json", "--wait", "120"]
    env = {**os.environ, "DATABASE_URL": database_url}
    shown = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=180
    )
    assert shown.returncode == 0, shown.stderr
    card = json.loads(shown.stdout)
    assert {"call_id", "metrics", "rubric"} <= set(card) and card["call_id"] == call_id
    assert card["rubric_status"] == "scored" and card["rubric_name"] == "sales_call"
    assert card["metrics"]["talk_ratio"] == 0.625
    assert [c["criterion"] for c in card["rubric"]] == ["discovery", "objection_handling", "next_steps"]
    for criterion in card["rubric"]:
        assert {"criterion", "score", "reason", "evidence"} <= set(criterion)
        assert 0 <= criterion["score"] <= 1
        rep_lines = {
            "Um, how do you plan routes today? And who decides?": 6.2,
            "Sorry, you know, could we book a demo?": 10.1,
        }
        assert all(rep_lines[e["quote"]] == e["at_s"] for e in criterion["evidence"])
    assert 0 <= card["score"] <= 1
    assert (await post_call_result(temporal, call_id)).rubric_status == "scored"


async def test_a_rubric_llm_answering_out_of_form_leaves_the_metrics_and_a_failed_mark(
    temporal: Client, pool: asyncpg.Pool, settings: Settings
) -> None:
    """A hosted model (a stand-in for a paid OpenAI-compatible API) that answers in prose: retried,
    then the scorecard keeps its exact metrics and says the rubric failed, and why."""
    async with serve_llm(0.0) as url:
        prose = replace(settings, llm_provider="openai_compatible", llm_base_url=url, llm_model=MODEL)
        async with build_worker(temporal, pool, settings=prose):
            call_id = await _record_call(temporal)
            result = await post_call_result(temporal, call_id)
    card = await load_scorecard(pool, call_id)
    assert card is not None and result.rubric_status == "failed" and card.rubric_status == "failed"
    assert card.metrics["talk_ratio"] == 0.625 and card.rubric == [] and card.score is None
    assert card.rubric_error is not None and "neither YES nor NO" in card.rubric_error


async def test_a_rep_who_said_nothing_scores_zero_without_asking_the_model(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """No caller speech: every check fails with the reason given, and the scorecard is final."""

    def silent(call_id: str) -> list[CallEvent]:
        return [
            CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"),
            _reply(0.0, 2.0, "Hello?"),
            CallEnded(9.0, "caller"),
        ]

    call_id = await _record_call(temporal, silent)
    assert (await post_call_result(temporal, call_id)).score == 0.0
    card = await load_scorecard(pool, call_id)
    assert card is not None and card.rubric_status == "scored"
    assert all(c["reason"] == "The Rep did not speak." and c["score"] == 0 for c in card.rubric)


async def test_a_call_that_ended_after_one_word_gets_a_whole_scorecard(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """One word from the rep, then hang-up: exact metrics and a judged rubric, nothing missing."""

    def one_word(call_id: str) -> list[CallEvent]:
        return [
            CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"),
            _turn(0.5, "speech_started", "listening", "user_speaking"),
            _turn(0.9, "speech_ended", "user_speaking", "endpointing"),
            CallerUtterance(1.0, "Hello?"),
            CallEnded(1.2, "caller"),
        ]

    call_id = await _record_call(temporal, one_word)
    result = await post_call_result(temporal, call_id)
    card = await load_scorecard(pool, call_id)
    assert card is not None and card.rubric_status == result.rubric_status == "scored"
    assert card.metrics["questions"] == 1 and card.metrics["talk_ratio"] == 1.0
    assert card.metrics["duration_s"] == 1.2 and card.metrics["agent_latency_ms"]["replies"] == 0
    assert {c["criterion"] for c in card.rubric} == {"discovery", "objection_handling", "next_steps"}
    # Whatever the model made of it, any evidence is the rep's one line.
    assert all(e["quote"] == "Hello?" for c in card.rubric for e in c["evidence"])


async def test_a_broken_rubric_file_fails_the_rubric_naming_file_and_line(
    temporal: Client, pool: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    """A team's edit that breaks the rubric: metrics still stored, the error is the file's FILE:LINE
    within the rubric folder (a scorecard's reader sees the file, not the server's paths)."""
    (tmp_path / "sales_call.yaml").write_text(
        "id: sales_call\nstatecharts: [sales_roleplay]\ncriteria:\n  a:\n    checks: [Not a question.]\n",
        encoding="utf-8",
    )
    async with build_worker(temporal, pool, settings=replace(settings, rubric_dir=tmp_path)):
        call_id = await _record_call(temporal)
        assert (await post_call_result(temporal, call_id)).rubric_status == "failed"
    card = await load_scorecard(pool, call_id)
    assert card is not None and card.metrics["questions"] == 3
    assert card.rubric_error is not None
    assert "\nsales_call.yaml:5:14: check 'Not a question.'" in card.rubric_error
    assert "no rubric scores statechart 'sales_roleplay'" in card.rubric_error
    assert str(tmp_path) not in card.rubric_error


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A receiver on loopback for the scorecard webhook; yields its URL and what it got."""
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify(body, signature, WEBHOOK_SECRET, now=int(time.time())):
            return web.Response(status=401)
        received.append(json.loads(body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks/scorecard", receive)
    async with serve_on_loopback(app) as url:
        yield f"{url}/hooks/scorecard", received


WEBHOOK_SECRET = Secret("a shared secret for the test receiver")


async def test_a_ready_scorecard_is_posted_to_the_webhook(
    temporal: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    """With RAPPORT_SCORECARD_WEBHOOK set, the finished scorecard is POSTed as JSON, signed with
    RAPPORT_SCORECARD_WEBHOOK_SECRET (the receiver here refuses anything it cannot verify)."""
    url, received = webhook
    signed = replace(settings, scorecard_webhook=Secret(url), scorecard_webhook_secret=WEBHOOK_SECRET)
    async with build_worker(temporal, pool, settings=signed):
        call_id = await _record_call(temporal)
        await post_call_result(temporal, call_id)
    assert [r["event"] for r in received] == ["scorecard.ready"]
    assert received[0]["scorecard"]["call_id"] == call_id
    assert received[0]["scorecard"]["metrics"]["talk_ratio"] == 0.625


def test_a_webhook_signature_checks_body_secret_and_time() -> None:
    """The signature holds for the body, secret and time it was made with; another body, another
    secret, a garbled header or a replay ten minutes later fail."""
    body, now = b'{"event": "scorecard.ready"}', 1_800_000_000
    header = sign(body, WEBHOOK_SECRET, at=now)
    assert verify(body, header, WEBHOOK_SECRET, now=now + 5)
    assert not verify(body + b" ", header, WEBHOOK_SECRET, now=now)
    assert not verify(body, header, Secret("another secret"), now=now)
    assert not verify(body, "v1=deadbeef", WEBHOOK_SECRET, now=now)
    assert not verify(body, header, WEBHOOK_SECRET, now=now + 600)


def test_a_webhook_without_a_secret_stops_start_up() -> None:
    """Scorecards are not POSTed unsigned: the webhook alone is a configuration error naming both."""
    with pytest.raises(ConfigError, match="RAPPORT_SCORECARD_WEBHOOK_SECRET"):
        Settings.from_env({"RAPPORT_SCORECARD_WEBHOOK": "https://hooks.example/scorecards"})


async def test_rapport_scorecard_names_an_unknown_call(database_url: str) -> None:
    """An id with no call: exit 2 and the id named, no traceback."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rapport.cli", "scorecard", "no-such-call", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "no call 'no-such-call' in the store" in done.stderr
    assert "Traceback" not in done.stderr
