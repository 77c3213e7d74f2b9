"""Does a slow CRM slow the first reply? Voice-to-voice with and without a 2 s CRM lookup.

Runs the opening of the benchmark call (`bench/scenarios/discovery_call.yaml`, first two caller
turns) through the real local models and the whole recording stack (Temporal dev server, the
worker, a fresh PostgreSQL database), alternating two configurations in one run:

- **baseline: no CRM lookup**: the caller has no number, so the workflow looks nothing up;
- **CRM answering in 2 s**: the caller's number is looked up in an HTTP CRM on loopback that
  answers after 2 s (`tests/crm_server.py`); the record joins the LLM's context when it arrives.

Latency is read off the scripted caller's side of the audio, as in `bench.voice_loop`. The
worker's post-call work (scorecard, summary) goes to an LLM stand-in (`bench/llm_stand_in.py`), so
the local model serves only the calls. Writes `docs/benchmarks.md`.

    .venv/bin/python -m bench.crm_first_reply [--calls 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from livekit.agents.metrics import LLMMetrics
from livekit.agents.voice.events import MetricsCollectedEvent

from bench.llm_stand_in import MODEL, serve_llm
from bench.report import RESULTS, machine_line, write_section
from bench.stack import bench_stack
from bench.voice_loop import latency_row
from rapport.logs import configure_logging
from realtime.call import Call, CallFactory
from realtime.transports.scenario import Scenario, load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.crm_server import JORDAN, serve_crm

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "bench" / "scenarios" / "discovery_call.yaml"
NUMBER = "+15555550101"
CRM_DELAY_S = 2.0
CONFIGS = ("baseline: no CRM lookup", f"CRM answering in {CRM_DELAY_S:g} s")


@dataclass(frozen=True)
class _TimedCalls(CallFactory):
    """Calls that keep, per reply, the LLM's time to first token from livekit's own metrics."""

    first_token_ms: list[list[int]] = field(default_factory=list)

    def new_call(self, statechart: str, **kwargs: Any) -> Call:
        call = super().new_call(statechart, **kwargs)
        replies: list[int] = []
        self.first_token_ms.append(replies)

        def on_metrics(ev: MetricsCollectedEvent) -> None:
            # A reply is generated inside a speech; the CRM note's prefill is not.
            if isinstance(ev.metrics, LLMMetrics) and ev.metrics.speech_id and ev.metrics.ttft >= 0:
                replies.append(round(ev.metrics.ttft * 1000))

        call.session.on("metrics_collected", on_metrics)
        return call


def _opening(number: str | None) -> Scenario:
    scenario = load_scenario(SCENARIO)
    return replace(scenario, turns=scenario.turns[:2], caller_number=number)


async def _measure(calls: int) -> dict[str, dict[str, list[int]]]:
    samples: dict[str, dict[str, list[int]]] = {
        name: {"first": [], "all": [], "first_token": []} for name in CONFIGS
    }
    async with contextlib.AsyncExitStack() as stack:
        crm_url = await stack.enter_async_context(serve_crm({NUMBER: JORDAN}, delay_s=CRM_DELAY_S))
        llm_url = await stack.enter_async_context(serve_llm(1.5))
        worker_env = {
            "RAPPORT_CRM": "http",
            "RAPPORT_CRM_URL": crm_url,
            "RAPPORT_LLM": "openai_compatible",
            "RAPPORT_LLM_BASE_URL": llm_url,
            "RAPPORT_LLM_MODEL": MODEL,
        }
        bench = await stack.enter_async_context(bench_stack(worker_env))
        timed = _TimedCalls(**vars(bench.calls))
        for _ in range(calls):
            for name, number in zip(CONFIGS, (None, NUMBER), strict=True):
                report: dict[str, Any] = (await run_scripted_call(_opening(number), timed)).data
                latencies = report["latency"]["voice_to_voice_ms"]
                samples[name]["first"].extend(latencies[:1])
                samples[name]["all"].extend(latencies)
                samples[name]["first_token"].extend(timed.first_token_ms[-1][:1])
    return samples


def render(samples: dict[str, dict[str, list[int]]], calls: int) -> str:
    return "\n".join(
        [
            "## First reply with a slow CRM",
            "",
            "`.venv/bin/python -m bench.crm_first_reply`. " + machine_line(),
            f"The opening of `bench/scenarios/discovery_call.yaml` (two caller turns), {calls} calls per "
            "configuration, alternating, in one run, through the local models and the whole recording "
            "stack. Voice-to-voice: end of the caller's audio to the first agent audio frame it receives.",
            "",
            "| configuration: first reply | calls | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|---|",
            *[latency_row(name, s["first"]) for name, s in samples.items()],
            "",
            "| configuration: every reply | replies | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|---|",
            *[latency_row(name, s["all"]) for name, s in samples.items()],
            "",
            "The first reply's LLM time to first token (livekit's `LLMMetrics.ttft`): where waiting for "
            "the CRM would show, since the record's prefill shares the model with the reply. The "
            "caller-side figures above also carry what the reply says: its audio starts once its "
            "first clause is written (to a punctuation mark, or four words), and the record in the "
            "context changes the words.",
            "",
            "| configuration: first reply | calls | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|---|",
            *[latency_row(name, s["first_token"]) for name, s in samples.items()],
            "",
            "Target (issue 3): with a CRM that takes 2 s, the first reply is no slower.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=16, help="calls per configuration (default 16)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging("warning")
    samples = asyncio.run(_measure(args.calls))
    text = render(samples, args.calls)
    write_section("crm_first_reply", text, args.output)
    print(text)


if __name__ == "__main__":
    main()
