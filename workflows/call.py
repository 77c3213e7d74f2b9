"""One workflow per call (workflow id = call id): records every event, in order, exactly once.

The realtime side signals batches of events and never waits for them to be stored. Batches may
arrive twice (a sender retrying) or overlap; events are accepted by seq, so each is stored once.
The workflow continues as new before its history grows too long, carrying what is not stored yet.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.records import CallInput, EventBatch, EventRecord, StoreEventsInput

__all__ = ["CallWorkflow"]

STORE_BATCH = 200


@workflow.defn(name="call")
class CallWorkflow:
    @workflow.init
    def __init__(self, start: CallInput) -> None:
        # Set here, not in run: a signal sent with the start is handled before run begins.
        self._pending: dict[int, EventRecord] = {e.seq: e for e in start.pending}
        self._stored_through = start.stored_through
        self._ended = start.ended
        self._signals = 0
        self._signals_per_run = start.signals_per_run

    @workflow.signal
    def record(self, batch: EventBatch) -> None:
        self._signals += 1
        for event in batch.events:
            if event.seq > self._stored_through:
                self._pending.setdefault(event.seq, event)
            if event.type == "call_ended":
                self._ended = True

    @workflow.query
    def stored_through(self) -> int:
        return self._stored_through

    @workflow.run
    async def run(self, start: CallInput) -> int:
        """Store events as they come; return the last seq stored when the call has ended."""
        while True:
            await workflow.wait_condition(lambda: self._ready() or self._done() or self._rotate())
            if self._done():
                return self._stored_through
            if not self._rotate():
                await self._store_next()
                continue
            # Whatever is not stored yet travels to the next run.
            workflow.continue_as_new(
                CallInput(
                    call_id=start.call_id,
                    stored_through=self._stored_through,
                    pending=[self._pending[s] for s in sorted(self._pending)],
                    ended=self._ended,
                    signals_per_run=self._signals_per_run,
                )
            )

    def _ready(self) -> bool:
        # Only a contiguous run is stored, so the log never has a gap, even for a moment.
        return self._stored_through + 1 in self._pending

    def _done(self) -> bool:
        return self._ended and not self._pending

    def _rotate(self) -> bool:
        return self._signals >= self._signals_per_run or workflow.info().is_continue_as_new_suggested()

    async def _store_next(self) -> None:
        batch: list[EventRecord] = []
        seq = self._stored_through + 1
        while seq in self._pending and len(batch) < STORE_BATCH:
            batch.append(self._pending[seq])
            seq += 1
        await workflow.execute_activity(
            "store_events",
            StoreEventsInput(call_id=workflow.info().workflow_id, events=batch),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=5)
            ),
            result_type=int,
        )
        for event in batch:
            del self._pending[event.seq]
        self._stored_through = batch[-1].seq
