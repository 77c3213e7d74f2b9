"""The post-call summary: the call's transcript, summarised by the configured LLM for the manager."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg
from livekit.agents import llm
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.completion import complete
from db.projections import TurnRow, load_projection
from db.summaries import Summary, save_summary
from rapport.logs import get_logger
from workflows.records import SummaryFailure, SummaryInput

__all__ = ["SummaryActivities", "transcript"]

log = get_logger(__name__)

INSTRUCTIONS = "You write short notes about phone calls for a sales manager."
QUESTION = "In two sentences, what happened on this call?"
# A small local model asked for a summary tends to continue the transcript instead; made to start
# a sentence about the caller, it writes one. A hosted model gets the question alone.
ANSWER_FORM = 'root ::= "The caller " [^\\n]+'
# The model's context is small; the end of a long call says most about how it went.
MAX_TRANSCRIPT_CHARS = 6_000
NOTHING_SAID = "The caller did not speak during this call."


def transcript(turns: Sequence[TurnRow]) -> str:
    """The conversation as the caller heard it: an interrupted reply only up to where it was cut."""
    lines = []
    for turn in turns:
        if turn.speaker == "caller":
            lines.append(f"Caller: {turn.text}")
        elif turn.interrupted:
            lines.append(f"Agent: {turn.heard_text or ''} [interrupted]")
        else:
            lines.append(f"Agent: {turn.text}")
    return "\n".join(lines)[-MAX_TRANSCRIPT_CHARS:]


class SummaryActivities:
    """Activities sharing the worker's pool and its LLM."""

    def __init__(self, pool: asyncpg.Pool, llm_factory: Callable[[], llm.LLM]) -> None:
        self._pool = pool
        self._llm = llm_factory

    @activity.defn(name="summarize_call")
    async def summarize_call(self, request: SummaryInput) -> str:
        """Write and store the call's summary; an empty answer from the LLM is retried."""
        projection = await load_projection(self._pool, request.call_id)
        if projection is None:
            raise ApplicationError(f"no call {request.call_id!r} in the store", non_retryable=True)
        model = self._llm()
        if any(t.speaker == "caller" and t.text.strip() for t in projection.turns):
            text = f"Here is a phone call.\n\n{transcript(projection.turns)}\n\n{QUESTION}"
            summary = await complete(model, INSTRUCTIONS, text, grammar=ANSWER_FORM)
            if not summary:
                raise ApplicationError(f"call {request.call_id}: the LLM wrote an empty summary")
        else:
            summary = NOTHING_SAID
        await save_summary(self._pool, Summary(request.call_id, summary, None, model.model))
        log.info("summary.written", call_id=request.call_id, chars=len(summary))
        return summary

    @activity.defn(name="record_summary_failure")
    async def record_summary_failure(self, failure: SummaryFailure) -> None:
        """Every attempt failed: the row says so, so the manager sees why there is no summary."""
        await save_summary(self._pool, Summary(failure.call_id, None, failure.error, self._llm().model))
