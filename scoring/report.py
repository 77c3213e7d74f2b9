"""A scorecard as text for the terminal (`rapport scorecard CALL_ID`), each metric beside its range."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.metrics import TARGETS, Target

__all__ = ["scorecard_text"]


def _value(metrics: Mapping[str, Any], key: str) -> str:
    value = metrics.get(key)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v if v is not None else '–'}" for k, v in value.items())
    return "–" if value is None else str(value)


def _range(target: Target | None) -> str:
    if target is None:
        return ""
    low = "" if target.low is None else f"{target.low:g}"
    high = "" if target.high is None else f"{target.high:g}"
    bounds = f"{low}–{high}" if low and high else (f"≥ {low}" if low else f"≤ {high}")
    return f"   (usual: {bounds}; {target.note})"


def scorecard_text(card: Mapping[str, Any]) -> str:
    status = card["rubric_status"]
    score = card.get("score")
    head = f"Scorecard for call {card['call_id']}: rubric {card.get('rubric_name') or '–'} {status}"
    lines = [head + (f", score {score:.2f}" if score is not None else "")]
    lines.append("Metrics")
    metrics = card["metrics"]
    lines += [f"  {key:<22} {_value(metrics, key)}{_range(TARGETS.get(key))}" for key in metrics]
    if status == "failed":
        lines.append(f"Rubric failed: {card.get('rubric_error')}")
    for criterion in card["rubric"]:
        lines.append(f"  {criterion['criterion']:<22} {criterion['score']:.2f}  {criterion['reason']}")
        lines += [f'      "{e["quote"]}" (at {e["at_s"]:.1f} s)' for e in criterion["evidence"]]
    if card.get("summary"):
        lines.append(f"Summary: {card['summary']}")
    return "\n".join(lines)
