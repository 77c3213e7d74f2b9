"""The slow work after a call, started by the call's workflow once every event is stored.

It outlives the call's workflow (a child with the ABANDON close policy): the scorecard and the
summary take seconds, and nothing about them should hold the call's log open. The scorecard comes
first (metrics at once, then the rubric), since that is what a manager waits for.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.records import (
        PostCallInput,
        PostCallResult,
        RubricFailure,
        ScoreInput,
        SummaryFailure,
        SummaryInput,
    )

__all__ = ["PostCallWorkflow"]

# A local model on two cores judges or summarises a call in seconds; a provider may be slower or down.
LLM_ATTEMPT = timedelta(minutes=2)
LLM_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
QUICK = timedelta(seconds=30)


def _why(exc: ActivityError) -> str:
    cause = exc.cause or exc
    return f"{type(cause).__name__}: {cause}"


@workflow.defn(name="post_call")
class PostCallWorkflow:
    @workflow.run
    async def run(self, request: PostCallInput) -> PostCallResult:
        score_input = ScoreInput(call_id=request.call_id)
        await workflow.execute_activity("score_metrics", score_input, start_to_close_timeout=QUICK)
        score, status = await self._judge(score_input)
        summary = await self._summarize(request.call_id)
        try:
            await workflow.execute_activity(
                "notify_scorecard",
                score_input,
                start_to_close_timeout=QUICK,
                retry_policy=RetryPolicy(maximum_attempts=5),
                result_type=bool,
            )
        except ActivityError as exc:
            # The scorecard is stored either way; only the notice is lost, and that is logged.
            workflow.logger.warning("scorecard webhook failed: %s", _why(exc))
        return PostCallResult(rubric_status=status, score=score, summary=summary)

    async def _judge(self, score_input: ScoreInput) -> tuple[float | None, str]:
        try:
            score: float = await workflow.execute_activity(
                "judge_rubric",
                score_input,
                start_to_close_timeout=LLM_ATTEMPT,
                retry_policy=LLM_RETRY,
                result_type=float,
            )
        except ActivityError as exc:
            await workflow.execute_activity(
                "record_rubric_failure",
                RubricFailure(call_id=score_input.call_id, rubric_name="", error=_why(exc)),
                start_to_close_timeout=QUICK,
            )
            return None, "failed"
        return score, "scored"

    async def _summarize(self, call_id: str) -> str | None:
        """The call's summary, or None when the LLM failed every attempt (the store says why)."""
        try:
            summary: str = await workflow.execute_activity(
                "summarize_call",
                SummaryInput(call_id=call_id),
                start_to_close_timeout=LLM_ATTEMPT,
                retry_policy=LLM_RETRY,
                result_type=str,
            )
        except ActivityError as exc:
            await workflow.execute_activity(
                "record_summary_failure",
                SummaryFailure(call_id=call_id, error=_why(exc)),
                start_to_close_timeout=QUICK,
            )
            return None
        return summary
