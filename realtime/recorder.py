"""Hands a call's events to its Temporal workflow without ever making the call wait.

`record` is the hot path: it numbers the event and appends it to a bounded in-process buffer,
nothing else. A background sender batches the buffer into signals (signal-with-start, so the
first batch also starts the workflow) and retries with backoff while Temporal is unreachable;
a batch leaves the buffer only once the server has it. If the buffer is full, the event is not
numbered, so the stored log has no gap, and the loss is counted and logged; the call's end is
always taken (the workflow, and so the scorecard, wait for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import asdict

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from knowledge.index import IndexedChunk
from rapport.logs import get_logger
from realtime.events import CallEnded, CallEvent
from workflows.call import CALL_TIMEOUT, CallWorkflow
from workflows.records import (
    CallInput,
    CrmLookup,
    EventBatch,
    EventRecord,
    KnowledgeRequest,
    ToolRequest,
    ToolResult,
    rejected,
)

__all__ = ["TASK_QUEUE", "EventRecorder"]

log = get_logger(__name__)

TASK_QUEUE = "rapport-calls"
BATCH_SIZE = 100
# A call makes a few events a second: half a second of them per signal keeps the workflow's
# history and the store's transactions few, and is what a crash of this process could lose.
FLUSH_INTERVAL_S = 0.5
RETRY_MAX_S = 5.0
# Temporal refuses a payload over 2 MiB: a signal carries at most half that, and an event that
# could never fit in one is stored as its rejection instead of being retried forever.
MAX_BATCH_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 256 * 1024


def _size(record: EventRecord) -> int:
    """About the bytes the record takes in a signal (its data as JSON, and the fields around it)."""
    return len(json.dumps(record.data, default=str)) + 100


def to_record(seq: int, event: CallEvent) -> EventRecord:
    data = asdict(event)
    at = data.pop("at")
    return EventRecord(seq=seq, type=event.type, version=event.version, at=at, data=data)


class EventRecorder:
    """One per call. `record` is safe on the audio loop; `run` is the background sender."""

    def __init__(
        self, call_id: str, client: Client, *, caller_number: str | None = None, capacity: int = 20_000
    ) -> None:
        self.call_id = call_id
        self._client = client
        self._start = CallInput(call_id=call_id, caller_number=caller_number)
        self._capacity = capacity
        # Set once the workflow exists (the first batch has started it): it can take updates.
        self.started = asyncio.Event()
        self._buffer: deque[EventRecord] = deque()
        self._seq = 0
        self._wake = asyncio.Event()
        self._closing = False
        self.lost = 0
        self.sent = 0

    @property
    def depth(self) -> int:
        """Events buffered, not yet accepted by Temporal."""
        return len(self._buffer)

    @property
    def recorded(self) -> int:
        """Events numbered so far: the count the store will hold once the sender has caught up."""
        return self._seq

    def record(self, event: CallEvent) -> None:
        if len(self._buffer) >= self._capacity and not isinstance(event, CallEnded):
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                log.warning("recorder.buffer_full", call_id=self.call_id, lost=self.lost)
            return
        self._seq += 1
        self._buffer.append(to_record(self._seq, event))
        if len(self._buffer) >= BATCH_SIZE or not self.started.is_set():
            self._wake.set()

    async def run(self) -> None:
        """Send until closed and drained. Cancel it to stop at once (what is unsent stays unsent)."""
        delay = 0.2
        while not (self._closing and not self._buffer):
            # The first batch goes at once: it starts the workflow, and with it the CRM lookup.
            can_wait = self.started.is_set() and not self._closing
            if not self._buffer or (len(self._buffer) < BATCH_SIZE and can_wait):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
                if not self._buffer:
                    continue
            batch = self._next_batch()
            try:
                await self._send(batch)
            except Exception as exc:  # any failure: keep the batch, back off, try again
                log.warning(
                    "recorder.send_failed", call_id=self.call_id, error=type(exc).__name__, retry_s=delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = 0.2
            self.started.set()
            for _ in batch:
                self._buffer.popleft()
            self.sent += len(batch)

    def _next_batch(self) -> list[EventRecord]:
        """The oldest events, at most BATCH_SIZE of them and MAX_BATCH_BYTES; an event over
        MAX_EVENT_BYTES is replaced, in the buffer, by its rejection."""
        batch: list[EventRecord] = []
        total = 0
        for i in range(min(BATCH_SIZE, len(self._buffer))):
            record, size = self._buffer[i], _size(self._buffer[i])
            if size > MAX_EVENT_BYTES:
                log.warning("recorder.event_too_large", call_id=self.call_id, seq=record.seq, size=size)
                record = rejected(record, f"{size} bytes, over the {MAX_EVENT_BYTES}-byte limit")
                self._buffer[i], size = record, _size(record)
            if batch and total + size > MAX_BATCH_BYTES:
                break
            batch.append(record)
            total += size
        return batch

    async def stored(self, within: float) -> int:
        """Wait for the workflow to finish storing (after `call_ended`); the count it stored."""
        return await asyncio.wait_for(self._handle().result(), within)

    async def crm_context(self, within: float) -> CrmLookup:
        """The CRM lookup the workflow runs for this call, once it has an outcome."""

        async def ask() -> CrmLookup:
            await self.started.wait()
            return await self._handle().execute_update(CallWorkflow.crm_context)

        return await asyncio.wait_for(ask(), within)

    async def run_tool(self, request: ToolRequest) -> ToolResult:
        """A tool's work, run by the call's workflow for this call's caller (the caller sets the deadline)."""
        await self.started.wait()
        return await self._handle().execute_update(CallWorkflow.run_tool, request)

    async def knowledge(
        self, name: str, held: str | None, page_chunks: int = KnowledgeRequest.limit
    ) -> tuple[str, list[IndexedChunk]] | None:
        """The knowledge base `name` from the call's workflow, page by page; None if `held` is current."""
        await self.started.wait()
        version: str | None = None
        chunks: list[IndexedChunk] = []
        while True:
            page = await self._handle().execute_update(
                CallWorkflow.knowledge_page,
                KnowledgeRequest(name, held, offset=len(chunks), limit=page_chunks),
            )
            if page.current:
                return None
            if version is not None and page.version != version:
                # Re-ingested while we were reading: start over, or the index would mix two versions.
                version, chunks = None, []
                continue
            version = page.version
            chunks += page.chunks
            if not page.chunks or len(chunks) >= page.total:
                return version, chunks

    def _handle(self) -> WorkflowHandle[CallWorkflow, int]:
        return self._client.get_workflow_handle_for(CallWorkflow.run, self.call_id)

    def close(self) -> None:
        """No more events; `run` returns once everything buffered is sent."""
        self._closing = True
        self._wake.set()

    async def _send(self, batch: list[EventRecord]) -> None:
        try:
            await self._client.start_workflow(
                CallWorkflow.run,
                self._start,
                id=self.call_id,
                task_queue=TASK_QUEUE,
                start_signal="record",
                start_signal_args=[EventBatch(events=batch)],
                # A batch sent again after the call's workflow finished (its first send reached the
                # server, the answer did not) must not start a second run, which would wait forever
                # for the events before it.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # Every run of it (it continues as new on long calls): a call whose end never
                # arrives (its process died) does not wait for it forever.
                execution_timeout=CALL_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            self._after_the_end(batch, await self._stored_count())

    async def _stored_count(self) -> int | None:
        """What the finished workflow stored; None if it failed or was terminated."""
        try:
            return await self._handle().result()
        except WorkflowFailureError:
            return None

    def _after_the_end(self, batch: list[EventRecord], stored: int | None) -> None:
        """A batch for a workflow that has finished: what it stored is stored; the rest is lost."""
        late = [record for record in batch if stored is None or record.seq > stored]
        if late:
            self.lost += len(late)
            log.warning("recorder.workflow_finished", call_id=self.call_id, lost=len(late), stored=stored)
