"""What handing one event to the recorder costs the agent's event loop.

`EventRecorder.record` is the only recording work on the hot path. This times single calls of
it over many realistic events (no sender running, so nothing else competes), beside a baseline
measured in the same run: appending the same event to a plain list, the floor for any sink.
Target (issue 3): p99 ≤ 50 µs.

    .venv/bin/python -m bench.recorder_hot_path [--events 200000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from bench.report import machine_line, percentile, write_section
from realtime.events import AgentUtterance, CallEvent, MachineTransition
from realtime.recorder import EventRecorder

__all__ = ["main"]

_PER_RECORDER = 10_000  # below the buffer's capacity: every event is accepted and numbered


def _events(count: int) -> list[CallEvent]:
    events: list[CallEvent] = []
    for i in range(count):
        if i % 10 == 9:
            text = "Sure, I have a few minutes before my next call, go ahead."
            events.append(AgentUtterance(i * 0.01, text, text[:20], True, i * 0.01 - 2, i * 0.01))
        else:
            events.append(
                MachineTransition(i * 0.01, "turn_taking", "speech_started", "listening", "user_speaking")
            )
    return events


def _time(events: list[CallEvent], sink_for: Callable[[], Callable[[CallEvent], None]]) -> list[float]:
    """Microseconds per call of the sink, one timing per event."""
    samples: list[float] = []
    clock = time.perf_counter_ns
    gc.collect()
    for start in range(0, len(events), _PER_RECORDER):
        sink = sink_for()
        for event in events[start : start + _PER_RECORDER]:
            t0 = clock()
            sink(event)
            samples.append((clock() - t0) / 1000)
    return samples


def _recorder_sink() -> Callable[[CallEvent], None]:
    # record() never touches the client; the sender that would is not started here.
    return EventRecorder("bench-call", client=None).record  # type: ignore[arg-type]


def _list_sink() -> Callable[[CallEvent], None]:
    sink: list[CallEvent] = []
    return sink.append


def main() -> None:
    parser = argparse.ArgumentParser(description="Time EventRecorder.record on the event loop's thread.")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    events = _events(args.events)
    rows = {
        "EventRecorder.record": _time(events, _recorder_sink),
        "baseline: list.append": _time(events, _list_sink),
    }
    lines = [
        "## Recorder hot path",
        "",
        "`.venv/bin/python -m bench.recorder_hot_path`. " + machine_line(),
        f"{args.events:,} events (nine machine transitions to one agent utterance), one timing per call.",
        "",
        "| sink | calls | p50 µs | p99 µs | max µs |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {len(v):,} | {statistics.median(v):.2f} | {percentile(v, 99):.2f} | {max(v):.1f} |"
            for name, v in rows.items()
        ],
        "",
        "Target (issue 3): p99 ≤ 50 µs. The max includes the odd garbage collection or page fault.",
    ]
    text = "\n".join(lines)
    write_section("recorder_hot_path", text)
    print(text)


if __name__ == "__main__":
    main()
