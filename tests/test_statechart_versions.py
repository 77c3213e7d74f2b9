"""Versions: a call records the content hash of both charts it started with and keeps them; an
edited file reaches the next call without a restart."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from rapport.settings import Settings
from realtime.audio_io import CallerAudioInput
from realtime.call import Call, CallFactory
from realtime.events import CallEvent, CallStarted
from realtime.session import Models
from realtime.tools import conversation_registry
from statecharts.errors import StatechartError
from statecharts.load import StatechartLibrary
from statecharts.yaml_nodes import content_version

ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS = ROOT / "statecharts" / "definitions"

GOOD = """\
id: demo
kind: conversation
initial: opening
states:
  opening:
    instructions: Say hello.
    on:
      greeted: done
  done:
    type: final
"""


def test_an_edit_of_the_same_size_and_time_is_still_seen(tmp_path: Path) -> None:
    """The library compares content, not timestamps: a same-length edit within one tick is reloaded."""
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD, encoding="utf-8")
    library = StatechartLibrary(tmp_path, conversation_registry())
    first = library.get("demo")
    assert library.get("demo") is first  # unchanged: the records are reused
    stat = path.stat()
    path.write_text(GOOD.replace("Say hello.", "Say howdy."), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = library.get("demo")
    assert second.version == content_version(path.read_bytes()) != first.version
    assert second.states["opening"].instructions == "Say howdy."
    assert first.states["opening"].instructions == "Say hello."  # what a running call holds


def test_a_broken_edit_fails_the_next_load_and_nothing_before_it(tmp_path: Path) -> None:
    """New calls get the error with its line; records already handed out are untouched."""
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD, encoding="utf-8")
    library = StatechartLibrary(tmp_path, conversation_registry())
    first = library.get("demo")
    path.write_text(GOOD.replace("greeted: done", "greeted: dnoe"), encoding="utf-8")
    with pytest.raises(StatechartError, match=r"demo\.yaml:8:\d+: .*'dnoe'"):
        library.get("demo")
    assert first.state("opening").transitions[0].dest == "done"


def _started(events: list[CallEvent]) -> CallStarted:
    (started,) = [e for e in events if isinstance(e, CallStarted)]
    return started


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


async def _new_call(calls: CallFactory, events: list[CallEvent]) -> Call:
    audio_in = CallerAudioInput(now=asyncio.get_running_loop().time, sample_rate=16_000)
    call = calls.new_call("sales_roleplay", audio_in=audio_in, sink=events.append)
    await call.start()
    return call


async def test_an_edit_reaches_new_calls_and_never_a_call_in_progress(tmp_path: Path, models: Models) -> None:
    """Edit both charts under a running call: it keeps its stages, instructions, timeouts and
    versions; the next call from the same factory (no restart) gets the edit and new versions."""
    for name in ("sales_roleplay", "turn_taking"):
        shutil.copy(DEFINITIONS / f"{name}.yaml", tmp_path)
    settings = Settings.from_env(
        {"RAPPORT_STATE_DIR": str(ROOT / ".state"), "RAPPORT_STATECHART_DIR": str(tmp_path)}
    )
    calls = CallFactory.create(settings, models)
    first_events: list[CallEvent] = []
    second_events: list[CallEvent] = []
    first = await _new_call(calls, first_events)
    try:
        before = first.agent.current_instructions()
        _edit(tmp_path / "sales_roleplay.yaml", "Be polite but guarded", "Be warm and open")
        _edit(
            tmp_path / "turn_taking.yaml",
            "2000: {actions: [endpoint_deadline]}",
            "2100: {actions: [endpoint_deadline]}",
        )
        second = await _new_call(calls, second_events)
        try:
            assert first.agent.current_instructions() == before and "polite but guarded" in before
            assert "warm and open" in second.agent.current_instructions()
            old, new = _started(first_events), _started(second_events)
            assert old.statechart_version == first.chart.version != new.statechart_version
            assert new.statechart_version == content_version((tmp_path / "sales_roleplay.yaml").read_bytes())
            assert old.turn_taking_version != new.turn_taking_version
            assert new.turn_taking_version == content_version((tmp_path / "turn_taking.yaml").read_bytes())
            delays = [t.after_ms for t in first.turns.chart.state("endpointing").transitions if t.after_ms]
            assert delays == [2000]
            assert [
                t.after_ms for t in second.turns.chart.state("endpointing").transitions if t.after_ms
            ] == [2100]
            # The running call still moves through its own chart.
            await first.agent.move("rep_stated_purpose")
            assert first.agent.stage == "discovery"
            assert "Reveal one pain at a time" in first.agent.current_instructions()
        finally:
            await second.hangup("test")
    finally:
        await first.hangup("test")
