"""The post-call summary states only what the call said: rep scripts stored as calls, summarised by
the real summary activity with the real local model, every name and number found in the call."""

from __future__ import annotations

import asyncpg
import pytest

from activities.summary import SummaryActivities, transcript, ungrounded
from db.projections import load_projection
from db.summaries import load_summary
from rapport.settings import Settings
from realtime.providers import build_llm
from scoring.rubric import rubric_for
from tests.conftest import ROOT
from tests.scorecards import load_scripts, store_script
from workflows.records import SummaryInput

# Scripts rich in names and numbers (a CFO, Maria, eighteen percent, Tuesday at ten) to invent around.
SUMMARISED = ("all_good", "closer", "impact_and_meeting")


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


@pytest.mark.parametrize("name", SUMMARISED)
async def test_the_summary_names_only_what_the_call_said(
    pool: asyncpg.Pool, settings: Settings, name: str
) -> None:
    """The stored summary is prose whose every name and number occurs in the call's transcript."""
    scripts = load_scripts(rubric_for("sales_roleplay", ROOT / "scoring" / "rubrics"))
    script = next(s for s in scripts if s.name == name)
    call_id = await store_script(pool, script)
    model = build_llm(settings, role="judge")
    summary = await SummaryActivities(pool, lambda: model).summarize_call(SummaryInput(call_id=call_id))
    projection = await load_projection(pool, call_id)
    assert projection is not None
    print(f"{name}: {summary}")
    assert len(summary.split()) >= 8 and ungrounded(summary, transcript(projection.turns)) == []
    stored = await load_summary(pool, call_id)
    assert stored is not None and stored.summary == summary and stored.error is None
