"""A scripted call's report as the turns the checks read, and the words a chart lets its agent say
that no word list holds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from quality.checks import AgentTurn, CallerTurn, Turn
from statecharts.records import Statechart

__all__ = ["call_turns", "chart_identifiers", "chart_names"]


def call_turns(rows: Sequence[Mapping[str, object]], said: Sequence[tuple[str, ...]]) -> list[Turn]:
    """The report's `turns`, in order: each caller row paired with the phrases its script said (the
    n-th caller row is the n-th spoken turn), each agent row as far as the caller heard it."""
    callers = iter(said)
    turns: list[Turn] = []
    for row in rows:
        if row["speaker"] == "caller":
            turns.append(CallerTurn(said=next(callers), heard=str(row["text"] or "")))
        else:
            heard = row.get("heard_text")
            turns.append(AgentTurn(text=str(heard if heard is not None else row["text"])))
    return turns


def chart_identifiers(chart: Statechart) -> set[str]:
    """The chart's event and tool names: what the LLM is shown and must never say."""
    names: set[str] = set()
    for state in chart.all_states.values():
        names |= {t.event for t in state.transitions if t.after_ms is None}
        names |= set(state.tool_names)
    return names


def chart_names(chart: Statechart) -> set[str]:
    """Every word of the chart's settings (the persona, the greeting): the buyer's own names."""
    text = " ".join(str(value) for value in chart.settings.values())
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
