"""How a tool the LLM calls runs in a call: the checks before, the workflow behind, the record after.

A tool call runs only if
1. livekit finds it among the tools offered with this request (it refuses any other name),
2. the agent's current stage lists it: a reply that follows a stage move is still generated with
   the previous stage's tools, so this is checked again when the call arrives,
3. its arguments pass the tool's JSON Schema.
Otherwise nothing runs, and the LLM is told why. Tools that touch data ask the call's workflow
(the `run_tool` update), which scopes them to this call's caller: no argument can name another
account. A short filler line covers an answer slower than `FILLER_AFTER_S`; one that does not
come within the call's tool timeout, or fails, becomes an answer the LLM can say, and the call
goes on. Every call, run or not, becomes a `tool_called` event (`tool_events`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from jsonschema import Draft202012Validator, ValidationError
from livekit.agents import AgentSession, RunContext, llm
from livekit.agents.llm import ToolError
from livekit.agents.voice.events import FunctionToolsExecutedEvent

from rapport.logs import get_logger
from realtime.agent import StageAgent
from realtime.events import ToolCalled
from workflows.records import ToolRequest, ToolResult

__all__ = [
    "FILLER",
    "FILLER_AFTER_S",
    "CallTools",
    "ToolBody",
    "ToolSpec",
    "build_tool",
    "call_tools",
    "tool_events",
    "workflow_tool",
]

log = get_logger(__name__)

FILLER = "Let me check that."
# About the longest a pause after a question feels natural on the phone.
FILLER_AFTER_S = 0.3
# A schema's complaint quotes the offending value; past this length the LLM gets "the value" instead.
_QUOTED_CHARS = 60
_BOUNDS = frozenset({"maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems"})


@dataclass
class CallTools:
    """One call's side of its tools, reached from a tool as its session's `userdata`."""

    call_id: str = ""
    """For the logs: which call a tool failed in."""
    ask: Callable[[ToolRequest], Awaitable[ToolResult]] | None = None
    """The call's workflow (`EventRecorder.run_tool`); None when the call records nothing."""
    timeout_ms: int = 4_000
    hand_off: Callable[[], Awaitable[None]] | None = None
    """Puts the caller through to a human (and records it); None: the hand-off is only spoken."""
    errors: dict[str, str] = field(default_factory=dict)
    """Why a tool call did not run to an answer, by the LLM's call id, until it is recorded."""

    def fail(self, call_id: str, error: str) -> None:
        self.errors[call_id] = error


def call_tools(session: AgentSession) -> CallTools | None:
    """The call's tools, or None for a session no call set up (a statechart path test)."""
    try:
        data = session.userdata
    except ValueError:  # livekit's way of saying no userdata was set
        return None
    return data if isinstance(data, CallTools) else None


ToolBody = Callable[[RunContext, CallTools | None, dict[str, Any]], Awaitable[str | llm.ToolResult]]
"""What a tool does once its call has passed the checks: (context, call's tools, arguments)."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the LLM sees it (name, description, JSON Schema of its arguments) and its body."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    body: ToolBody


def _refuse(tools: CallTools | None, context: RunContext, tool: str, error: str, message: str) -> NoReturn:
    if tools is not None:
        tools.fail(context.function_call.call_id, error)
    log.warning("tool.refused", call_id=tools.call_id if tools else None, tool=tool, reason=error)
    raise ToolError(f"{message} Nothing was done.")


def _problem(error: ValidationError) -> str:
    """`text: the value is too long`: where, and what is wrong, without echoing an essay back."""
    quoted = repr(error.instance)
    message = error.message.replace(quoted, "the value") if len(quoted) > _QUOTED_CHARS else error.message
    if error.validator in _BOUNDS:  # "is too long" says nothing of how long it may be
        message += f" ({error.validator} {error.validator_value})"
    return f"{'/'.join(map(str, error.path)) or 'arguments'}: {message}"


def build_tool(spec: ToolSpec) -> llm.RawFunctionTool:
    """The livekit tool for `spec`: the stage and schema checks, then its body."""
    schema = Draft202012Validator(spec.parameters)

    async def invoke(raw_arguments: dict[str, Any], context: RunContext) -> str | llm.ToolResult:
        tools = call_tools(context.session)
        agent = context.session.current_agent
        if isinstance(agent, StageAgent) and spec.name not in agent.stage_tool_names():
            _refuse(tools, context, spec.name, "not_in_stage", f"{spec.name} is not available now.")
        problems = sorted(schema.iter_errors(raw_arguments), key=lambda e: list(map(str, e.path)))
        if problems:
            said = "; ".join(_problem(p) for p in problems)
            _refuse(tools, context, spec.name, "invalid_arguments", f"Invalid arguments ({said}).")
        return await spec.body(context, tools, raw_arguments)

    return llm.function_tool(
        invoke,
        raw_schema={"name": spec.name, "description": spec.description, "parameters": dict(spec.parameters)},
    )


def _filler_later(session: AgentSession) -> asyncio.TimerHandle:
    def say() -> None:
        # Not part of the conversation the LLM reads: it said nothing, the call did.
        with contextlib.suppress(RuntimeError):  # the session is closing: no filler then
            session.say(FILLER, add_to_chat_ctx=False)

    return asyncio.get_running_loop().call_later(FILLER_AFTER_S, say)


def workflow_tool(name: str, description: str, parameters: Mapping[str, Any], *, system: str) -> ToolSpec:
    """A tool whose work the call's workflow runs; `system` is what it reaches, as said aloud."""
    unreachable = (
        f"{system} is not answering right now. Tell the caller you can't reach {system} at the "
        "moment and carry on with the call."
    )

    async def ask_workflow(context: RunContext, tools: CallTools | None, arguments: dict[str, Any]) -> str:
        if tools is None or tools.ask is None:
            _refuse(tools, context, name, "unavailable", f"{system} is not connected on this call.")
        call_id = context.function_call.call_id
        request = ToolRequest(name, arguments, request_id=call_id, timeout_ms=tools.timeout_ms)
        filler = _filler_later(context.session)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + tools.timeout_ms / 1000
        try:
            result = await asyncio.wait_for(tools.ask(request), tools.timeout_ms / 1000)
        except Exception as exc:  # Temporal away, the workflow gone: the call goes on all the same
            # A client cancelled at the deadline may say so in its own words (Temporal's does).
            if isinstance(exc, TimeoutError) or loop.time() >= deadline:
                tools.fail(call_id, "timeout")
                log.error("tool.timed_out", call_id=tools.call_id, tool=name, timeout_ms=tools.timeout_ms)
            else:
                tools.fail(call_id, "failed")
                log.error("tool.failed", call_id=tools.call_id, tool=name, error=type(exc).__name__)
            raise ToolError(unreachable) from None
        finally:
            filler.cancel()
        if result.status == "failed":
            tools.fail(call_id, "failed")
            log.error("tool.failed", call_id=tools.call_id, tool=name, error=result.error)
            raise ToolError(unreachable)
        return result.text

    return ToolSpec(name, description, parameters, ask_workflow)


def tool_events(
    ev: FunctionToolsExecutedEvent, *, at: float, errors: dict[str, str], offered: Collection[str]
) -> list[ToolCalled]:
    """livekit's report of a step's tool calls, one `tool_called` event each, run or not.

    `errors` are the reasons this module recorded (taken as they are reported); an error result
    with none is livekit's own refusal (`refused`: a name the agent did not offer, or arguments
    that are not JSON) or a tool that broke (`failed`).
    """
    events = []
    for call, output in ev.zipped():
        error = errors.pop(call.call_id, None)
        if error is None and output.is_error:
            error = "failed" if call.name in offered else "refused"
        # Both items are stamped when made: the call as the LLM's stream produced it, the output
        # when the tool returned.
        duration = round((output.created_at - call.created_at) * 1000, 1)
        events.append(ToolCalled(at, call.name, call.arguments, output.output, error, duration))
    return events
