"""How many concurrent calls one machine carries: `rapport load` at rising concurrency.

For each level (1, 10, 20, 40, 80 by default) the same load as `rapport load` runs: scripted
callers with real audio against real agent sessions (Silero VAD included), the timed fakes of
cloud STT/LLM/TTS, the Temporal dev server and the worker recording into a scratch PostgreSQL
database on the machine's server (dropped afterwards). Each level is one wave of C calls (at
least 3), started over 10 s. Writes a section of `docs/benchmarks.md` (each level beside the
concurrency-1 baseline of the same run) and `docs/load_sweep.png`.

    .venv/bin/python -m bench.load_sweep [--levels 1,10,20,40,80] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.query_load import SERVER, scratch_database
from bench.report import RESULTS, machine_line, write_section
from loadtest.command import (
    DEFAULT_LLM_TTFT,
    DEFAULT_SCENARIO,
    DEFAULT_STT_FINAL,
    DEFAULT_TTS_TTFA,
    LoadArgs,
    load,
)
from loadtest.fakes import FakeCloud
from loadtest.latency import Latency
from rapport.logs import configure_logging
from rapport.settings import Settings
from realtime.load import LoadInputs, worker_load

__all__ = ["knee", "main", "render", "saturated"]

ROOT = Path(__file__).resolve().parent.parent
PLOT = ROOT / "docs" / "load_sweep.png"
TARGET_OVERHEAD_P95_MS = 50.0
TARGET_CALLS = 40
DEFAULT_LEVELS = "1,10,20,40,80"
DEFAULT_PROCESSES = 2
# Past the listed levels the sweep doubles the calls until it finds the knee, up to this many.
DEFAULT_MAX_CALLS = 320
# Callers notice a slower answer well before a second: more than this on the p95 is a knee.
NOTICEABLE_MS = 100.0
# A signal counts as saturated past these: a core's worth of one event loop, the machine, timers
# late by more than the overhead budget, queries slower than issue 3's target.
AGENT_PROCESS_CORE = 90.0
MACHINE = 90.0
LOOP_LAG_MS = 50.0
DB_P99_MS = 50.0


def saturated(summary: dict[str, Any], processes: int) -> list[str]:
    """What was at its limit during the level, most telling first."""
    cpu = summary["cpu"]
    found = []
    if (cpu["machine_percent_mean"] or 0) >= MACHINE:
        found.append(f"machine CPU {cpu['machine_percent_mean']:.0f}%")
    per_agent = (cpu["agent_processes_percent_mean"] or 0) / max(1, processes)
    if per_agent >= AGENT_PROCESS_CORE:
        found.append(f"agent event loops ({per_agent:.0f}% of a core each)")
    if (summary["event_loop_lag_ms_p99"] or 0) >= LOOP_LAG_MS:
        found.append(f"agent event-loop lag (p99 {summary['event_loop_lag_ms_p99']:.0f} ms)")
    if (summary["db_query_p99_ms"] or 0) >= DB_P99_MS:
        found.append(f"PostgreSQL query p99 {summary['db_query_p99_ms']:.0f} ms")
    return found


def knee(levels: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first level whose callers wait noticeably longer than at concurrency 1 (the platform's
    overhead p95 up by more than NOTICEABLE_MS), or that fails a call; None if no level does.

    Overhead, not voice-to-voice: the fakes' own delays are random draws, and the p95 of a few
    replies at concurrency 1 moves by more than a knee's worth from one run to the next.
    """
    base = levels[0]["overhead_ms_p95"] or 0
    return next(
        (s for s in levels if (s["overhead_ms_p95"] or 0) - base > NOTICEABLE_MS or s["errors"]), None
    )


def reported_load(report: dict[str, Any], settings: Settings) -> float | None:
    """The median load the agent worker's load function gives on the level's samples (this
    machine's CPU, the active calls, the agent-side p95) with `settings`, while all calls were up."""
    concurrency = report["summary"]["concurrency"]
    busy = [s for s in report["samples"] if s["active_calls"] >= max(1, round(concurrency * 0.9))]
    loads = [
        worker_load(
            LoadInputs(
                s["machine_cpu"] / 100,
                s["active_calls"],
                settings.agent_capacity,
                s["p95_ms"],
                settings.voice_to_voice_budget_ms,
                settings.load_threshold,
            )
        )
        for s in busy
    ]
    return statistics.median(loads) if loads else None


def _fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _beside(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return _fmt(value)
    return f"{value:.0f} ({value - base:+.0f})"


def render(argv: Sequence[str], reports: list[dict[str, Any]], settings: Settings) -> str:
    summaries = [r["summary"] for r in reports]
    base = summaries[0]
    processes = max(r["run"]["processes"] for r in reports)
    fakes = reports[0]["run"]["fakes"]
    rows = []
    for report, s in zip(reports, summaries, strict=True):
        cpu = s["cpu"]
        rows.append(
            f"| {s['concurrency']} | {s['calls']} | {s['replies']} "
            f"| {_beside(s['voice_to_voice_ms_p50'], base['voice_to_voice_ms_p50'])} "
            f"| {_beside(s['voice_to_voice_ms_p95'], base['voice_to_voice_ms_p95'])} "
            f"| {_fmt(s['overhead_ms_p50'])} | **{_fmt(s['overhead_ms_p95'])}** "
            f"| {s['events_lost']} | {s['errors']} "
            f"| {_fmt(cpu['machine_percent_mean'])} | {_fmt(cpu['agent_processes_percent_mean'])} "
            f"| {_fmt(cpu['temporal_worker_percent_mean'])} | {_fmt(cpu['temporal_server_percent_mean'])} "
            f"| {_fmt(cpu['postgres_percent_mean'])} | {_fmt(s['event_loop_lag_ms_p99'])} "
            f"| {_fmt(s['db_query_p99_ms'], 1)} | {_fmt(reported_load(report, settings), 2)} |"
        )
    bent = knee(summaries)
    if bent is None:
        verdict = f"No knee up to {summaries[-1]['concurrency']} calls."
    else:
        limits = saturated(bent, processes) or ["nothing we measure at its limit"]
        added = (bent["overhead_ms_p95"] or 0) - (base["overhead_ms_p95"] or 0)
        verdict = (
            f"The knee: at {bent['concurrency']} concurrent calls the platform's overhead p95 is "
            f"{_fmt(bent['overhead_ms_p95'])} ms, {added:+.0f} ms on concurrency 1. "
            f"Saturated first: {'; '.join(limits)}."
        )
    at_target = next((s for s in summaries if s["concurrency"] == TARGET_CALLS), None)
    if at_target is not None:
        met = (at_target["overhead_ms_p95"] or 0) <= TARGET_OVERHEAD_P95_MS and not (
            at_target["errors"] or at_target["events_lost"]
        )
        verdict += (
            f" At {TARGET_CALLS} calls: overhead p95 {_fmt(at_target['overhead_ms_p95'])} ms, "
            f"{at_target['events_lost']} events lost, {at_target['errors']} errors: target "
            + ("met." if met else "not met.")
        )
    command = " ".join([".venv/bin/python -m bench.load_sweep", *argv])
    return "\n".join(
        [
            "## Concurrent calls on one machine",
            "",
            f"`{command}`. " + machine_line(),
            f"Each level: one wave of C calls of `{DEFAULT_SCENARIO.relative_to(ROOT)}` (five caller turns, "
            f"one barge-in; a CRM lookup per call), started over 10 s, in up to {processes} agent "
            "processes; the Temporal dev server, the worker and PostgreSQL on the same machine. "
            f"Fakes: STT final {fakes['stt_final_ms']}, LLM first token {fakes['llm_ttft_ms']}, "
            f"TTS first audio {fakes['tts_ttfa_ms']} (ms). Voice-to-voice is measured at the caller; "
            "overhead is what is left of it after the fakes' delays for that reply and the VAD's "
            "300 ms of silence (`loadtest/overhead.py`). In brackets: the change from concurrency 1.",
            "",
            "| calls at once | calls | replies | voice-to-voice p50 ms | p95 ms | overhead p50 ms "
            "| overhead p95 ms | events lost | errors | machine CPU % | agents CPU % | worker CPU % "
            "| Temporal server CPU % | PostgreSQL CPU % | agent loop lag p99 ms | DB query p99 ms "
            "| reported load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "CPU columns are means while all of a level's calls were up, in percent of one core "
            "(machine: of all cores). Reported load: the median the agent worker's load function "
            f"(`realtime/load.py`, capacity {settings.agent_capacity}, budget "
            f"{settings.voice_to_voice_budget_ms} ms) gives on the level's figures; at "
            f"{settings.load_threshold:g} it tells LiveKit it is full.",
            "",
            verdict,
            "",
            f"![overhead and saturation by concurrency]({PLOT.relative_to(ROOT / 'docs')})",
            "",
            f"Target (issue 7): {TARGET_OVERHEAD_P95_MS:g} ms overhead p95 at {TARGET_CALLS} concurrent "
            "calls on this 2-core machine, no event lost, no error.",
        ]
    )


def plot(reports: list[dict[str, Any]], path: Path = PLOT) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = [r["summary"] for r in reports]
    levels = [s["concurrency"] for s in summaries]
    fig, (latency, load) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    latency.plot(levels, [s["overhead_ms_p95"] for s in summaries], "o-", label="overhead p95")
    latency.plot(levels, [s["overhead_ms_p50"] for s in summaries], "o--", label="overhead p50")
    latency.axhline(TARGET_OVERHEAD_P95_MS, color="grey", linestyle=":", label="target p95 (50 ms)")
    latency.set_ylabel("ms added by the platform")
    latency.set_yscale("symlog", linthresh=100)
    latency.set_ylim(bottom=0)
    latency.legend(loc="upper left")
    latency.set_title("Voice-to-voice overhead and saturation by concurrent calls")
    load.plot(
        levels,
        [s["cpu"]["machine_percent_mean"] for s in summaries],
        "o-",
        label="machine CPU, % of all cores",
    )
    load.plot(
        levels,
        [s["cpu"]["agent_processes_percent_mean"] for s in summaries],
        "o-",
        label="agent processes, % of one core",
    )
    load.plot(
        levels,
        [
            s["cpu"]["temporal_server_percent_mean"] + s["cpu"]["temporal_worker_percent_mean"]
            for s in summaries
        ],
        "o-",
        label="Temporal server + worker, % of one core",
    )
    load.plot(levels, [s["event_loop_lag_ms_p99"] for s in summaries], "s--", label="agent loop lag p99 ms")
    load.set_xlabel("concurrent calls")
    load.legend(loc="upper left")
    bent = knee(summaries)
    for axis in (latency, load):
        axis.grid(alpha=0.3)
        if bent is not None:
            axis.axvline(bent["concurrency"], color="red", alpha=0.4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def _sweep(
    levels: list[int], processes: int, keep: Path | None, max_calls: int
) -> list[dict[str, Any]]:
    """Each listed level, then twice the last, and so on while no knee shows and within max_calls."""
    fakes = FakeCloud(
        stt_final=Latency.parse(DEFAULT_STT_FINAL),
        llm_ttft=Latency.parse(DEFAULT_LLM_TTFT),
        tts_ttfa=Latency.parse(DEFAULT_TTS_TTFA),
    )
    reports = []
    async with scratch_database(SERVER) as url:
        settings = Settings.from_env({"DATABASE_URL": url})
        queue = list(levels)
        while queue:
            concurrency = queue.pop(0)
            report_path = (keep or Path("/tmp")) / f"load_sweep_{concurrency}.json"
            args = LoadArgs(
                calls=max(3, concurrency),
                concurrency=concurrency,
                report=report_path,
                seed=1,
                scenario=DEFAULT_SCENARIO,
                ramp_s=10.0,
                fakes=fakes,
                metrics_port=None,
                progress=True,
                processes=processes,
            )
            report = await load(settings, args)
            summary = report["summary"]
            print(
                f"load_sweep: {concurrency} at once: overhead p95 {summary['overhead_ms_p95']} ms, "
                f"machine CPU {summary['cpu']['machine_percent_mean']}%",
                file=sys.stderr,
            )
            reports.append(report)
            if not queue and knee([r["summary"] for r in reports]) is None and concurrency * 2 <= max_calls:
                queue.append(concurrency * 2)
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Concurrent calls on one machine.")
    parser.add_argument("--levels", default=DEFAULT_LEVELS, help="concurrency levels, comma-separated")
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES, help="agent processes")
    parser.add_argument(
        "--max-calls",
        type=int,
        default=DEFAULT_MAX_CALLS,
        help="with no knee at the listed levels, double the calls up to this many",
    )
    parser.add_argument("--keep", type=Path, help="keep each level's report in this folder")
    parser.add_argument(
        "--from", dest="source", type=Path, help="render the reports kept in this folder instead of running"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ as it is")
    args = parser.parse_args(argv)
    configure_logging("warning")
    levels = [int(x) for x in args.levels.split(",")]
    if args.source is not None:
        reports = [_read(args.source / f"load_sweep_{c}.json") for c in levels]
    else:
        reports = asyncio.run(_sweep(levels, args.processes, args.keep, args.max_calls))
    # The command that makes these figures (where reports were kept or read from is beside the point).
    shown = [f"--levels {args.levels}"] if args.levels != DEFAULT_LEVELS else []
    shown += [f"--processes {args.processes}"] if args.processes != DEFAULT_PROCESSES else []
    text = render(shown, reports, Settings.from_env({}))
    if not args.no_write:
        write_section("load_sweep", text, RESULTS)
        plot(reports)
    print(text)
    return 0


def _read(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


if __name__ == "__main__":
    raise SystemExit(main())
