"""Whole calls, headless: a scripted caller talks to the real agent session, barge-ins included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.persona import EARLIER_CALL_ENDS
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import CallReport, run_scripted_call

ROOT = Path(__file__).resolve().parent.parent


async def _run(settings: Settings, models: Models, scenario: Path) -> CallReport:
    script = load_scenario(scenario)
    calls = CallFactory.create(settings, models)
    # As `rapport call` does before its call: without it, the first reply also waited for torch's
    # import (the stage triggers' embedder, 5.7 s) and the chart's opening prompt.
    await calls.warm_up(script.statechart)
    return await run_scripted_call(script, calls)


@pytest.fixture(scope="module")
async def barge_in(settings: Settings, models: Models) -> dict[str, Any]:
    return (await _run(settings, models, ROOT / "examples" / "barge_in.yaml")).data


def _transitions(report: dict[str, Any], machine: str = "turn_taking") -> list[tuple[str, str, str]]:
    return [
        (e["event"], e["source"], e["dest"])
        for e in report["events"]
        if e["type"] == "machine_transition" and e["machine"] == machine
    ]


def test_every_caller_turn_gets_a_spoken_reply(barge_in: dict[str, Any]) -> None:
    """The agent greets, then answers; each answer's latency is measured from the caller's side."""
    agent = [t for t in barge_in["turns"] if t["speaker"] == "agent"]
    caller = [t for t in barge_in["turns"] if t["speaker"] == "caller"]
    assert agent[0]["text"] == "Northwind Freight, this is Dana."
    assert len(caller) == 5
    assert all(t["text"] for t in caller), caller
    assert len(barge_in["latency"]["voice_to_voice_ms"]) >= 3
    assert all(0 < ms < 5000 for ms in barge_in["latency"]["voice_to_voice_ms"])


def test_an_interrupted_reply_counts_only_the_words_the_caller_heard(barge_in: dict[str, Any]) -> None:
    """After a barge-in, heard_text is a strict word prefix of the reply, and the LLM sees only it."""
    cut = [t for t in barge_in["turns"] if t["speaker"] == "agent" and t["interrupted"]]
    assert cut, "the objection should interrupt the agent"
    turn = cut[0]
    heard, full = turn["heard_text"].split(), turn["text"].split()
    assert 0 < len(heard) < len(full)
    assert full[: len(heard)] == heard
    assistant = [m["text"] for m in barge_in["llm_context"] if m["role"] == "assistant"]
    assert any(m.split() == heard for m in assistant), assistant
    assert turn["text"] not in assistant


def test_the_barge_in_stops_the_agent_fast(barge_in: dict[str, Any]) -> None:
    """Agent audio stops soon after the caller starts talking over it (from the caller's side)."""
    assert barge_in["latency"]["barge_in_stop_ms"]
    assert all(ms < 1000 for ms in barge_in["latency"]["barge_in_stop_ms"])
    assert ("barge_in_threshold", "barge_in_candidate", "interrupted") in _transitions(barge_in) or any(
        t[0] == "transcript" and t[2] == "interrupted" for t in _transitions(barge_in)
    )


def test_a_backchannel_pauses_then_resumes_the_agent(barge_in: dict[str, Any]) -> None:
    """'Yeah, right.' over the greeting is heard (livekit's AEC warm-up would have fed STT silence)
    and is a false alarm: the machine returns to agent_speaking and the greeting goes on from where
    it paused to its end; its words are not the next turn's."""
    transitions = _transitions(barge_in)
    # Its words decide: in barge_in_candidate, or past 3 s while whisper is slow (a loaded machine)
    # in barge_in_transcribing.
    assert {
        ("transcript", "barge_in_candidate", "agent_speaking"),
        ("transcript", "barge_in_transcribing", "agent_speaking"),
    } & set(transitions)
    greeting = barge_in["turns"][0]
    assert greeting["speaker"] == "agent" and not greeting["interrupted"]
    assert greeting["heard_text"] == greeting["text"] == "Northwind Freight, this is Dana."
    after = [t["text"] for t in barge_in["turns"] if t["speaker"] == "caller"][1]
    assert "yeah" not in after.lower(), after


def test_the_llm_hears_the_greeting_after_the_earlier_call_and_the_turns_in_order(
    barge_in: dict[str, Any],
) -> None:
    """The chat the LLM is asked with: the instructions, the persona's earlier call up to the line
    that ends it, then this call's greeting, then the caller's turns and the replies in the order
    they were spoken (the greeting once sat first, ahead of the instructions and the earlier call)."""
    chat = [m for m in barge_in["llm_context"] if m["text"].strip()]
    texts = [m["text"].strip() for m in chat]
    assert chat[0]["role"] == "system"
    greeting = texts.index("Northwind Freight, this is Dana.")
    assert greeting == texts.index(EARLIER_CALL_ENDS) + 1
    spoken = [t["text"].strip() for t in barge_in["turns"] if t["speaker"] == "caller"]
    heard = [text for m, text in zip(chat, texts, strict=True) if m["role"] == "user"]
    assert [text for text in heard if text in spoken] == [t for t in spoken if t in heard]


def test_events_are_typed_versioned_and_in_time_order(barge_in: dict[str, Any]) -> None:
    """Every event has a type, a version and a time; times never go backwards; the call ends."""
    events = barge_in["events"]
    assert events[0]["type"] == "call_started"
    assert events[-1]["type"] == "call_ended"
    assert all(e["version"] >= 1 for e in events)
    times = [e["at_ms"] for e in events]
    assert times == sorted(times)
    assert _transitions(barge_in)[-1][2] == "ended"


async def test_a_silence_only_call_ends_cleanly(settings: Settings, models: Models, tmp_path: Path) -> None:
    """A caller who never speaks: the agent greets, nobody's turn is invented, the call ends."""
    scenario = tmp_path / "silent.yaml"
    scenario.write_text(
        "statechart: sales_roleplay\ncaller:\n  turns:\n    - pause_ms: 3000\n", encoding="utf-8"
    )
    report: dict[str, Any] = (await _run(settings, models, scenario)).data
    assert [t["speaker"] for t in report["turns"]] == ["agent"]
    assert report["latency"] == {"voice_to_voice_ms": [], "barge_in_stop_ms": []}
    assert report["events"][-1]["type"] == "call_ended"


def test_the_cli_reports_an_unknown_statechart_without_a_traceback(tmp_path: Path) -> None:
    """`rapport call` on a scenario naming a missing statechart exits 2, naming it and the choices."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("statechart: sales_rolepaly\ncaller:\n  turns:\n    - say: Hi\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "call", str(scenario), "--report", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "sales_rolepaly" in result.stderr and "sales_roleplay" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_answered_turn_records_its_voice_to_voice_latency(barge_in: dict[str, Any]) -> None:
    """A latency sample per reply: from the VAD's end of the caller's speech to the agent's audio."""
    events = barge_in["events"]
    samples = [e for e in events if e["type"] == "latency_sample"]
    assert len(samples) >= 3
    for sample in samples:
        ended = max(
            e["at_ms"]
            for e in events
            if e["type"] == "machine_transition"
            and e["event"] == "speech_ended"
            and e["at_ms"] <= sample["at_ms"]
        )
        assert sample["voice_to_voice_ms"] == pytest.approx(
            sample["at_ms"] - ended, abs=2
        )  # both rounded to ms
