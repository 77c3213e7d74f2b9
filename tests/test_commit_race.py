"""A turn committed while the agent still takes in the previous one: both are answered by one
reply, and the agent goes on answering (livekit 1.8.9's unforced interrupt of the older turn's
reply used to raise, and every later turn re-raised it: a silent agent for the rest of the call)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from rapport.settings import Settings
from realtime.agent import StageAgent
from realtime.bridge import TurnTakingBridge
from realtime.call import CallFactory
from realtime.persona import EARLIER_CALL_ENDS
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call

SCENARIO = """\
statechart: sales_roleplay
caller:
  turns:
    - say: "Hi Dana, this is Sam from Routewise. [pause 2000] How do your dispatchers plan the routes today?"
    - say: "And what happens when a driver calls in sick?"
"""


@pytest.fixture
async def report(
    settings: Settings,
    models: Models,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> dict[str, Any]:
    """The caller goes on after a two-second pause, long enough for the turn-taking machine to commit
    what came before it; that first turn is held in the agent's `on_user_turn_completed` (as a slow
    whole-turn re-hearing under load holds it) until what the caller said next is committed too."""
    second_committed = asyncio.Event()
    whole_turn = StageAgent._whole_turn
    commit = TurnTakingBridge._commit_after_previous_turn
    held: list[str] = []

    async def slow_whole_turn(self: StageAgent, message: Any) -> str:
        text = await whole_turn(self, message)
        if not held:
            held.append(text)
            await second_committed.wait()
        return text

    def commit_and_tell(self: TurnTakingBridge) -> None:
        commit(self)
        if held:
            second_committed.set()

    monkeypatch.setattr(StageAgent, "_whole_turn", slow_whole_turn)
    monkeypatch.setattr(TurnTakingBridge, "_commit_after_previous_turn", commit_and_tell)
    scenario = tmp_path / "race.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    calls = CallFactory.create(settings, models)
    await calls.warm_up()
    with caplog.at_level(logging.ERROR, logger="livekit.agents"):
        data = (await run_scripted_call(load_scenario(scenario), calls)).data
    data["livekit_errors"] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return data


def test_a_turn_committed_during_the_previous_ones_hook_is_taken_in(report: dict[str, Any]) -> None:
    """livekit takes in both parts and every later turn without an error: the words said after the
    pause and the caller's next turn reach the chat, and an answer follows each caller turn.

    Not asserted: that the answer comes before the 10 s watchdog. After the forced interrupt, the
    reply to both parts sometimes starts later than that (the watchdog says its recovery line);
    issue 13's latency work, seen in 4 of 6 runs.
    """
    assert not report["livekit_errors"], report["livekit_errors"]
    chat = report["llm_context"]
    # This call's turns follow the persona's earlier call (whisper spells "Routewise" several ways,
    # so no word of the first part marks where they start).
    start = [m["text"] for m in chat].index(EARLIER_CALL_ENDS)
    this_call = [m for m in chat[start + 1 :] if m["role"] == "user"]
    said = " ".join(m["text"] for m in this_call).lower()
    assert "dispatch" in said and "driver" in said, this_call
    turns = report["turns"]
    for n, turn in enumerate(turns):
        if turn["speaker"] == "caller":
            answers = [t for t in turns[n + 1 :] if t["speaker"] == "agent" and t["text"].strip()]
            assert answers, turns
