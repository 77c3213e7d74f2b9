"""The post-call summary states only what the call said: rep scripts stored as calls, summarised by
the real summary activity with the real local model, every name and number found in the call, and
each side's words given to that side."""

from __future__ import annotations

import asyncpg
import pytest
import yaml

from activities.attribution import Line, misattributed
from activities.summary import SummaryActivities, lines, transcript, ungrounded, unswapped
from db.projections import load_projection
from db.summaries import load_summary
from rapport.settings import Settings
from realtime.providers import build_llm
from scoring.rubric import rubric_for
from tests.conftest import ROOT
from tests.scorecards import load_scripts, store_script
from workflows.records import SummaryInput

# Scripts rich in names and numbers (a CFO, Maria, eighteen percent, Tuesday at ten) to invent
# around, and heard calls whose summaries gave the rep's proposal to the buyer.
SUMMARISED = ("all_good", "closer", "impact_and_meeting", "heard_oliver_rp", "heard_priya_us")
# Sentences the local model wrote about those scripts, each hand-labelled swapped or not.
ATTRIBUTION_LABELS = ROOT / "tests" / "summaries" / "attribution.yaml"


def test_a_name_or_number_the_call_never_said_is_caught() -> None:
    """Names capitalised mid-sentence and numbers, in digits or words, must occur in the call."""
    call = "Caller: Hi Dana, it's Sam from Routewise.\nAgent: Fuel rose eighteen percent this year."
    assert ungrounded("Sam from Routewise called Dana. Fuel rose eighteen percent.", call) == []
    invented = "The caller, Sam, met Dana in Chicago. Fuel rose 18 percent."
    assert ungrounded(invented, call) == ["Chicago", "18"]
    # A possessive is its owner's name ("Northwind Freight's", "Sam's" when the call says "Sam").
    at_work = call + "\nAgent: Northwind Freight."
    assert ungrounded("Sam's call reached Dana at Northwind Freight's office.", at_work) == []
    assert ungrounded("Sam met Dana's team.", "Caller: Dana's team, Sam here.") == []
    # A capital that starts a sentence is not a name.
    assert ungrounded("Overall, the Caller was polite. Then the Agent hung up.", call) == []


def _scripts() -> dict[str, list[Line]]:
    scripts = load_scripts(rubric_for("sales_roleplay", ROOT / "scoring" / "rubrics"))
    return {
        s.name: [Line("rep" if side == "rep" else "buyer", text) for side, text in s.turns] for s in scripts
    }


def test_who_said_what_agrees_with_hand_labels() -> None:
    """On sentences the model wrote (38, hand-labelled), the check finds a swap where a human
    does and none where a human sees none, in at least 9 of 10."""
    labelled = yaml.safe_load(ATTRIBUTION_LABELS.read_text(encoding="utf-8"))
    scripts = _scripts()
    found = [bool(misattributed(item["sentence"], scripts[item["script"]])) for item in labelled]
    agree = sum(f == item["swapped"] for f, item in zip(found, labelled, strict=True))
    assert len(labelled) >= 30 and {item["swapped"] for item in labelled} == {True, False}
    assert agree / len(labelled) >= 0.9, f"{agree} of {len(labelled)}"


def test_a_swapped_sentence_is_left_out_and_an_answer_may_name_the_other_side() -> None:
    """The buyer "proposing" the rep's demo is a swap; the buyer agreeing to it is not, nor the rep
    proposing it; the summary keeps its other sentences."""
    call = _scripts()["all_good"]
    swapped = "Dana proposed a thirty minute demo with her dispatch lead next Tuesday at ten."
    right = "Sam proposed a thirty minute demo next Tuesday at ten. Dana agreed to the demo on Tuesday."
    swaps = misattributed(f"{right} {swapped}", call)
    assert [(s.given_to, s.said_by) for s in swaps] == [("buyer", "rep")]
    assert unswapped(f"{right} {swapped}", swaps) == right


@pytest.mark.parametrize("name", SUMMARISED)
async def test_the_summary_names_only_what_the_call_said(
    pool: asyncpg.Pool, settings: Settings, name: str
) -> None:
    """The stored summary is prose whose every name and number occurs in the call's transcript,
    and that gives no side's words to the other."""
    scripts = load_scripts(rubric_for("sales_roleplay", ROOT / "scoring" / "rubrics"))
    script = next(s for s in scripts if s.name == name)
    call_id = await store_script(pool, script)
    model = build_llm(settings, role="judge")
    summary = await SummaryActivities(pool, lambda: model).summarize_call(SummaryInput(call_id=call_id))
    projection = await load_projection(pool, call_id)
    assert projection is not None
    print(f"{name}: {summary}")
    assert len(summary.split()) >= 8 and ungrounded(summary, transcript(projection.turns)) == []
    assert misattributed(summary, lines(projection.turns)) == []
    stored = await load_summary(pool, call_id)
    assert stored is not None and stored.summary == summary and stored.error is None
