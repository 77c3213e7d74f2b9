"""What is said, per embedded LLM: the example callers (`examples/callers/*.yaml`, espeak-ng voices,
pauses, noise, a 44.1 kHz recording) through whole local calls, checked by `quality`.

For each model (`RAPPORT_LOCAL_LLM` values, all in the same run): the caller's WER, lost turns
(caller turns never answered), bad replies by kind, the conversation stage each call reached, and
voice-to-voice latency at the caller (first reply, and every reply; median and p95). Writes JSON
(`--json`) and a section of `docs/benchmarks.md`.

    .venv/bin/python -m bench.conversation_quality [--models qwen2.5-1.5b,gemma3-270m] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.report import RESULTS, machine_line, percentile, write_section
from quality.calls import call_turns, chart_identifiers, chart_names
from quality.checks import Kind, check_call
from rapport.logs import configure_logging
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from statecharts.parse import parse_statechart

__all__ = ["CallResult", "main", "run_model"]

ROOT = Path(__file__).resolve().parent.parent
CALLERS = sorted((ROOT / "examples" / "callers").glob("*.yaml"))
CHARTS = ROOT / "statecharts" / "definitions"


@dataclass(frozen=True)
class CallResult:
    caller: str
    caller_wer: float
    caller_turns: int
    lost_turns: int
    findings: dict[str, int]
    stage: str
    voice_to_voice_ms: list[int]
    transcript: list[str]


def _stage(report: dict[str, Any], chart: str) -> str:
    """The last stage the conversation machine entered before the call ended."""
    stages = [
        e["dest"]
        for e in report["events"]
        if e["type"] == "machine_transition" and e["machine"] == chart and e["dest"] != "ended"
    ]
    return stages[-1] if stages else "?"


async def run_call(path: Path, calls: CallFactory) -> CallResult:
    scenario = load_scenario(path)
    chart, problems = parse_statechart(CHARTS / f"{scenario.statechart}.yaml")
    if chart is None:
        raise SystemExit(f"{scenario.statechart}: {problems}")
    report: dict[str, Any] = (await run_scripted_call(scenario, calls)).data
    turns = call_turns(report["turns"], [t.phrases for t in scenario.turns if t.say is not None])
    quality = check_call(turns, identifiers=chart_identifiers(chart), known=chart_names(chart))
    kinds = Counter(f.kind.value for f in quality.findings)
    return CallResult(
        caller=path.stem,
        caller_wer=round(quality.caller_wer, 3),
        caller_turns=sum(1 for t in report["turns"] if t["speaker"] == "caller"),
        lost_turns=kinds.pop(Kind.UNANSWERED.value, 0),
        findings=dict(kinds),
        stage=_stage(report, chart.id),
        voice_to_voice_ms=list(report["latency"]["voice_to_voice_ms"]),
        # Transcripts stay in the benchmark's own output, never in logs.
        transcript=[f"{t['speaker']}: {t['heard_text'] or t['text']}" for t in report["turns"]],
    )


async def run_model(model: str, callers: list[Path]) -> list[CallResult]:
    settings = Settings.from_env({**os.environ, "RAPPORT_LOCAL_LLM": model})
    calls = CallFactory.create(settings, Models.load(settings))
    await calls.warm_up(load_scenario(callers[0]).statechart)
    return [await run_call(path, calls) for path in callers]


def _ms(values: list[int], q: float) -> str:
    return f"{percentile(values, q):.0f}" if values else "–"


def model_row(model: str, results: list[CallResult]) -> str:
    wer = statistics.mean(r.caller_wer for r in results)
    lost = sum(r.lost_turns for r in results)
    turns = sum(r.caller_turns for r in results)
    bad = Counter[str]()
    for r in results:
        bad.update(r.findings)
    first = [r.voice_to_voice_ms[0] for r in results if r.voice_to_voice_ms]
    every = [ms for r in results for ms in r.voice_to_voice_ms]
    stages = Counter(r.stage for r in results)
    return (
        f"| {model} | {wer:.3f} | {lost}/{turns} | "
        + (", ".join(f"{k} {n}" for k, n in sorted(bad.items())) or "none")
        + " | "
        + ", ".join(f"{s} {n}" for s, n in stages.most_common())
        + f" | {_ms(first, 50)} / {_ms(first, 95)} | {_ms(every, 50)} / {_ms(every, 95)} |"
    )


def render(results: dict[str, list[CallResult]]) -> str:
    callers = len(next(iter(results.values()), []))
    lines = [
        "## Conversation quality, in voices we did not make",
        "",
        "`.venv/bin/python -m bench.conversation_quality`. " + machine_line(),
        f"{callers} callers (`examples/callers/`: espeak-ng voices, mid-sentence pauses, one "
        "noisy, one through a 44.1 kHz stereo WAV) against the sales buyer, per embedded LLM, in one "
        "run; checks from `quality/`. Caller WER: mean over calls. Lost turns: caller turns never "
        "answered. Stage: where each call's conversation ended. Latency: voice-to-voice at the caller, "
        "p50 / p95 ms.",
        "",
        "| model | caller WER | lost turns | bad replies by kind | stage reached | first reply "
        "| every reply |",
        "|---|---|---|---|---|---|---|",
        *[model_row(model, calls) for model, calls in results.items()],
        "",
    ]
    return "\n".join(lines)


async def _main(models: list[str], callers: list[Path]) -> dict[str, list[CallResult]]:
    return {model: await run_model(model, callers) for model in models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--models",
        default=os.environ.get("RAPPORT_LOCAL_LLM", "qwen2.5-1.5b"),
        help="comma-separated RAPPORT_LOCAL_LLM values, run one after another (default: the configured one)",
    )
    parser.add_argument("--callers", type=int, default=len(CALLERS), help="how many of the callers")
    parser.add_argument("--json", type=Path, help="also write every call's figures and transcript here")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning")
    results = asyncio.run(_main(args.models.split(","), CALLERS[: args.callers]))
    if args.json is not None:
        args.json.write_text(
            json.dumps({m: [asdict(r) for r in calls] for m, calls in results.items()}, indent=2) + "\n",
            encoding="utf-8",
        )
    text = render(results)
    write_section("conversation_quality", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
