"""How soon after hang-up a manager can read the scorecard, with the local models on this machine.

Scripted calls (the first four caller turns of `bench/scenarios/discovery_call.yaml`) run one
after another through the whole stack (`bench/stack.py`), the worker scoring with the local
model in this process, as `rapport up` and `rapport call` do. For each call, from the hang-up
(the `call_ended` event, on the wall clock via `call_started.wall_time`), read off the store's
own timestamps:

- **log stored**: the workflow has stored every event (`calls.ended_at` present);
- **metrics**: the scorecard's exact metrics are stored (rubric pending): the baseline, all the
  post-call work but the LLM's;
- **ready**: the rubric is judged (`rapport scorecard --wait` returns);
- **summary**: the post-call summary is stored.

Each call's scorecard is waited for before the next call starts. Writes `docs/benchmarks.md`.

    .venv/bin/python -m bench.scorecard_ready [--calls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import replace
from pathlib import Path

import asyncpg

from bench.report import RESULTS, machine_line, percentile, write_section
from bench.stack import bench_stack
from rapport.logs import configure_logging
from rapport.settings import Settings
from realtime.transports.scenario import Scenario, load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.workflow_calls import post_call_result

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "bench" / "scenarios" / "discovery_call.yaml"
TARGET_S = 15.0
MARKS = ("log stored", "metrics (baseline: no LLM)", "ready: rubric judged", "summary")
_SINCE_HANG_UP = """
SELECT extract(epoch FROM s.created_at) - h.at, extract(epoch FROM s.updated_at) - h.at,
       extract(epoch FROM m.created_at) - h.at
FROM (SELECT c.started_wall + (c.ended_at - c.started_at) AS at FROM calls c WHERE c.call_id = $1) h,
     scorecards s LEFT JOIN call_summaries m USING (call_id)
WHERE s.call_id = $1
"""


def _opening() -> Scenario:
    scenario = load_scenario(SCENARIO)
    return replace(scenario, turns=scenario.turns[:4], rep_id="jordan")


async def _marks(pool: asyncpg.Pool, call_id: str, stored_s: float) -> list[float]:
    row = await pool.fetchrow(_SINCE_HANG_UP, call_id)
    assert row is not None, f"no scorecard for {call_id}"
    return [stored_s, *(float(v) for v in row)]


async def _measure(calls: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {mark: [] for mark in MARKS}
    async with bench_stack({}) as bench:
        for _ in range(calls):
            report = (await run_scripted_call(_opening(), bench.calls)).data
            call_id = str(report["call_id"])
            stored = await bench.pool.fetchval(
                "SELECT extract(epoch FROM now()) - (started_wall + ended_at - started_at) FROM calls"
                " WHERE call_id = $1",
                call_id,
            )
            await post_call_result(bench.client, call_id)
            for mark, seconds in zip(MARKS, await _marks(bench.pool, call_id, float(stored)), strict=True):
                samples[mark].append(seconds)
    return samples


def render(samples: dict[str, list[float]], calls: int) -> str:
    rows = [
        f"| {mark} | {len(v)} | {statistics.median(v):.1f} | {percentile(v, 95):.1f} | {max(v):.1f} |"
        for mark, v in samples.items()
    ]
    return "\n".join(
        [
            "## Scorecard after hang-up",
            "",
            "`.venv/bin/python -m bench.scorecard_ready`. " + machine_line(),
            f"{calls} calls (the first four caller turns of `bench/scenarios/discovery_call.yaml`), "
            "one after another, through the whole stack; the worker in the same process scores with "
            f"the local {Settings.from_env().local_judge_llm} (the checks of "
            "`scoring/rubrics/sales_call.yaml`, then the summary). Seconds from the hang-up, from the "
            "store's timestamps.",
            "",
            "| stage | calls | p50 s | p95 s | max s |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "\"log stored\" is read when the call's script has finished, so it includes the script's "
            "own wait for the store. The metrics row is the baseline: everything after hang-up but "
            "the LLM's work.",
            "",
            f"Target (issue 4): the scorecard ready within {TARGET_S:g} s of hang-up (p95, local models, "
            "this machine).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=10, help="calls (default 10)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning")
    samples = asyncio.run(_measure(args.calls))
    text = render(samples, args.calls)
    write_section("scorecard_ready", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
