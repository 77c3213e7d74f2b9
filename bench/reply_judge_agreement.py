"""How often the reply judge agrees with hand labels, per label and per judge model, and how fast.

Judges every buyer reply of `tests/replies/labelled.yaml` (a rep's line, Dana's reply, hand labels
for "responds to the rep" and "in character") through `quality.reply_judge` and the same
completion the scoring activity uses, once per embedded judge model (`RAPPORT_LOCAL_JUDGE_LLM`
values, all in one run), and writes a section of `docs/benchmarks.md`.

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

from activities.completion import complete
from bench.report import RESULTS, machine_line, write_section
from quality.reply_judge import ReplyVerdict, judge_replies
from rapport.settings import Settings
from realtime.providers import build_llm
from tests.replies import LabelledReply, load_replies

__all__ = ["LABELS", "Agreement", "main", "measure", "render"]

LABELS = ("relevant", "in_character")


@dataclass(frozen=True)
class Agreement:
    model: str
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


async def measure(settings: Settings, replies: list[LabelledReply]) -> Agreement:
    """Judge every labelled reply with `settings`' judge model."""
    model = build_llm(settings, role="judge")
    agreed = dict.fromkeys(LABELS, 0)
    false_yes = dict.fromkeys(LABELS, 0)
    false_no = dict.fromkeys(LABELS, 0)
    seconds = []
    for reply in replies:
        started = time.perf_counter()
        (verdict,) = await judge_replies(reply.turns(), lambda i, t, g: complete(model, i, t, grammar=g))
        seconds.append(time.perf_counter() - started)
        for label in LABELS:
            judged, truth = _judged(verdict, label), getattr(reply, label)
            agreed[label] += judged == truth
            false_yes[label] += judged and not truth
            false_no[label] += truth and not judged
    return Agreement(model.model, len(replies), agreed, false_yes, false_no, seconds)


def _judged(verdict: ReplyVerdict, label: str) -> bool:
    return verdict.relevant if label == "relevant" else verdict.in_character


def render(results: list[Agreement], replies: list[LabelledReply]) -> str:
    counts = {
        label: (sum(getattr(r, label) for r in replies), sum(not getattr(r, label) for r in replies))
        for label in LABELS
    }
    lines = [
        "## Reply judge against hand labels",
        "",
        "`.venv/bin/python -m bench.reply_judge_agreement`. " + machine_line(),
        "",
        f"{len(replies)} hand-labelled buyer replies (`tests/replies/labelled.yaml`: relevant "
        f"{counts['relevant'][0]} YES / {counts['relevant'][1]} NO, in character "
        f"{counts['in_character'][0]} YES / {counts['in_character'][1]} NO), each judged by "
        "`quality.reply_judge` with the embedded judge model, greedy. False YES: a reply labelled NO "
        "that the judge passed; false NO: the reverse. Time: per reply, both questions.",
        "",
        "| judge model | relevant: agreement | false YES / NO | in character: agreement "
        "| false YES / NO | s per reply p50 / max |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r.model} | {r.share('relevant'):.2f} | {r.false_yes['relevant']} / "
            f"{r.false_no['relevant']} | {r.share('in_character'):.2f} | {r.false_yes['in_character']} / "
            f"{r.false_no['in_character']} | {statistics.median(r.seconds_per_reply):.1f} / "
            f"{max(r.seconds_per_reply):.1f} |"
            for r in results
        ],
        "",
        "Target (issue 13): agreement at least 0.9 per label with the default judge model (qwen2.5-1.5b).",
        "",
    ]
    return "\n".join(lines)


async def _measure_all(models: list[str], replies: list[LabelledReply]) -> list[Agreement]:
    return [
        await measure(Settings.from_env({**os.environ, "RAPPORT_LOCAL_JUDGE_LLM": model}), replies)
        for model in models
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--models", default="qwen2.5-1.5b,qwen2.5-0.5b", help="RAPPORT_LOCAL_JUDGE_LLM values"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    replies = load_replies()
    results = asyncio.run(_measure_all(args.models.split(","), replies))
    text = render(results, replies)
    write_section("reply_judge_agreement", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
