"""What is said in a whole sales call: callers in espeak-ng voices talk to the real agent (local STT,
LLM and TTS), and the checks of `quality` hold on what arrived and on what the buyer answered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from quality.calls import call_turns, chart_identifiers, chart_names
from quality.checks import CallerTurn, CallQuality, Kind, Turn, check_call
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from statecharts.parse import parse_statechart

ROOT = Path(__file__).resolve().parent.parent
# An American voice that pauses mid-sentence, and a Lancashire one through a 44.1 kHz stereo WAV.
CALLERS = ("sam_us", "tom_lancaster_recorded")


@dataclass(frozen=True)
class Call:
    turns: list[Turn]
    quality: CallQuality

    def transcript(self) -> str:
        """The call as heard, for a failure's message."""
        return "\n".join(
            f"caller: {t.heard!r}" if isinstance(t, CallerTurn) else f"agent:  {t.text!r}" for t in self.turns
        )


@pytest.fixture(scope="module", params=CALLERS)
async def call(request: pytest.FixtureRequest, settings: Settings, models: Models) -> Call:
    scenario = load_scenario(ROOT / "examples" / "callers" / f"{request.param}.yaml")
    calls = CallFactory.create(settings, models)
    await calls.warm_up(scenario.statechart)  # as `rapport call` does before its call
    report = (await run_scripted_call(scenario, calls)).data
    chart, problems = parse_statechart(ROOT / "statecharts" / "definitions" / f"{scenario.statechart}.yaml")
    assert chart is not None, problems
    rows = report["turns"]
    assert isinstance(rows, list)
    turns = call_turns(rows, [t.phrases for t in scenario.turns if t.say is not None])
    quality = check_call(turns, identifiers=chart_identifiers(chart), known=chart_names(chart))
    return Call(turns, quality)


def _none(call: Call, *kinds: Kind) -> None:
    found = [f for kind in kinds for f in call.quality.of_kind(kind)]
    assert not found, f"{found}\n{call.transcript()}"


def test_the_callers_words_arrive(call: Call) -> None:
    """The agent's transcripts of the caller hold at least three words in four (WER ≤ 0.25 over the
    call), and no sentence or phrase between pauses goes missing."""
    assert call.quality.caller_wer <= 0.25, call.transcript()
    _none(call, Kind.CALLER_SENTENCE_MISSING)


def test_each_caller_turn_is_answered_once(call: Call) -> None:
    """Every caller turn gets one reply: none left unanswered, none answered twice."""
    _none(call, Kind.UNANSWERED, Kind.ANSWERED_TWICE)


def test_the_buyer_does_not_echo_or_repeat_herself(call: Call) -> None:
    """No reply is mostly the caller's last words said back, and no reply is said twice."""
    _none(call, Kind.ECHO, Kind.REPEATED)


def test_the_buyer_speaks_plain_english(call: Call) -> None:
    """No words run together, no token outside English and the call's names, no identifier or
    tool name of the chart spoken."""
    _none(call, Kind.RUN_TOGETHER, Kind.STRAY_WORD, Kind.IDENTIFIER)


def test_the_buyer_never_sells(call: Call) -> None:
    """The buyer never pitches, offers a demo or talks like an assistant."""
    _none(call, Kind.SELLING)
