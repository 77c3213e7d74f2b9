"""Rep scripts with hand labels: sales calls against Dana Reyes of Northwind Freight, each with the
truth for every check of the shipped rubric, stored as calls through the real write path."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import yaml

from scoring.rubric import Rubric
from tests.dashboard_calls import CallScript, store

__all__ = ["SCRIPTS", "RepScript", "load_scripts", "store_script"]

SCRIPTS = Path(__file__).resolve().parent
# Roughly how long a line takes to say, so the stored call has a plausible clock.
SECONDS_PER_WORD = 0.35


@dataclass(frozen=True)
class RepScript:
    name: str
    description: str
    turns: tuple[tuple[str, str], ...]
    """(speaker, text) in order; the speaker is `rep` or `buyer`."""
    labels: dict[str, bool]
    """The hand label of each check, by its question."""


def load_scripts(rubric: Rubric, directory: Path = SCRIPTS) -> list[RepScript]:
    """Every script in `directory`; a script must label exactly the rubric's checks, yes or no."""
    questions = {check.question for criterion in rubric.criteria for check in criterion.checks}
    scripts = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        turns = tuple((speaker, text) for turn in doc["turns"] for speaker, text in turn.items())
        if set(doc["labels"]) != questions or any(s not in ("rep", "buyer") for s, _ in turns):
            raise ValueError(f"{path}: labels must name exactly the rubric's checks, turns rep or buyer")
        labels = {question: _yes(path, answer) for question, answer in doc["labels"].items()}
        scripts.append(RepScript(path.stem, doc["description"], turns, labels))
    return scripts


def _yes(path: Path, answer: str) -> bool:
    if answer not in ("yes", "no"):
        raise ValueError(f"{path}: a label is yes or no, not {answer!r}")
    return answer == "yes"


async def store_script(pool: asyncpg.Pool, script: RepScript) -> str:
    """The script as a stored sales_roleplay call (events appended and projected); its call id."""
    call_id = f"script-{script.name}-{uuid.uuid4().hex[:8]}"
    call = CallScript(call_id, rep_id=None, wall_time=1_800_000_000.0)
    for speaker, text in script.turns:
        seconds = SECONDS_PER_WORD * len(text.split())
        if speaker == "rep":
            call.rep(text, seconds)
        else:
            call.agent(text, seconds)
    await store(pool, call.end())
    return call_id
