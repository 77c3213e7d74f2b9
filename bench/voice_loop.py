"""Voice-to-voice and barge-in latency, measured from the caller's side of the audio.

Runs the benchmark call (`bench/scenarios/discovery_call.yaml`) through the real local models,
several times, for two configurations in the same run:

- **rapport**: the embedded defaults (whisper encodes only the caller's utterance);
- **faster model**: the same with the smaller embedded LLM (`qwen2.5-0.5b`), whose replies are
  weaker in role (`bench.conversation_quality`): what the default gives up in latency for sense;
- **baseline**: the default stack with stock whisper's fixed 30 s encoder window.

Each latency is read off the scripted caller's report (end of the caller's audio to the first
agent audio frame it received; start of a barge-in to the agent's last frame), so it includes VAD,
STT, LLM, TTS and playback queueing: what a caller waits through. Writes `docs/benchmarks.md`.

    .venv/bin/python -m bench.voice_loop [--calls 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import RESULTS, machine_line, percentile, write_section
from rapport.logs import configure_logging
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call

__all__ = ["latency_row", "main"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "bench" / "scenarios" / "discovery_call.yaml"
FASTER_LLM = "qwen2.5-0.5b"
CONFIGS = {
    "rapport": {"RAPPORT_WHISPER_WINDOW": "utterance"},
    f"faster model ({FASTER_LLM})": {"RAPPORT_WHISPER_WINDOW": "utterance", "RAPPORT_LOCAL_LLM": FASTER_LLM},
    "baseline (stock 30 s whisper window)": {"RAPPORT_WHISPER_WINDOW": "30s"},
}


@dataclass(frozen=True)
class Samples:
    voice_to_voice_ms: list[int]
    barge_in_stop_ms: list[int]
    # Where a reply's wait goes, each from the end of the caller's audio (ms).
    stages: dict[str, list[int]]


STAGES = ("VAD: end of speech", "STT: turn committed", "LLM + TTS: first audio")


def reply_stages(report: dict[str, Any]) -> dict[str, list[int]]:
    """Per answered caller turn: when VAD saw the end, when the turn was committed, first audio."""
    transitions = [
        e for e in report["events"] if e["type"] == "machine_transition" and e["machine"] == "turn_taking"
    ]
    out: dict[str, list[int]] = {stage: [] for stage in STAGES}
    for turn in report["turns"]:
        if turn["speaker"] != "caller":
            continue
        end = turn["end_ms"]
        later = [e for e in transitions if e["at_ms"] >= end]
        marks = [
            next((e["at_ms"] for e in later if e["event"] == "speech_ended"), None),
            next((e["at_ms"] for e in later if e["dest"] == "thinking"), None),
            next((e["at_ms"] for e in later if e["event"] == "agent_audio_started"), None),
        ]
        times = [at for at in marks if at is not None]
        if len(times) == len(STAGES) and times == sorted(times):
            for stage, at in zip(STAGES, times, strict=True):
                out[stage].append(at - end)
    return out


async def run_config(env: dict[str, str], call_count: int) -> Samples:
    settings = Settings.from_env({**os.environ, **env})
    calls = CallFactory.create(settings, Models.load(settings))
    scenario = load_scenario(SCENARIO)
    await calls.warm_up(scenario.statechart)
    samples = Samples([], [], {stage: [] for stage in STAGES})
    for _ in range(call_count):
        report: dict[str, Any] = (await run_scripted_call(scenario, calls)).data
        samples.voice_to_voice_ms.extend(report["latency"]["voice_to_voice_ms"])
        samples.barge_in_stop_ms.extend(report["latency"]["barge_in_stop_ms"])
        for stage, values in reply_stages(report).items():
            samples.stages[stage].extend(values)
    return samples


def latency_row(name: str, values: list[int]) -> str:
    if not values:
        return f"| {name} | 0 | – | – | – |"
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.0f} | "
        f"{percentile(values, 95):.0f} | {max(values)} |"
    )


def render(results: dict[str, Samples], calls: int) -> str:
    lines = [
        "## Voice loop, from the caller's side",
        "",
        "`.venv/bin/python -m bench.voice_loop`. " + machine_line(),
        f"Embedded models: faster-whisper tiny.en int8, {Settings.from_env().local_llm} Q4_K_M, Piper joe, "
        "Silero VAD.",
        "",
        f"`bench/scenarios/discovery_call.yaml`, {calls} calls per configuration, in one run. "
        "Voice-to-voice: end of the caller's audio to the first agent audio frame it receives. "
        "Barge-in stop: start of the caller's talking-over audio to the agent's last frame.",
        "",
        "| configuration: voice-to-voice | replies | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *[latency_row(name, s.voice_to_voice_ms) for name, s in results.items()],
        "",
        "| configuration: barge-in stop | barge-ins | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
        *[latency_row(name, s.barge_in_stop_ms) for name, s in results.items()],
        "",
        "### Where a reply's wait goes",
        "",
        "Medians, in ms after the end of the caller's audio, from the turn-taking machine's events. "
        "The VAD needs 300 ms of silence to call the end of speech.",
        "",
        "| configuration | " + " | ".join(STAGES) + " |",
        "|---|" + "---|" * len(STAGES),
        *[
            f"| {name} | "
            + " | ".join(f"{statistics.median(v):.0f}" if v else "–" for v in s.stages.values())
            + " |"
            for name, s in results.items()
        ],
        "",
        "The baseline runs last, so it also finds the LLM's prompt cache warm from the first "
        "configuration's calls; the comparison is conservative for rapport.",
        "",
        "Targets (issues 2 and 13): voice-to-voice p50 ≤ 900 ms and p95 ≤ 1400 ms over at least 20 "
        "replies; barge-in stop p95 ≤ 300 ms. Where a faster configuration loses sense, sense wins "
        "(issue 13): the default is the model whose replies pass the content checks.",
        "",
    ]
    return "\n".join(lines)


async def _main(calls: int) -> dict[str, Samples]:
    return {name: await run_config(env, calls) for name, env in CONFIGS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2, help="calls per configuration (default 2)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning")
    results = asyncio.run(_main(args.calls))
    text = render(results, args.calls)
    write_section("voice_loop", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
