"""`rapport load`: scripted callers against real sessions, with timed fakes of cloud providers."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtest.fakes import FakeLedger
from loadtest.latency import Latency, LatencyError
from loadtest.overhead import VAD_SILENCE_MS, split_reply
from rapport.stats import percentile
from realtime.transports.scripted import Reply

ROOT = Path(__file__).resolve().parent.parent

Loaded = tuple[dict[str, Any], str]

SCENARIO = """\
statechart: sales_roleplay
caller:
  number: "+15555550101"
  turns:
    - say: "Hi Dana, this is Jordan from Routewise."
    - say: "How do your dispatchers plan routes today?"
"""


def test_latency_specs_parse_and_draw_within_their_distribution() -> None:
    """Fixed, lognormal and uniform specs parse; draws stay where each distribution puts them."""
    rng = random.Random(7)
    assert Latency.parse("350").draw(rng) == 350
    assert Latency.parse("fixed:120").draw(rng) == 120
    uniform = [Latency.parse("uniform:200:600").draw(rng) for _ in range(200)]
    assert min(uniform) >= 200 and max(uniform) <= 600
    lognormal = sorted(Latency.parse("lognormal:400:0.3").draw(rng) for _ in range(2001))
    assert 360 < lognormal[1000] < 440  # the median is the first parameter
    assert str(Latency.parse("lognormal:400:0.3")) == "lognormal:400:0.3"
    for bad in ("fast", "lognormal:400", "uniform:600:200", "fixed:-1"):
        with pytest.raises(LatencyError):
            Latency.parse(bad)


def test_a_reply_is_split_into_the_fakes_share_and_the_platforms() -> None:
    """Overhead = voice-to-voice − max(STT final, VAD silence) − LLM first token − TTS first audio,
    from the draws on the reply's critical path; a reply without an LLM draw (a recovery line)
    has no overhead."""
    ledger = FakeLedger()
    ledger.add("stt_final", 10.00, 450.0)
    ledger.add("llm_ttft", 10.47, 400.0)
    ledger.add("tts_ttfa", 10.89, 200.0)
    timing = split_reply(Reply(caller_ended_at=10.0, agent_started_at=11.1), ledger)
    assert timing.voice_to_voice_ms == pytest.approx(1100)
    assert timing.overhead_ms == pytest.approx(1100 - 450 - 400 - 200)
    ledger.add("stt_final", 20.0, 120.0)  # the VAD's silence is the longer wait here
    ledger.add("llm_ttft", 20.32, 400.0)
    ledger.add("tts_ttfa", 20.73, 200.0)
    timing = split_reply(Reply(caller_ended_at=20.0, agent_started_at=20.95), ledger)
    assert timing.overhead_ms == pytest.approx(950 - VAD_SILENCE_MS - 400 - 200)
    ledger.add("stt_final", 30.0, 400.0)
    assert split_reply(Reply(30.0, 30.9), ledger).overhead_ms is None
    # The service split the turn at a pause; its late final for the tail came after the LLM had
    # been asked (the turn closed on the first part's words): only the VAD's wait was waited.
    ledger.add("stt_final", 39.0, 300.0)
    ledger.add("stt_final", 40.0, 650.0)
    ledger.add("llm_ttft", 40.41, 400.0)
    ledger.add("tts_ttfa", 40.83, 250.0)
    timing = split_reply(Reply(caller_ended_at=40.0, agent_started_at=41.1), ledger)
    assert timing.stt_final_ms == 0
    assert timing.overhead_ms == pytest.approx(1100 - VAD_SILENCE_MS - 400 - 250)
    # The service dated the end of speech 30 ms before the caller's audio ended (a quiet last
    # syllable): its share of the wait counts from the caller's end.
    ledger.add("stt_final", 49.97, 500.0)
    ledger.add("llm_ttft", 50.49, 400.0)
    ledger.add("tts_ttfa", 50.9, 200.0)
    timing = split_reply(Reply(caller_ended_at=50.0, agent_started_at=51.12), ledger)
    assert timing.stt_final_ms == pytest.approx(470)
    assert timing.overhead_ms == pytest.approx(1120 - 470 - 400 - 200)


def _clean_environment() -> dict[str, str]:
    """The shell's environment without the settings it may carry: the embedded defaults apply."""
    ours = ("RAPPORT_", "TEMPORAL_", "DATABASE_URL", "PROMETHEUS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(ours)}


@pytest.fixture(scope="module")
def load_report(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    folder = tmp_path_factory.mktemp("load")
    scenario = folder / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    report = folder / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rapport.cli",
            "load",
            *("--calls", "3", "--concurrency", "2", "--processes", "2", "--ramp-s", "1"),
            *("--report", str(report), "--scenario", str(scenario), "--seed", "3"),
        ],
        cwd=ROOT,
        env={**_clean_environment(), "DATABASE_URL": database_url, "RAPPORT_LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(report.read_text(encoding="utf-8")), result.stderr


def test_the_load_command_reports_every_call_with_nothing_lost(
    load_report: tuple[dict[str, Any], str],
) -> None:
    """N=3, C=2: the summary holds the figures the issue names, every call completed, every event
    each call emitted is in PostgreSQL, and a progress bar went to stderr."""
    report, stderr = load_report
    summary = report["summary"]
    for key in (
        "overhead_ms_p50",
        "overhead_ms_p95",
        "events_lost",
        "errors",
        "calls",
        "db_query_p99_ms",
        "concurrency",
        "voice_to_voice_ms_p50",
        "voice_to_voice_ms_p95",
        "cpu",
    ):
        assert key in summary, key
    assert summary["calls"] == 3 and summary["concurrency"] == 2
    assert summary["errors"] == 0 and summary["completed"] == 3
    assert summary["events_lost"] == 0
    assert summary["events_sent"] == summary["events_stored"] > 0
    assert all(c["events_stored"] == c["events_sent"] for c in report["calls"])
    assert summary["db_query_p99_ms"] > 0 and summary["db_queries"] > 0
    assert summary["cpu"]["machine_percent_mean"] is not None
    assert "rapport load" in stderr and "3/3" in stderr


def test_the_overhead_is_computed_from_the_measured_numbers(load_report: Loaded) -> None:
    """Each reply's overhead is its caller-side voice-to-voice less the delays the fakes drew for
    it; the summary's percentiles are those of the replies."""
    report, _ = load_report
    replies = [r for call in report["calls"] for r in call["replies"]]
    assert len(replies) >= 3
    overheads = []
    for r in replies:
        if r["overhead_ms"] is None:
            continue
        assert r["stt_final_ms"] >= 0 and r["llm_ttft_ms"] > 0 and r["tts_ttfa_ms"] > 0
        fakes = max(r["stt_final_ms"], VAD_SILENCE_MS) + r["llm_ttft_ms"] + r["tts_ttfa_ms"]
        assert r["overhead_ms"] == pytest.approx(r["voice_to_voice_ms"] - fakes, abs=0.3)
        overheads.append(r["overhead_ms"])
    assert overheads
    summary = report["summary"]
    assert summary["overhead_ms_p50"] == pytest.approx(percentile(overheads, 50), abs=0.1)
    assert summary["overhead_ms_p95"] == pytest.approx(percentile(overheads, 95), abs=0.1)
    assert summary["voice_to_voice_ms_p50"] == pytest.approx(
        percentile([r["voice_to_voice_ms"] for r in replies], 50), abs=0.1
    )
