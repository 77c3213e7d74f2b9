"""The path tests' driver for a conversation chart: an `llm.LLM` that follows a script of events.

It is not a stand-in for any provider. It plays the part of the LLM the way a test plan says:
asked for a reply, it calls the planned stage event as a tool if the current stage offers it,
and otherwise (after the tool's result, or with nothing planned) says one short line. Whether
the call moved the chart is the machine's business, and the path test's to check.
"""

from __future__ import annotations

from typing import Any

from livekit.agents import APIConnectOptions, llm, utils
from livekit.agents.llm import ChatContext, Tool, ToolChoice
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

__all__ = ["ScriptedLLM"]

REPLY = "Understood. Let us go on."


class ScriptedLLM(llm.LLM):
    """Calls the event set by `plan` once, when it is offered as a tool; otherwise says `REPLY`."""

    def __init__(self) -> None:
        super().__init__()
        self._planned: str | None = None
        self.offered: list[list[str]] = []
        """The tool names of each request, for a report that says why an event was not called."""

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "rapport"

    def plan(self, event: str | None) -> None:
        self._planned = event

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        names = [] if tool_choice == "none" else [tool.id for tool in tools or []]
        self.offered.append(names)
        call = self._planned if self._planned in names else None
        if call is not None:
            self._planned = None
        return _ScriptedStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options, call=call
        )


class _ScriptedStream(llm.LLMStream):
    def __init__(
        self,
        llm_: ScriptedLLM,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool],
        conn_options: APIConnectOptions,
        call: str | None,
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._call = call

    async def _run(self) -> None:
        request_id = utils.shortuuid()
        if self._call is not None:
            call = llm.FunctionToolCall(name=self._call, arguments="{}", call_id=utils.shortuuid("call_"))
            delta = llm.ChoiceDelta(role="assistant", tool_calls=[call])
        else:
            delta = llm.ChoiceDelta(role="assistant", content=REPLY)
        self._event_ch.send_nowait(llm.ChatChunk(id=request_id, delta=delta))
