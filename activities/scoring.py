"""The scorecard: exact metrics first, then the rubric judged by the configured LLM, then a webhook.

Metrics are stored the moment they are computed, so a scorecard exists (rubric `pending`) even if
the LLM is slow or fails; a rubric that cannot be judged leaves the metrics and says why.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
from livekit.agents import llm
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.completion import answer_odds, complete
from activities.webhook_signature import SIGNATURE_HEADER, sign
from db.event_store import UnknownCall, read_events
from db.projections import load_projection
from db.scorecards import load_scorecard, save_metrics, save_rubric
from rapport.logs import get_logger
from rapport.settings import Secret
from realtime.plugins.llama_llm import LlamaLLM
from scoring.judge import MalformedAnswer, Odds, judge, transcript_lines
from scoring.metrics import compute_metrics
from scoring.rubric import RubricError, rubric_for
from workflows.records import RubricFailure, ScoreInput

__all__ = ["ScoringActivities"]

log = get_logger(__name__)

WEBHOOK_TIMEOUT_S = 10.0


class ScoringActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        llm_factory: Callable[[], llm.LLM],
        *,
        rubric_dir: Path,
        webhook: Secret | None,
        webhook_secret: Secret | None = None,
    ) -> None:
        self._pool = pool
        self._llm = llm_factory
        self._rubric_dir = rubric_dir
        self._webhook = webhook
        self._webhook_secret = webhook_secret

    @activity.defn(name="score_metrics")
    async def score_metrics(self, request: ScoreInput) -> None:
        try:
            events = await read_events(self._pool, request.call_id)
        except UnknownCall as exc:
            raise ApplicationError(str(exc), non_retryable=True) from None
        # A long call's metrics take tens of milliseconds of CPU: not on the loop every activity shares.
        metrics = await asyncio.to_thread(compute_metrics, request.call_id, events)
        await save_metrics(self._pool, request.call_id, metrics.as_json())

    @activity.defn(name="judge_rubric")
    async def judge_rubric(self, request: ScoreInput) -> float:
        """Judge the call against its statechart's rubric and store the verdict; the overall score.

        A broken or missing rubric file is final (its FILE:LINE problems are the error); an LLM
        answer that is not YES-with-a-line or NO is retried.
        """
        projection = await load_projection(self._pool, request.call_id)
        if projection is None:
            raise ApplicationError(f"no call {request.call_id!r} in the store", non_retryable=True)
        try:
            rubric = rubric_for(projection.call.statechart or "", self._rubric_dir)
        except RubricError as exc:
            # Named within the rubric folder: the scorecard (and its API) show this to managers,
            # who need the file and line, not where the server keeps it.
            folder = str(self._rubric_dir)
            problems = str(exc).replace(f"{folder}:1:1: ", "").replace(f"{folder}{os.sep}", "")
            raise ApplicationError(problems, type="RubricError", non_retryable=True) from None
        lines = transcript_lines(projection.turns, projection.call.started_at or 0.0, rubric)
        model = self._llm()
        # The local model's leaning towards each answer, where it has one to read.
        odds: Odds | None = functools.partial(answer_odds, model) if isinstance(model, LlamaLLM) else None
        try:
            verdict = await judge(rubric, lines, lambda i, text, g: complete(model, i, text, grammar=g), odds)
        except MalformedAnswer as exc:
            raise ApplicationError(str(exc), type="MalformedAnswer") from None
        await save_rubric(
            self._pool, request.call_id, rubric_name=rubric.id, criteria=verdict.criteria, score=verdict.score
        )
        log.info("scorecard.judged", call_id=request.call_id, rubric=rubric.id, score=verdict.score)
        return verdict.score

    @activity.defn(name="record_rubric_failure")
    async def record_rubric_failure(self, failure: RubricFailure) -> None:
        await save_rubric(
            self._pool,
            failure.call_id,
            rubric_name=failure.rubric_name,
            criteria=[],
            score=None,
            error=failure.error,
        )
        log.warning("scorecard.rubric_failed", call_id=failure.call_id)

    @activity.defn(name="notify_scorecard")
    async def notify_scorecard(self, request: ScoreInput) -> bool:
        """POST the finished scorecard to RAPPORT_SCORECARD_WEBHOOK; False when none is set."""
        if not self._webhook:
            return False
        card = await load_scorecard(self._pool, request.call_id)
        if card is None:
            raise ApplicationError(f"no scorecard for call {request.call_id!r}", non_retryable=True)
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
        body = json.dumps({"event": "scorecard.ready", "scorecard": card.as_json()}).encode()
        headers = {"Content-Type": "application/json"}
        if self._webhook_secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._webhook_secret, at=int(time.time()))
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self._webhook.value, data=body, headers=headers) as response,
        ):
            if response.status >= 300:
                raise ApplicationError(f"the scorecard webhook answered {response.status}")
        log.info("scorecard.webhook_sent", call_id=request.call_id)
        return True
