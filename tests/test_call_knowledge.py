"""Knowledge bases in a call: fetched through the call's workflow, held in process, searched per turn."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client

from db.knowledge import ingest_folder, load_index_chunks
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.knowledge import CallKnowledge, held_index
from realtime.recorder import EventRecorder
from realtime.session import Models
from realtime.transports.scenario import load_scenario
from realtime.transports.scripted import run_scripted_call
from tests.workflow_calls import hang_up, open_call
from workflows.records import CallInput

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "examples" / "knowledge" / "routewise"


async def _ingested(pool: asyncpg.Pool, name: str) -> str:
    await ingest_folder(pool, name, DOCS)
    version, _ = await load_index_chunks(pool, name)
    return version


async def test_the_index_comes_through_the_workflow_in_pages_and_only_once_per_version(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """A base larger than a page arrives whole, in order; asked again at that version, nothing is sent."""
    name = f"kb_{uuid.uuid4().hex[:8]}"
    version = await _ingested(pool, name)
    _, stored = await load_index_chunks(pool, name)
    call_id = uuid.uuid4().hex
    handle = await open_call(temporal, CallInput(call_id))
    recorder = EventRecorder(call_id, temporal)
    recorder.started.set()
    fetched = await recorder.knowledge(name, None, page_chunks=7)
    assert fetched is not None
    assert fetched[0] == version and fetched[1] == stored and len(stored) > 7
    assert await recorder.knowledge(name, version, page_chunks=7) is None
    await hang_up(handle)


async def test_a_base_nobody_ingested_is_skipped_and_the_call_keeps_the_others(
    temporal: Client, pool: asyncpg.Pool, worker: None
) -> None:
    """An unknown name in a chart costs the call that base only: the known one is loaded and searchable."""
    name = f"kb_{uuid.uuid4().hex[:8]}"
    await _ingested(pool, name)
    call_id = uuid.uuid4().hex
    handle = await open_call(temporal, CallInput(call_id))
    recorder = EventRecorder(call_id, temporal)
    recorder.started.set()
    knowledge = CallKnowledge(recorder.knowledge)
    await knowledge.load(["nobody_ingested_this", name])
    assert knowledge.loaded == [name]
    held = held_index(name)
    assert held is not None and len(held) > 0
    found = await knowledge.search(["nobody_ingested_this", name], "Do you support SSO with Okta?")
    assert found is not None and found.hits[0][0] == name
    assert found.hits[0][1].source == "security.pdf"
    await hang_up(handle)


@pytest.mark.usefixtures("worker")
async def test_a_callers_product_question_is_answered_from_the_stage_knowledge(
    temporal: Client, pool: asyncpg.Pool, settings: Settings, models: Models, tmp_path: Path
) -> None:
    """The stage's base reaches the call through its workflow; the caller's question draws passages."""
    await _ingested(pool, "routewise")
    scenario = tmp_path / "question.yaml"
    scenario.write_text(
        "statechart: routewise_inbound\ncaller:\n  turns:\n"
        "    - say: Hi Alex, I have a question about your pricing.\n"
        "    - say: How much is the middle plan for each truck?\n",
        encoding="utf-8",
    )
    calls = CallFactory.create(settings, models, recorder_client=temporal)
    report: dict[str, Any] = (await run_scripted_call(load_scenario(scenario), calls)).data
    retrieved = [e for e in report["events"] if e["type"] == "knowledge_retrieved"]
    assert retrieved, "no caller turn drew on the knowledge base"
    sources = [p["source"] for e in retrieved for p in e["passages"]]
    assert "pricing.md" in sources
    assert all(p["kb"] == "routewise" for e in retrieved for p in e["passages"])
    # The log keeps where passages came from, never their text.
    assert all(set(p) == {"kb", "source", "heading", "score"} for e in retrieved for p in e["passages"])
