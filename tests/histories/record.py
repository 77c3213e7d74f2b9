"""Records call-workflow histories for the Replayer test, with whatever workflow code is imported.

Run it with the version that running calls may still be on, before changing the workflow, and
commit the files: `test_recorded_histories_replay` then fails CI on a change that would break
those calls.

    PYTHONPATH=<checkout of that version> .venv/bin/python -m tests.histories.record LABEL [OUT_DIR]
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.migrate import migrate
from realtime.events import CallEnded, CallerUtterance, CallStarted, MachineTransition
from realtime.recorder import TASK_QUEUE, to_record
from worker import build_worker
from workflows.call import CallWorkflow
from workflows.records import CallInput, EventBatch

__all__ = ["main"]

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TEMPORAL = Path(sys.executable).parent / "temporal"


def _batches(call_id: str, per_batch: int, transitions: int) -> list[EventBatch]:
    events = [
        CallStarted(0.0, call_id, "sales_roleplay", "v1", "v2"),
        *(
            MachineTransition(0.01 * i, "turn_taking", "speech_started", "listening", "user_speaking")
            for i in range(1, transitions)
        ),
        CallerUtterance(0.01 * transitions, "Do you have a minute?"),
        CallEnded(0.01 * (transitions + 1), "caller"),
    ]
    records = [to_record(i + 1, e) for i, e in enumerate(events)]
    return [EventBatch(records[i : i + per_batch]) for i in range(0, len(records), per_batch)]


async def _use_tools(handle: WorkflowHandle[Any, int]) -> None:
    """As a live call's LLM does: look the caller up, take a note, get free slots, book one."""
    from workflows.records import ToolRequest  # versions with tools only

    async def ask(name: str, arguments: dict[str, Any]) -> str:
        request = ToolRequest(name, arguments, request_id=f"call_{name}", timeout_ms=4_000)
        return (await handle.execute_update(CallWorkflow.run_tool, request)).text  # type: ignore[attr-defined]

    await ask("crm_lookup", {})
    await ask("crm_note", {"text": "Recorded for the replay test."})
    offer = await ask("propose_meeting_slots", {})
    slot = offer.split("(id ", 1)[1].split(")", 1)[0]
    await ask("book_meeting", {"slot": slot})


async def _record(
    client: Client, start: CallInput, batches: list[EventBatch], out: Path, *, tools: bool = False
) -> None:
    handle = await client.start_workflow(
        CallWorkflow.run,
        start,
        id=start.call_id,
        task_queue=TASK_QUEUE,
        start_signal="record",
        start_signal_args=[batches[0]],
    )
    if start.caller_number:
        # As a live call does: ask for the CRM record while the events stream in.
        await handle.execute_update(CallWorkflow.crm_context)
    if tools:
        await _use_tools(handle)
    for batch in batches[1:]:
        await handle.signal(CallWorkflow.record, batch)
    await handle.result()
    # Every run of a call that continued as new: each is a history a worker may have to replay.
    run_id: str | None = handle.first_execution_run_id
    index = 0
    while run_id is not None:
        run = client.get_workflow_handle(start.call_id, run_id=run_id)
        history = await run.fetch_history()
        (out.parent / f"{out.name}-run{index}.json").write_text(history.to_json(), encoding="utf-8")
        last = history.events[-1]
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = attributes.new_execution_run_id or None
        index += 1


async def record(label: str, out_dir: Path) -> None:
    name = f"rapport_histories_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await asyncpg.create_pool(SERVER.rsplit("/", 1)[0] + f"/{name}", min_size=1, max_size=4)
    assert pool is not None
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(TEMPORAL))
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        async with build_worker(env.client, pool):
            plain = f"history-{label}-plain"
            await _record(env.client, CallInput(plain), _batches(plain, 10, 25), out_dir / plain)
            if hasattr(CallInput, "caller_number"):  # versions with the CRM lookup
                crm = f"history-{label}-crm"
                start = CallInput(crm, caller_number="+15555550101")
                await _record(env.client, start, _batches(crm, 10, 25), out_dir / crm)
            if hasattr(CallWorkflow, "run_tool"):  # versions with the agent's tools
                tools = f"history-{label}-tools"
                start = CallInput(tools, caller_number="+15555550101")
                await _record(env.client, start, _batches(tools, 10, 25), out_dir / tools, tools=True)
            rotated = f"history-{label}-continued"
            await _record(
                env.client, CallInput(rotated, signals_per_run=3), _batches(rotated, 5, 40), out_dir / rotated
            )
    finally:
        await env.shutdown()
        await pool.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    label = sys.argv[1]
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent
    asyncio.run(record(label, out_dir))


if __name__ == "__main__":
    main()
