"""How often the reply judge agrees with hand labels, per label and per judge model, and how fast.

Judges every buyer reply of `tests/replies/labelled.yaml` (the set its thresholds were fitted on)
and `tests/replies/held_out.yaml` (replies it was not tuned on): a rep's line, Dana's reply, hand
labels for "responds to the rep" and "in character". Each embedded judge model
(`RAPPORT_LOCAL_JUDGE_LLM` values) judges them as `quality.reply_judge` does (likelihoods), and the
default model also the way it did before, one yes/no question per label: the baseline, in the
same run. Writes a section of `docs/benchmarks.md`.

    .venv/bin/python -m bench.reply_judge_agreement [--models qwen2.5-1.5b,qwen2.5-0.5b]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from activities.completion import reply_judges
from bench.report import RESULTS, machine_line, write_section
from quality.reply_judge import Judges, ReplyVerdict, judge_replies
from rapport.settings import Settings
from realtime.providers import build_llm
from tests.replies import HELD_OUT, LABELLED, LabelledReply, load_replies

__all__ = ["LABELS", "Agreement", "main", "measure", "render"]

LABELS = ("relevant", "in_character")


@dataclass(frozen=True)
class Agreement:
    judge: str
    """The model, and how it was asked."""
    replies: str
    """Which labelled set."""
    items: int
    agreed: dict[str, int]
    """Items whose verdict matches the hand label, by label."""
    false_yes: dict[str, int]
    """Items labelled NO that the judge passed, by label."""
    false_no: dict[str, int]
    """Items labelled YES that the judge failed, by label."""
    seconds_per_reply: list[float]

    def share(self, label: str) -> float:
        return self.agreed[label] / self.items


async def measure(judge: str, judges: Judges, name: str, replies: list[LabelledReply]) -> Agreement:
    """Judge every reply of one labelled set."""
    agreed = dict.fromkeys(LABELS, 0)
    false_yes = dict.fromkeys(LABELS, 0)
    false_no = dict.fromkeys(LABELS, 0)
    seconds = []
    for reply in replies:
        started = time.perf_counter()
        (verdict,) = await judge_replies(reply.turns(), judges)
        seconds.append(time.perf_counter() - started)
        for label in LABELS:
            judged, truth = _judged(verdict, label), getattr(reply, label)
            agreed[label] += judged == truth
            false_yes[label] += judged and not truth
            false_no[label] += truth and not judged
    return Agreement(judge, name, len(replies), agreed, false_yes, false_no, seconds)


def _judged(verdict: ReplyVerdict, label: str) -> bool:
    return verdict.relevant if label == "relevant" else verdict.in_character


def _counts(replies: list[LabelledReply], label: str) -> str:
    yes = sum(getattr(r, label) for r in replies)
    return f"{yes} YES / {len(replies) - yes} NO"


def render(results: list[Agreement], sets: dict[str, list[LabelledReply]]) -> str:
    described = "; ".join(
        f"`tests/replies/{name}.yaml`, {len(replies)} replies (relevant {_counts(replies, 'relevant')}, "
        f"in character {_counts(replies, 'in_character')})"
        for name, replies in sets.items()
    )
    lines = [
        "## Reply judge against hand labels",
        "",
        "`.venv/bin/python -m bench.reply_judge_agreement`. " + machine_line(),
        "",
        f"Hand-labelled buyer replies: {described}. The judge's two thresholds were fitted on "
        "`labelled`; `held_out` was written and labelled before the judge saw it. Likelihoods: "
        "`quality.reply_judge` with the embedded model (relevant: the reply likelier after the rep's "
        "line than after typical ones; in character: likelier as Dana's than as an assistant's or "
        "the seller's). Yes/no: the same model asked one question per label, greedy, as the judge "
        "was before. Both fail a reply the rules of `quality.checks` find echoing the rep, running "
        "words together or speaking an identifier. False YES: a reply labelled NO that the judge "
        "passed; false NO: the reverse. Time: per reply, both labels.",
        "",
        "| judge | replies | relevant: agreement | false YES / NO | in character: agreement "
        "| false YES / NO | s per reply p50 / max |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r.judge} | {r.replies} | {r.share('relevant'):.2f} | {r.false_yes['relevant']} / "
            f"{r.false_no['relevant']} | {r.share('in_character'):.2f} | {r.false_yes['in_character']} / "
            f"{r.false_no['in_character']} | {statistics.median(r.seconds_per_reply):.1f} / "
            f"{max(r.seconds_per_reply):.1f} |"
            for r in results
        ],
        "",
        "Target (issue 13): agreement at least 0.9 per label with the default judge model "
        "(qwen2.5-1.5b), on replies it was not tuned on.",
        "",
    ]
    return "\n".join(lines)


async def _measure_all(models: list[str], sets: dict[str, list[LabelledReply]]) -> list[Agreement]:
    results = []
    for index, model_name in enumerate(models):
        model = build_llm(
            Settings.from_env({**os.environ, "RAPPORT_LOCAL_JUDGE_LLM": model_name}), role="judge"
        )
        judges = reply_judges(model)
        ways = [(f"{model.model}: likelihoods", judges)]
        if index == 0:
            ways.append((f"{model.model}: yes/no", Judges(judges.ask)))
        for judge, way in ways:
            for name, replies in sets.items():
                results.append(await measure(judge, way, name, replies))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--models", default="qwen2.5-1.5b,qwen2.5-0.5b", help="RAPPORT_LOCAL_JUDGE_LLM values"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    sets = {"labelled": load_replies(LABELLED), "held_out": load_replies(HELD_OUT)}
    results = asyncio.run(_measure_all(args.models.split(","), sets))
    text = render(results, sets)
    write_section("reply_judge_agreement", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
