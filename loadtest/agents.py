"""An agent process of `rapport load`: its share of the calls, on its own event loop.

    python -m loadtest.agents '<AgentJob as JSON>'

TEMPORAL_ADDRESS names the run's Temporal server and PROMETHEUS_MULTIPROC_DIR the shared metrics
folder (both set by `loadtest.run`). Prints one `done` line per call and a `result` line at the
end, each after `loadtest.job.MARK`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from livekit.agents import vad
from temporalio.client import Client

from loadtest.fakes import FakeCloud, FakeLedger
from loadtest.job import MARK, AgentJob, CallResult, load_audio
from loadtest.latency import Latency
from loadtest.overhead import split_reply
from rapport.logs import configure_logging, get_logger
from rapport.settings import Settings
from realtime.audio_io import ROOM_FRAME_MS
from realtime.call import CallFactory
from realtime.providers import build_vad
from realtime.transports.scenario import Scenario, load_scenario
from realtime.transports.scripted import run_scripted_call

__all__ = ["main"]

log = get_logger(__name__)

CALL_TIMEOUT_S = 300.0
LAG_EVERY_S = 0.05


def _say(kind: str, **payload: object) -> None:
    sys.stdout.write(MARK + json.dumps({"kind": kind, **payload}) + "\n")
    sys.stdout.flush()


async def _one_call(
    index: int,
    scenario: Scenario,
    fakes: FakeCloud,
    seed: int,
    calls: CallFactory,
    vad_: vad.VAD,
    audio: list[np.ndarray | None],
) -> CallResult:
    result = CallResult(index)
    # Each call's own generator: the same seed draws the same delays, whatever the interleaving.
    rng = random.Random(f"{seed}:{index}")
    ledger = FakeLedger()
    transcripts = [turn.say for turn in scenario.turns if turn.say]
    models = fakes.models(vad_, rng=rng, ledger=ledger, transcripts=transcripts)
    started = time.monotonic()
    try:
        report = await asyncio.wait_for(
            run_scripted_call(scenario, replace(calls, models=models), audio=audio, frame_ms=ROOM_FRAME_MS),
            CALL_TIMEOUT_S,
        )
    except Exception as exc:  # a failed call is a finding of the run, not the end of it
        log.warning("load.call_failed", index=index, error=type(exc).__name__)
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        result.wall_s = time.monotonic() - started
    data = report.data
    result.call_id = str(data["call_id"])
    turns = data["turns"]
    events = data["events"]
    assert isinstance(turns, list) and isinstance(events, list)
    result.caller_turns = sum(1 for t in turns if t["speaker"] == "caller")
    result.events_sent = len(events)
    result.replies = [split_reply(reply, ledger) for reply in report.replies]
    return result


async def _lag(samples: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_EVERY_S
        await asyncio.sleep(LAG_EVERY_S)
        samples.append(round(max(0.0, (loop.time() - due) * 1000), 2))


async def run(job: AgentJob, settings: Settings) -> None:
    assert settings.temporal_address, "loadtest.run sets TEMPORAL_ADDRESS"
    scenario = load_scenario(Path(job.scenario))
    audio = load_audio(Path(job.audio), scenario)
    fakes = FakeCloud(
        stt_final=Latency.parse(job.stt_final),
        llm_ttft=Latency.parse(job.llm_ttft),
        tts_ttfa=Latency.parse(job.tts_ttfa),
        llm_token_ms=job.llm_token_ms,
    )
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    vad_ = build_vad(settings)
    models = fakes.models(vad_, rng=random.Random(job.seed), ledger=FakeLedger(), transcripts=[])
    calls = replace(CallFactory.create(settings, models), recorder_client=client)
    await calls.warm_up()
    slots = asyncio.Semaphore(job.concurrency)
    lag_ms: list[float] = []
    lag = asyncio.create_task(_lag(lag_ms))

    async def caller(index: int) -> CallResult:
        if index < job.first_wave:
            await asyncio.sleep(job.ramp_s * index / job.first_wave)
        async with slots:
            result = await _one_call(index, scenario, fakes, job.seed, calls, vad_, audio)
        _say("done", index=index, ok=result.error is None)
        return result

    results = await asyncio.gather(*(caller(i) for i in job.indices))
    lag.cancel()
    _say("result", calls=[r.as_json() for r in results], lag_ms=lag_ms)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    job = AgentJob(**json.loads(args[0]))
    settings = Settings.from_env()
    configure_logging("warning", settings.log_format)
    asyncio.run(run(job, settings))
    # The result is out. Skip the interpreter's teardown: native threads (livekit's FFI,
    # onnxruntime) sometimes abort it, which would only turn a finished run into a crash report.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
