"""The query benchmark's load, in a process of its own: concurrent calls, CLI readers, a long call.

As in production, the calls' recorders and the `rapport` commands live apart from the worker, so
their Python work does not queue behind the worker's on one event loop (or the other way round).
`bench.query_load` starts this module with a JSON `Job` and reads its stdout: one line when the
long call is stored (the end of the timed window), then one with the `LoadResult`.

Each slot plays synthetic calls (`bench/synthetic_call.py`) back to back through real
`EventRecorder`s, most with a caller number so their workflows look the caller up in the CRM.
Readers do what `rapport replay` does (its first half is `rapport events`), on live and finished
calls, on a pool whose queries are timed. The long call streams alongside; once it is stored, its
log is checked against what it recorded, and the slots' callers hang up where they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import asyncpg
from temporalio.client import Client

from bench.synthetic_call import play, synthetic_call
from db.event_store import StoredEvent, UnknownCall, read_events
from db.migrate import migrate
from db.projections import Projection, load_projection, project
from db.query_times import QueryTimes, TimedStatement, baseline, timed_pool
from rapport.logs import configure_logging
from realtime.events import CallEnded, CallEvent
from realtime.recorder import EventRecorder, to_record

__all__ = ["MARK", "Job", "LoadConfig", "LoadResult", "log_problems", "main", "read_job"]

MARK = "bench.call_load "  # the prefix of the lines `bench.query_load` reads
STORE_WITHIN_S = 120.0  # a call's log must be whole this long after it hangs up
LONG_CALL_ID = "long-call"
# The built-in CRM's seeded contacts, a number it does not know, and a call without a number.
CALLER_NUMBERS = ("+15555550101", "+15555550102", "+15555550103", "+15555550104", "+15555559999", None)


@dataclass(frozen=True)
class LoadConfig:
    calls: int
    speed: float
    long_call_minutes: float
    long_call_speed: float
    call_minutes: float
    readers: int
    read_every_s: float
    seed: int


@dataclass(frozen=True)
class Job:
    load: LoadConfig
    temporal: str  # host:port
    database_url: str


@dataclass
class LoadResult:
    """What the load did, the long call's check, and the readers' query times."""

    calls: int = 0
    events: int = 0
    reads: int = 0
    live_reads: int = 0
    store_lag_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    long_call_events: int = 0
    long_call_problems: list[str] = field(default_factory=list)
    queries: list[TimedStatement] = field(default_factory=list)


@dataclass
class _Calls:
    """The calls so far: what the readers pick from."""

    live: set[str] = field(default_factory=set)
    finished: list[str] = field(default_factory=list)


async def _play(
    events: Sequence[CallEvent], recorder: EventRecorder, speed: float, stop: asyncio.Event | None
) -> None:
    """Record the call's events as they fall due; once `stop` is set, the caller hangs up there and then."""
    last_at = events[0].at

    def record(event: CallEvent) -> None:
        nonlocal last_at
        last_at = event.at
        recorder.record(event)

    playing = asyncio.ensure_future(play(events, record, speed))
    if stop is None:
        return await playing
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({playing, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if playing.done():
        return playing.result()
    playing.cancel()
    await asyncio.gather(playing, return_exceptions=True)
    recorder.record(CallEnded(last_at, "caller"))


async def _call(
    client: Client,
    call_id: str,
    caller_number: str | None,
    events: Sequence[CallEvent],
    speed: float,
    stop: asyncio.Event | None,
    calls: _Calls,
    result: LoadResult,
) -> int | None:
    """Record a call through a real recorder, as it happens; its stored count once the log is whole.

    None, and a problem noted, when the log is not whole STORE_WITHIN_S after the call hangs up.
    """
    calls.live.add(call_id)
    recorder = EventRecorder(call_id, client, caller_number=caller_number)
    sender = asyncio.create_task(recorder.run())
    try:
        await _play(events, recorder, speed, stop)
        hung_up = time.monotonic()
        recorder.close()
        await asyncio.wait_for(asyncio.shield(sender), STORE_WITHIN_S)
        count = await recorder.stored(STORE_WITHIN_S)
    except TimeoutError:
        result.problems.append(f"{call_id}: not stored within {STORE_WITHIN_S:g} s of hanging up")
        return None
    finally:
        sender.cancel()
        result.calls += 1
        result.events += recorder.recorded
    result.store_lag_s.append(time.monotonic() - hung_up)
    calls.live.discard(call_id)
    calls.finished.append(call_id)
    if count != recorder.recorded or recorder.lost:
        counts = f"recorded {recorder.recorded}, lost {recorder.lost}, stored {count}"
        result.problems.append(f"{call_id}: {counts}")
    return count


async def _slot(
    slot: int, client: Client, config: LoadConfig, calls: _Calls, result: LoadResult, stop: asyncio.Event
) -> None:
    """One line of calls, back to back, each 0.5–1.5 × `call_minutes` long; at `stop`, all hang up."""
    rng = random.Random(f"{config.seed}-slot-{slot}")
    await asyncio.sleep(rng.uniform(0, 2.0))  # calls do not all start on the same tick
    tasks: list[asyncio.Task[int | None]] = []
    while not stop.is_set():
        call_id = f"load-{slot:02d}-{len(tasks):03d}"
        events = synthetic_call(call_id, rng.uniform(0.5, 1.5) * config.call_minutes, rng.randrange(2**32))
        number = rng.choice(CALLER_NUMBERS)
        call = _call(client, call_id, number, events, config.speed, stop, calls, result)
        tasks.append(asyncio.create_task(call))
        # The next call starts as this one hangs up; storing its tail goes on meanwhile.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), (events[-1].at - events[0].at) / config.speed)
    await asyncio.gather(*tasks)


async def _reader(
    pool: asyncpg.Pool, rng: random.Random, config: LoadConfig, calls: _Calls, result: LoadResult
) -> None:
    """What `rapport replay` does (`rapport events` is its first half), on a live or a finished call."""
    while True:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * config.read_every_s)
        live = bool(calls.live) and (rng.random() < 0.5 or not calls.finished)
        if not live and not calls.finished:
            continue
        call_id = rng.choice(sorted(calls.live) if live else calls.finished)
        async with pool.acquire() as conn:
            await migrate(conn)  # as every command's connect_database does
            try:
                events = await read_events(conn, call_id)
            except UnknownCall:
                continue  # its first batch is not stored yet
            stored = await load_projection(conn, call_id)
        result.reads += 1
        result.live_reads += live
        if not live and stored != project(call_id, events):
            result.problems.append(f"{call_id}: rapport replay finds the projections differ")


def log_problems(
    recorded: Sequence[CallEvent],
    count: int | None,
    stored: Sequence[StoredEvent],
    projection: Projection | None,
    call_id: str,
) -> list[str]:
    """What differs between what a call recorded and what its log holds; empty when intact."""
    problems: list[str] = []
    if count is None:
        problems.append(f"the workflow had not stored it all {STORE_WITHIN_S:g} s after it hung up")
    elif count != len(recorded):
        problems.append(f"the workflow stored through seq {count}, {len(recorded)} were recorded")
    seqs = [e.seq for e in stored]
    if seqs != list(range(1, len(recorded) + 1)):
        distinct = len(set(seqs))
        problems.append(f"stored seqs are not 1..{len(recorded)}: {len(seqs)} rows, {distinct} distinct")
    for seq, (event, row) in enumerate(zip(recorded, stored, strict=False), start=1):
        want = to_record(seq, event)
        if (row.type, row.version, row.at, dict(row.data)) != (want.type, want.version, want.at, want.data):
            problems.append(f"seq {seq}: stored {row.type} differs from the recorded {want.type}")
            break
    if projection != project(call_id, stored):
        problems.append("the calls/turns projections differ from project(events)")
    return problems


async def _long_call(client: Client, job: Job, calls: _Calls, result: LoadResult) -> None:
    """Stream the long call under the load; once stored, check its log (untimed: not part of the load)."""
    events = synthetic_call(LONG_CALL_ID, job.load.long_call_minutes, job.load.seed)
    speed = job.load.long_call_speed
    count = await _call(client, LONG_CALL_ID, CALLER_NUMBERS[0], events, speed, None, calls, result)
    conn = await asyncpg.connect(job.database_url)
    try:
        try:
            stored = await read_events(conn, LONG_CALL_ID)
        except UnknownCall:
            stored = []
        projection = await load_projection(conn, LONG_CALL_ID)
    finally:
        await conn.close()
    result.long_call_events = len(events)
    result.long_call_problems = log_problems(events, count, stored, projection, LONG_CALL_ID)


def _say(kind: str, payload: object) -> None:
    print(MARK + json.dumps({"kind": kind, "payload": payload}), flush=True)


async def drive(job: Job) -> LoadResult:
    """Run the load until the long call is stored and checked; then let the slots' calls finish."""
    config, times, result, calls = job.load, QueryTimes(), LoadResult(), _Calls()
    client = await Client.connect(job.temporal)
    readers = await timed_pool(job.database_url, times, "cli", max(1, config.readers))
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as group:  # an error cancels every task
            for i in range(config.calls):
                group.create_task(_slot(i, client, config, calls, result, stop))
            rngs = [random.Random(f"{config.seed}-reader-{i}") for i in range(config.readers)]
            background = [group.create_task(_reader(readers, rng, config, calls, result)) for rng in rngs]
            background.append(group.create_task(baseline(job.database_url, times, "cli baseline")))
            await _long_call(client, job, calls, result)
            times.on = False
            _say("long_call_stored", None)
            stop.set()
            for task in background:
                task.cancel()
    finally:
        await readers.close()
    result.queries = times.export()
    return result


def read_job(text: str) -> Job:
    raw = json.loads(text)
    return Job(LoadConfig(**raw["load"]), raw["temporal"], raw["database_url"])


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.call_load JOB_JSON`, as `bench.query_load` runs it."""
    args = sys.argv[1:] if argv is None else argv
    configure_logging("warning")  # stdout carries the results; logs go to stderr
    result = asyncio.run(drive(read_job(args[0])))
    _say("result", asdict(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
