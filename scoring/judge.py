"""The rubric, judged by an LLM one yes/no check at a time, each YES tied to a transcript line.

Small models answer yes/no questions with a line number reliably where a 1–10 score from them is
noise. The transcript comes first and the question last, so a local model re-reads only the
question from one check to the next (llama.cpp keeps the shared prefix evaluated).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from db.projections import TurnRow
from scoring.rubric import Check, Criterion, Rubric

__all__ = [
    "ATTEMPTS_PER_CHECK",
    "INSTRUCTIONS",
    "Line",
    "MalformedAnswer",
    "RubricVerdict",
    "answer_grammar",
    "judge",
    "parse_answer",
    "transcript_lines",
]

INSTRUCTIONS = (
    "You check the transcript of a sales call. Read the numbered lines, then answer the question "
    "with YES or NO. After YES, give the number of the Rep's line that shows it. "
    "Answer like this: YES 4 — or like this: NO"
)
ATTEMPTS_PER_CHECK = 3
_ANSWER = re.compile(r"^\W*(yes|no)\b\W*(?:line\s*)?(\d+)?", re.IGNORECASE)

Ask = Callable[[str, str, str], Awaitable[str]]
"""(instructions, text, GBNF grammar of the answers allowed) → the LLM's answer."""


class MalformedAnswer(ValueError):
    """The LLM's answer is not YES with a line of the transcript, nor NO."""


@dataclass(frozen=True)
class Line:
    number: int
    speaker: str
    text: str
    at_s: float


@dataclass(frozen=True)
class RubricVerdict:
    criteria: list[dict[str, Any]]
    score: float


def transcript_lines(turns: Sequence[TurnRow], started_at: float, rubric: Rubric) -> list[Line]:
    """The call as the rep heard it: an interrupted reply only up to where it was cut."""
    lines: list[Line] = []
    for turn in turns:
        text = turn.text if turn.speaker == "caller" else (turn.heard_text or "")
        if text.strip():
            speaker = rubric.caller if turn.speaker == "caller" else rubric.agent
            lines.append(Line(len(lines) + 1, speaker, text.strip(), round(turn.at - started_at, 1)))
    return lines


def parse_answer(answer: str, evidence: Collection[int]) -> tuple[bool, int | None]:
    """(passed, evidence line) from an answer like `YES 4` or `NO`; YES must cite a line in `evidence`."""
    match = _ANSWER.match(answer)
    if match is None:
        raise MalformedAnswer("the answer is neither YES nor NO")
    if match.group(1).lower() == "no":
        return False, None
    line = int(match.group(2)) if match.group(2) else None
    if line not in evidence:
        raise MalformedAnswer("YES must name one of the rep's lines as evidence")
    return True, line


def answer_grammar(evidence: Collection[int]) -> str:
    """NO, or YES with one of the rep's lines: a local model bound to it cannot answer off the form."""
    numbers = " | ".join(f'"{n}"' for n in sorted(evidence))
    return f'root ::= "NO" | "YES " ({numbers})' if numbers else 'root ::= "NO"'


async def _check(
    ask: Ask, transcript: str, check: Check, evidence: Collection[int]
) -> tuple[bool, int | None]:
    problem = ""
    question = f"{transcript}\n\nQuestion: {check.question}"
    for _ in range(ATTEMPTS_PER_CHECK):
        try:
            return parse_answer(await ask(INSTRUCTIONS, question, answer_grammar(evidence)), evidence)
        except MalformedAnswer as exc:
            problem = str(exc)
    raise MalformedAnswer(f"check {check.question!r} ({check.loc}): {problem}, {ATTEMPTS_PER_CHECK} times")


def _verdict(
    criterion: Criterion, results: list[dict[str, Any]], lines: Sequence[Line], why: str
) -> dict[str, Any]:
    passed = [r for r in results if r["passed"]]
    missed = [r["question"] for r in results if not r["passed"]]
    return {
        "criterion": criterion.name,
        "methodology": criterion.methodology,
        "score": round(len(passed) / len(results), 3),
        "reason": why
        or f"{len(passed)} of {len(results)} checks passed"
        + (f"; missed: {' '.join(missed)}" if missed else "."),
        "evidence": [
            {"quote": lines[r["line"] - 1].text, "at_s": lines[r["line"] - 1].at_s, "line": r["line"]}
            for r in passed
        ],
        "checks": results,
    }


async def judge(rubric: Rubric, lines: Sequence[Line], ask: Ask) -> RubricVerdict:
    """Every check of every criterion; `MalformedAnswer` if a check never gets a usable answer."""
    transcript = "\n".join(f"{line.number}. {line.speaker}: {line.text}" for line in lines)
    # The checks are about what the rep did: a YES cites one of the rep's lines. A rep who said
    # nothing passed nothing, and no model is needed to say so.
    evidence = {line.number for line in lines if line.speaker == rubric.caller}
    silent = "" if evidence else f"The {rubric.caller} did not speak."
    criteria: list[dict[str, Any]] = []
    for criterion in rubric.criteria:
        results = []
        for check in criterion.checks:
            passed, line = (False, None) if silent else await _check(ask, transcript, check, evidence)
            results.append({"question": check.question, "passed": passed, "line": line})
        criteria.append(_verdict(criterion, results, lines, silent))
    checks = [c for criterion in criteria for c in criterion["checks"]]
    score = sum(c["passed"] for c in checks) / len(checks) if checks else 0.0
    return RubricVerdict(criteria, round(score, 3))
