"""The `rapport load` command: its arguments, and the stack it runs the calls on.

Like `rapport call`: without TEMPORAL_ADDRESS the Temporal dev server starts and the worker runs
in this process (its post-call summaries and rubric checks answered by a `FakeCloudLLM`, and
every query it issues timed); with it, the worker runs elsewhere and DATABASE_URL must name its
database, so the stored events can be counted.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.latency import Latency, LatencyError
from rapport.settings import ConfigError, Settings

if TYPE_CHECKING:
    from loadtest.fakes import FakeCloud

# Every `rapport` command builds this parser: livekit and the rest load only when `load` runs.
DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "load_call.yaml"

__all__ = ["LoadArgs", "add_load_command", "load", "load_args"]

DEFAULT_STT_FINAL = "lognormal:450:0.25"
DEFAULT_LLM_TTFT = "lognormal:400:0.3"
DEFAULT_TTS_TTFA = "lognormal:200:0.25"


def add_load_command(commands: Any) -> None:
    load = commands.add_parser(
        "load", help="run N scripted calls, C at a time, against real sessions with timed fake providers"
    )
    load.add_argument("--calls", type=int, required=True, metavar="N", help="calls in all")
    load.add_argument("--concurrency", type=int, required=True, metavar="C", help="calls at a time")
    load.add_argument("--report", type=Path, required=True, help="where to write the JSON report")
    load.add_argument("--seed", type=int, default=1, help="seeds the fakes' latency draws")
    load.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="the callers' scenario")
    load.add_argument("--ramp-s", type=float, default=10.0, help="spread the first C calls over this")
    load.add_argument(
        "--stt-final-ms",
        default=DEFAULT_STT_FINAL,
        help=f"speech end → final (default {DEFAULT_STT_FINAL})",
    )
    load.add_argument(
        "--llm-ttft-ms", default=DEFAULT_LLM_TTFT, help=f"time to first token (default {DEFAULT_LLM_TTFT})"
    )
    load.add_argument(
        "--tts-ttfa-ms", default=DEFAULT_TTS_TTFA, help=f"time to first audio (default {DEFAULT_TTS_TTFA})"
    )
    load.add_argument("--llm-token-ms", type=float, default=15.0, help="between streamed words")
    load.add_argument(
        "--metrics-port", type=int, default=None, help="serve the agent's Prometheus metrics meanwhile"
    )
    load.add_argument(
        "--processes", type=int, default=2, help="agent processes the calls are spread over (default 2)"
    )
    load.add_argument("--no-progress", action="store_true", help="no progress bar")


@dataclass(frozen=True)
class LoadArgs:
    calls: int
    concurrency: int
    report: Path
    seed: int
    scenario: Path
    ramp_s: float
    fakes: FakeCloud
    metrics_port: int | None
    progress: bool
    processes: int


def load_args(args: argparse.Namespace) -> LoadArgs:
    """Validated arguments; ConfigError names the bad one."""
    from loadtest.fakes import FakeCloud

    if args.calls < 1 or args.concurrency < 1 or args.processes < 1:
        raise ConfigError("--calls, --concurrency and --processes must be at least 1")
    try:
        fakes = FakeCloud(
            stt_final=Latency.parse(args.stt_final_ms),
            llm_ttft=Latency.parse(args.llm_ttft_ms),
            tts_ttfa=Latency.parse(args.tts_ttfa_ms),
            llm_token_ms=args.llm_token_ms,
        )
    except LatencyError as exc:
        raise ConfigError(str(exc)) from None
    return LoadArgs(
        calls=args.calls,
        concurrency=args.concurrency,
        report=args.report,
        seed=args.seed,
        scenario=args.scenario,
        ramp_s=args.ramp_s,
        fakes=fakes,
        metrics_port=args.metrics_port,
        progress=not args.no_progress,
        processes=args.processes,
    )


async def load(settings: Settings, args: LoadArgs) -> dict[str, Any]:
    """Run the load and write its report; the report."""
    from db.query_times import QueryTimes
    from loadtest.fakes import FakeCloudLLM, FakeLedger, worker_answer
    from loadtest.run import LoadPlan, run_load
    from rapport.stack import connect_database, local_stack
    from realtime.metrics import serve_metrics
    from realtime.tools import conversation_registry
    from realtime.transports.scenario import load_scenario
    from statecharts.load import StatechartLibrary

    if settings.temporal_address and not settings.database_url:
        raise ConfigError(
            "rapport load with TEMPORAL_ADDRESS needs DATABASE_URL (the worker's) to count stored events"
        )
    scenario = load_scenario(args.scenario)
    # A wrong statechart name fails here, before services start.
    StatechartLibrary(settings.statechart_dir, conversation_registry()).get(scenario.statechart)
    plan = LoadPlan(
        calls=args.calls,
        concurrency=args.concurrency,
        scenario=scenario,
        fakes=args.fakes,
        seed=args.seed,
        ramp_s=args.ramp_s,
        processes=args.processes,
        capacity=settings.agent_capacity,
        budget_ms=settings.voice_to_voice_budget_ms,
        threshold=settings.load_threshold,
    )
    times = QueryTimes(on=False)
    worker_llm = functools.cache(
        lambda: FakeCloudLLM(
            ttft=args.fakes.llm_ttft,
            token_ms=args.fakes.llm_token_ms,
            rng=random.Random(args.seed),
            ledger=FakeLedger(),
            answer=worker_answer,
        )
    )
    async with contextlib.AsyncExitStack() as stack:
        metrics_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rapport-load-")))
        services = await stack.enter_async_context(
            local_stack(settings, worker_llm=worker_llm, pool_init=times.attach("worker"))
        )
        pool = services.pool
        if pool is None:
            pool = await connect_database(settings)
            stack.push_async_callback(pool.close)
        if args.metrics_port is not None:
            await stack.enter_async_context(serve_metrics(settings.host, args.metrics_port, str(metrics_dir)))
        report = await run_load(
            plan,
            temporal_address=services.client.service_client.config.target_host,
            pool=pool,
            query_times=times if services.runs_worker else None,
            progress=args.progress,
            metrics_dir=metrics_dir,
        )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
