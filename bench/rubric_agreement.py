"""How often the rubric judge agrees with hand labels, per check and overall, and how long it takes.

Judges every rep script of `tests/scorecards/` (hand-labelled sales calls against Dana Reyes) with
the embedded judge model named by RAPPORT_LOCAL_JUDGE_LLM (`qwen2.5-1.5b` by default, or
`qwen2.5-0.5b`), through `scoring.judge` and the same completion the scoring activity uses, and
prints agreement per check, overall, and the judge's time per call.

    RAPPORT_LOCAL_JUDGE_LLM=qwen2.5-0.5b .venv/bin/python -m bench.rubric_agreement
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

from activities.completion import complete
from rapport.settings import Settings
from realtime.providers import build_llm
from scoring.judge import Line, judge
from scoring.rubric import Rubric, rubric_for
from tests.conftest import ROOT
from tests.scorecards import RepScript, load_scripts

__all__ = ["Agreement", "main", "measure"]


@dataclass(frozen=True)
class Agreement:
    model: str
    per_check: dict[str, tuple[int, int]]
    """(agreed, scripts) by check question."""
    seconds_per_call: list[float]

    @property
    def overall(self) -> float:
        agreed = sum(a for a, _ in self.per_check.values())
        return agreed / sum(n for _, n in self.per_check.values())


def _lines(script: RepScript, rubric: Rubric) -> list[Line]:
    speakers = {"rep": rubric.caller, "buyer": rubric.agent}
    return [Line(i + 1, speakers[who], text, float(i)) for i, (who, text) in enumerate(script.turns)]


async def measure(settings: Settings) -> Agreement:
    """Judge every script with `settings`' judge model against its labels."""
    rubric = rubric_for("sales_roleplay", ROOT / "scoring" / "rubrics")
    model = build_llm(settings, role="judge")
    per_check = {check.question: (0, 0) for criterion in rubric.criteria for check in criterion.checks}
    seconds = []
    for script in load_scripts(rubric):
        started = time.perf_counter()
        verdict = await judge(
            rubric, _lines(script, rubric), lambda i, t, g: complete(model, i, t, grammar=g)
        )
        seconds.append(time.perf_counter() - started)
        for check in (c for criterion in verdict.criteria for c in criterion["checks"]):
            agreed, total = per_check[check["question"]]
            per_check[check["question"]] = (
                agreed + (check["passed"] == script.labels[check["question"]]),
                total + 1,
            )
    return Agreement(model.model, per_check, seconds)


def main() -> None:
    result = asyncio.run(measure(Settings.from_env()))
    print(f"judge model: {result.model}")
    for question, (agreed, total) in result.per_check.items():
        print(f"  {agreed}/{total}  {question}")
    print(f"overall agreement: {result.overall:.3f}")
    print(
        f"judge time per call: median {statistics.median(result.seconds_per_call):.1f} s, "
        f"max {max(result.seconds_per_call):.1f} s over {len(result.seconds_per_call)} calls"
    )


if __name__ == "__main__":
    main()
