"""The slow work after a call, started by the call's workflow once every event is stored.

It outlives the call's workflow (a child with the ABANDON close policy): the summary and the
scorecard take seconds, and nothing about them should hold the call's log open.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.records import PostCallInput, SummaryFailure, SummaryInput

__all__ = ["PostCallWorkflow"]

# A local model on two cores writes a summary in seconds; a provider may be slower or down.
SUMMARY_ATTEMPT = timedelta(minutes=2)
SUMMARY_ATTEMPTS = 3


@workflow.defn(name="post_call")
class PostCallWorkflow:
    @workflow.run
    async def run(self, request: PostCallInput) -> str | None:
        """The call's summary, or None when the LLM failed every attempt (the store says why)."""
        try:
            summary: str = await workflow.execute_activity(
                "summarize_call",
                SummaryInput(call_id=request.call_id),
                start_to_close_timeout=SUMMARY_ATTEMPT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_attempts=SUMMARY_ATTEMPTS
                ),
                result_type=str,
            )
        except ActivityError as exc:
            cause = exc.cause or exc
            await workflow.execute_activity(
                "record_summary_failure",
                SummaryFailure(call_id=request.call_id, error=f"{type(cause).__name__}: {cause}"),
                start_to_close_timeout=timedelta(seconds=10),
            )
            return None
        return summary
