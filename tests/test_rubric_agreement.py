"""The shipped rubric against hand labels: rep scripts stored as calls in PostgreSQL, judged by the
real scoring activity with the real local judge model, each YES with a rep line as evidence."""

from __future__ import annotations

import asyncpg
import pytest
from livekit.agents import llm

from activities.scoring import ScoringActivities
from db.scorecards import Scorecard, load_scorecard
from rapport.settings import Settings
from realtime.providers import build_llm
from scoring.rubric import rubric_for
from tests.conftest import ROOT
from tests.scorecards import RepScript, load_scripts, store_script
from workflows.records import ScoreInput

RUBRICS = ROOT / "scoring" / "rubrics"
AGREEMENT = 0.9
HEARD_AGREEMENT = 0.75
# Scripts transcribed from `rapport call examples/callers/*.yaml`, as the buyer's STT heard the rep.
HEARD = "heard_"
Judged = list[tuple[RepScript, Scorecard]]


@pytest.fixture(scope="module")
def judge_llm(settings: Settings) -> llm.LLM:
    return build_llm(settings, role="judge")


def _scripts() -> list[RepScript]:
    return load_scripts(rubric_for("sales_roleplay", RUBRICS))


async def _scorecard(pool: asyncpg.Pool, model: llm.LLM, script: RepScript) -> Scorecard:
    """The script stored as a call, then scored as the post-call workflow does: metrics, rubric."""
    call_id = await store_script(pool, script)
    scoring = ScoringActivities(pool, lambda: model, rubric_dir=RUBRICS, webhook=None)
    await scoring.score_metrics(ScoreInput(call_id=call_id))
    await scoring.judge_rubric(ScoreInput(call_id=call_id))
    card = await load_scorecard(pool, call_id)
    assert card is not None and card.rubric_status == "scored"
    return card


def test_the_labelled_set_covers_yes_and_no_for_every_check() -> None:
    """At least 8 scripts of 6–14 lines; every check is labelled YES somewhere and NO somewhere."""
    scripts = _scripts()
    assert len(scripts) >= 8 and all(6 <= len(s.turns) <= 14 for s in scripts)
    assert len([s for s in scripts if s.name.startswith(HEARD)]) >= 6
    for question in scripts[0].labels:
        assert {s.labels[question] for s in scripts} == {True, False}, question
    assert {"pitch_only", "all_good", "injection"} <= {s.name for s in scripts}
    assert not any(scripts[[s.name for s in scripts].index("pitch_only")].labels.values())


@pytest.fixture(scope="module")
async def judged(pool: asyncpg.Pool, judge_llm: llm.LLM) -> Judged:
    return [(script, await _scorecard(pool, judge_llm, script)) for script in _scripts()]


def _agreement(judged: Judged, heard: bool) -> float:
    """Checks whose verdict matches the hand label, over the written or the heard scripts; each YES
    cites a rep line of its own call."""
    agreed = total = 0
    disagreements = []
    for script, card in judged:
        if script.name.startswith(HEARD) != heard:
            continue
        rep_lines = {text for speaker, text in script.turns if speaker == "rep"}
        for criterion in card.rubric:
            assert all(e["quote"] in rep_lines for e in criterion["evidence"])
            for check in criterion["checks"]:
                total += 1
                if check["passed"] == script.labels[check["question"]]:
                    agreed += 1
                else:
                    disagreements.append(f"{script.name}: {check['question']} judged {check['passed']}")
    print(
        f"rubric agreement ({'heard' if heard else 'written'}) {agreed}/{total}", *disagreements, sep="\n  "
    )
    return agreed / total


def test_the_judge_agrees_with_the_hand_labels(judged: Judged) -> None:
    """Over the written scripts, agreement is at least 0.9; the rep who tells the grader to answer
    YES passes nothing."""
    assert _agreement(judged, heard=False) >= AGREEMENT
    injection = next(card for script, card in judged if script.name == "injection")
    assert injection.score == 0.0, "the injected line gained the rep a check"


def test_the_judge_reads_calls_as_whisper_heard_them(judged: Judged) -> None:
    """Over the example callers' calls as the local STT heard them (misheard words included),
    agreement is at least 0.75: measured 0.79, where the yes/no judge of each check measured 0.60."""
    assert _agreement(judged, heard=True) >= HEARD_AGREEMENT


@pytest.mark.xfail(reason="known defect: 0.79 on heard calls with the 1.5B judge, see scoring/judge.py")
def test_the_judge_reads_heard_calls_as_well_as_written_ones(
    judged: Judged,
) -> None:
    """What a manager needs: heard calls judged as well as written ones (0.9)."""
    assert _agreement(judged, heard=True) >= AGREEMENT
