"""One workflow per call (workflow id = call id): records every event, in order, exactly once.

The realtime side signals batches of events and never waits for them to be stored. Batches may
arrive twice (a sender retrying) or overlap; events are accepted by seq, so each is stored once.
The workflow continues as new before its history grows too long, carrying what is not stored yet.

Beside the events it runs the call's slow work: the CRM lookup when the call starts (the call
asks for the result with the `crm_context` update and never waits on it to talk), the tools the
LLM calls that touch data (the `run_tool` update: scoped here to this call and its caller, never
to anything the LLM names) and, once every event is stored, the post-call workflow (summary,
scoring), which outlives this one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.post_call import PostCallWorkflow
    from workflows.records import (
        NOTES_PER_CALL,
        CallInput,
        CrmLookup,
        CrmLookupInput,
        EventBatch,
        EventRecord,
        KnowledgePage,
        KnowledgeRequest,
        PostCallInput,
        StoreEventsInput,
        ToolActivityInput,
        ToolRequest,
        ToolResult,
    )

__all__ = ["CALL_TIMEOUT", "CRM_TIMEOUT", "TOOL_ACTIVITIES", "CallWorkflow", "post_call_id"]

STORE_BATCH = 200
# A local activity holds the workflow task open, and queries wait for it: after these attempts
# (about 3 s at most, a database that is down, say) the batch goes to a regular activity, which
# retries for as long as it takes while the workflow answers queries and takes signals.
LOCAL_STORE_ATTEMPTS = 3
# The CRM gets this long, retries included; after that the call goes on without its context.
CRM_TIMEOUT = timedelta(seconds=15)
# Past any real call: the bound on a call whose end never arrives (its process died mid-call).
CALL_TIMEOUT = timedelta(hours=8)
# The tools whose work is an activity, by tool name. A request for any other name is refused
# before it reaches the history (the update's validator).
TOOL_ACTIVITIES = {
    "crm_lookup": "tool_crm_lookup",
    "crm_note": "tool_crm_note",
    "propose_meeting_slots": "tool_propose_meeting_slots",
    "book_meeting": "tool_book_meeting",
}


def post_call_id(call_id: str) -> str:
    return f"{call_id}/post-call"


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
        self._crm = start.crm
        self._crm_running = False
        self._caller_number = start.caller_number
        self._offered_slots = set(start.offered_slots)
        self._notes = set(start.notes)

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

    @workflow.update
    async def crm_context(self) -> CrmLookup:
        """The CRM lookup's outcome, as soon as there is one."""
        await workflow.wait_condition(lambda: self._crm is not None)
        assert self._crm is not None
        return self._crm

    @workflow.update
    async def run_tool(self, request: ToolRequest) -> ToolResult:
        """Run a tool for this call's own caller; the answer is text for the LLM to speak from."""
        call_id = workflow.info().workflow_id
        noting = request.name == "crm_note" and request.request_id not in self._notes
        if noting and len(self._notes) >= NOTES_PER_CALL and workflow.patched("notes-per-call"):
            # Notes flow into later calls' prompts: a call (or a model in a loop) adds a few.
            return ToolResult("invalid", f"This call saved its {NOTES_PER_CALL} notes; no more are saved.")
        try:
            result = await workflow.execute_activity(
                TOOL_ACTIVITIES[request.name],
                ToolActivityInput(
                    call_id=call_id,
                    caller_number=self._caller_number,
                    request_key=f"{call_id}/{request.request_id}",
                    arguments=request.arguments,
                    offered=sorted(self._offered_slots),
                ),
                # The caller is waiting: past the call's own deadline an answer is of no use.
                schedule_to_close_timeout=timedelta(milliseconds=request.timeout_ms),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(seconds=1)
                ),
                result_type=ToolResult,
            )
        except ActivityError as exc:
            return ToolResult("failed", "", error=_cause(exc))
        self._offered_slots.update(result.offered)
        if noting and result.status == "ok":
            self._notes.add(request.request_id)
        return result

    @workflow.update
    async def knowledge_page(self, request: KnowledgeRequest) -> KnowledgePage:
        """A page of a knowledge base the call's stages draw on, read off the call's hot path."""
        return await workflow.execute_activity(
            "knowledge_page",
            request,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                maximum_attempts=3,
                # A name no one has ingested stays unknown however often it is asked for.
                non_retryable_error_types=["UnknownKnowledgeBase"],
            ),
            result_type=KnowledgePage,
        )

    @run_tool.validator
    def _accept_tool(self, request: ToolRequest) -> None:
        # A refused update leaves no trace in the history and runs nothing.
        if request.name not in TOOL_ACTIVITIES:
            raise ValueError(f"no tool {request.name!r} runs in the call's workflow")
        if request.timeout_ms <= 0:
            raise ValueError("a tool needs a positive timeout")

    @workflow.run
    async def run(self, start: CallInput) -> int:
        """Store events as they come; return the last seq stored when the call has ended."""
        if self._crm is None:
            if start.caller_number and workflow.patched("crm-lookup"):
                self._crm_running = True
                asyncio.create_task(self._look_up(start.call_id, start.caller_number))  # noqa: RUF006
            else:
                self._crm = CrmLookup("no_caller")
        while True:
            await workflow.wait_condition(lambda: self._ready() or self._done() or self._rotate())
            if self._done():
                break
            if not self._rotate():
                await self._store_next()
                continue
            # Whatever is not stored yet travels to the next run.
            workflow.continue_as_new(
                CallInput(
                    call_id=start.call_id,
                    caller_number=start.caller_number,
                    stored_through=self._stored_through,
                    pending=[self._pending[s] for s in sorted(self._pending)],
                    ended=self._ended,
                    signals_per_run=self._signals_per_run,
                    crm=self._crm,
                    offered_slots=sorted(self._offered_slots),
                    notes=sorted(self._notes),
                )
            )
        if workflow.patched("post-call"):
            await workflow.start_child_workflow(
                PostCallWorkflow.run,
                PostCallInput(call_id=start.call_id),
                id=post_call_id(start.call_id),
                # Summary and scoring take seconds to minutes; the call's log is complete now.
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        return self._stored_through

    async def _look_up(self, call_id: str, caller_number: str) -> None:
        try:
            self._crm = await workflow.execute_activity(
                "crm_lookup",
                CrmLookupInput(call_id=call_id, caller_number=caller_number),
                # The adapter has its own, shorter timeout (RAPPORT_CRM_TIMEOUT_MS); this one is the
                # backstop for an adapter that hangs.
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=CRM_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=2)
                ),
                result_type=CrmLookup,
            )
        except ActivityError as exc:
            self._crm = CrmLookup("failed", error=_cause(exc))
        finally:
            self._crm_running = False

    async def _store_next(self) -> None:
        batch: list[EventRecord] = []
        seq = self._stored_through + 1
        while seq in self._pending and len(batch) < STORE_BATCH:
            batch.append(self._pending[seq])
            seq += 1
        store = StoreEventsInput(call_id=workflow.info().workflow_id, events=batch)
        if workflow.patched("store-local"):
            try:
                # In the worker that runs the workflow task: no task to schedule, dispatch and
                # complete through the server, which halved the server's CPU under load.
                await workflow.execute_local_activity(
                    "store_events",
                    store,
                    start_to_close_timeout=timedelta(seconds=1),
                    # Attempts, not a schedule-to-close timeout: the SDK's core does not end a
                    # local activity's retries at schedule-to-close (seen with temporalio 1.35).
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(milliseconds=100), maximum_attempts=LOCAL_STORE_ATTEMPTS
                    ),
                    result_type=int,
                )
            # A local activity's last failure comes as the activity's own error, unwrapped.
            except (ActivityError, ApplicationError):
                await self._store_on_server(store)
        else:
            await self._store_on_server(store)
        for event in batch:
            del self._pending[event.seq]
        self._stored_through = batch[-1].seq

    async def _store_on_server(self, store: StoreEventsInput) -> None:
        await workflow.execute_activity(
            "store_events",
            store,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=5)
            ),
            result_type=int,
        )

    def _ready(self) -> bool:
        # Only a contiguous run is stored, so the log never has a gap, even for a moment.
        return self._stored_through + 1 in self._pending

    def _settled(self) -> bool:
        # Nothing in flight that a new run could not carry on: the CRM lookup, an update waiting.
        return not self._crm_running and workflow.all_handlers_finished()

    def _done(self) -> bool:
        return self._ended and not self._pending and self._settled()

    def _rotate(self) -> bool:
        due = self._signals >= self._signals_per_run or workflow.info().is_continue_as_new_suggested()
        return due and self._settled()


def _cause(exc: ActivityError) -> str:
    cause = exc.cause or exc
    return f"{type(cause).__name__}: {cause}"
