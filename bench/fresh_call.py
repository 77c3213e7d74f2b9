"""Latency as a user first meets it: `rapport call` in a fresh process per caller, first reply counted.

Each example caller (`examples/callers/*.yaml`) is one `bin/rapport call` run in a new process, as a
user types it: models load, the dev server and the private PostgreSQL start, the call runs, the
scorecard is made. The voice-to-voice figures come from each call's own report (end of the caller's
audio to the first agent audio it received), the first reply of every call included. Each embedded
model given runs the same callers in the same run, one after another, so the figures sit side by
side. Writes a section of `docs/benchmarks.md`.

    .venv/bin/python -m bench.fresh_call [--models qwen2.5-1.5b,qwen2.5-0.5b] [--callers 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.report import RESULTS, machine_line, percentile, write_section

__all__ = ["FreshCall", "main", "run_fresh_call"]

ROOT = Path(__file__).resolve().parent.parent
CALLERS = sorted((ROOT / "examples" / "callers").glob("*.yaml"))


@dataclass(frozen=True)
class FreshCall:
    caller: str
    wall_s: float
    """From starting the process to its exit: set-up, the call, the scorecard."""
    voice_to_voice_ms: list[int]


def run_fresh_call(scenario: Path, model: str) -> FreshCall:
    """One `rapport call` in a new process with `RAPPORT_LOCAL_LLM=model`; its report's latencies."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        started = time.monotonic()
        subprocess.run(
            [str(ROOT / "bin" / "rapport"), "call", str(scenario), "--report", str(report)],
            env={**os.environ, "RAPPORT_LOCAL_LLM": model, "RAPPORT_LOG_LEVEL": "warning"},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )
        data = json.loads(report.read_text(encoding="utf-8"))
    return FreshCall(scenario.stem, time.monotonic() - started, list(data["latency"]["voice_to_voice_ms"]))


def _row(model: str, calls: list[FreshCall]) -> str:
    first = [c.voice_to_voice_ms[0] for c in calls if c.voice_to_voice_ms]
    every = [ms for c in calls for ms in c.voice_to_voice_ms]

    def p(values: list[int], q: float) -> str:
        return f"{percentile(values, q):.0f}" if values else "–"

    wall = sorted(c.wall_s for c in calls)
    return (
        f"| {model} | {len(calls)} | {len(every)} | {p(first, 50)} / {p(first, 95)} | "
        f"{p(every, 50)} / {p(every, 95)} | {wall[len(wall) // 2]:.0f} |"
    )


def render(results: dict[str, list[FreshCall]]) -> str:
    return "\n".join(
        [
            "## A user's first call: `rapport call` in a fresh process",
            "",
            "`.venv/bin/python -m bench.fresh_call`. " + machine_line(),
            "Each caller of `examples/callers/` is one `bin/rapport call CALLER.yaml --report …` in a new "
            "process (models loaded, dev server and private PostgreSQL started, scorecard made before it "
            "exits), per embedded model, in one run. Voice-to-voice at the caller, p50 / p95 ms, the "
            "first reply of each call included; wall time is the whole command's, median.",
            "",
            "| model | calls | replies | first reply | every reply | wall s |",
            "|---|---|---|---|---|---|",
            *[_row(model, calls) for model, calls in results.items()],
            "",
            "Target (issue 13): voice-to-voice p50 ≤ 900 ms, p95 ≤ 1400 ms.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", default="qwen2.5-1.5b,qwen2.5-0.5b", help="RAPPORT_LOCAL_LLM values")
    parser.add_argument("--callers", type=int, default=len(CALLERS), help="how many of the callers")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = {
        model: [run_fresh_call(path, model) for path in CALLERS[: args.callers]]
        for model in args.models.split(",")
    }
    text = render(results)
    write_section("fresh_call", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
