"""Starting call workflows the way the recorder does, with simple event streams to record."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle

from realtime.events import CallEnded, CallEvent, CallStarted, MachineTransition
from realtime.recorder import TASK_QUEUE, to_record
from workflows.call import CallWorkflow, post_call_id
from workflows.post_call import PostCallWorkflow
from workflows.records import CallInput, EventBatch, PostCallResult

__all__ = ["call_events", "hang_up", "open_call", "post_call_result", "start_call"]


async def start_call(temporal: Client, start: CallInput, first: EventBatch) -> WorkflowHandle[Any, int]:
    """Start a call's workflow the way the recorder does: signal-with-start with the first batch."""
    return await temporal.start_workflow(
        CallWorkflow.run,
        start,
        id=start.call_id,
        task_queue=TASK_QUEUE,
        start_signal="record",
        start_signal_args=[first],
    )


def call_events(call_id: str, transitions: int) -> list[CallEvent]:
    events: list[CallEvent] = [CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2")]
    states = ["listening", "user_speaking", "endpointing", "thinking", "agent_speaking"]
    for i in range(transitions):
        source, dest = states[i % 5], states[(i + 1) % 5]
        events.append(MachineTransition(0.01 * (i + 1), "turn_taking", "e", source, dest))
    events.append(CallEnded(0.01 * (transitions + 1), "caller"))
    return events


async def open_call(temporal: Client, start: CallInput) -> WorkflowHandle[Any, int]:
    """A call under way: started, the last event (its hang-up, seq 5) not yet sent, as when the
    call asks its workflow for something (its CRM record, a tool)."""
    events = call_events(start.call_id, 3)[:-1]
    return await start_call(temporal, start, EventBatch([to_record(i + 1, e) for i, e in enumerate(events)]))


async def hang_up(handle: WorkflowHandle[Any, int]) -> int:
    """Send an open call's `call_ended` (seq 5) and wait for the workflow to store everything."""
    await handle.signal(CallWorkflow.record, EventBatch([to_record(5, CallEnded(0.05, "caller"))]))
    return await handle.result()


async def post_call_result(temporal: Client, call_id: str) -> PostCallResult:
    """Wait for the call's post-call workflow (scorecard, summary) and return what it came to."""
    return await temporal.get_workflow_handle_for(PostCallWorkflow.run, post_call_id(call_id)).result()
