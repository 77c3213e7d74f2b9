"""The conversation tool registry: tools a statechart stage may list, implemented in code.

Each is a `ToolSpec` (name, description, JSON Schema of its arguments, body) that
`realtime.call_tools.build_tool` turns into a livekit tool behind the stage and schema checks.
The CRM and calendar tools run in the call's workflow, for the call's own caller: none of them
takes an account, a contact or a phone number.
"""

from __future__ import annotations

import functools
from typing import Any

from livekit.agents import RunContext, llm
from livekit.agents.llm import ToolError

from rapport.logs import get_logger
from realtime.call_tools import CallTools, ToolSpec, build_tool, workflow_tool
from realtime.triggers import register_triggers
from statecharts.registry import Registry
from workflows.records import NOTE_MAX_CHARS, SLOT_ID_PATTERN

__all__ = ["HANDOFF", "TOOLS", "conversation_registry"]

log = get_logger(__name__)

HANDOFF = "I'll put you through to a colleague now."

_NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


async def _end_call(context: RunContext, tools: CallTools | None, arguments: dict[str, Any]) -> str:
    # Drain: the goodbye the LLM is about to say still reaches the caller.
    context.session.shutdown(drain=True)
    return "The call is ending. Say a brief goodbye."


async def _transfer_to_human(
    context: RunContext, tools: CallTools | None, arguments: dict[str, Any]
) -> llm.ToolResult:
    await context.wait_for_playout()  # whatever the LLM said before calling the tool
    await context.session.say(HANDOFF)
    if tools is not None and tools.hand_off is not None:
        try:
            await tools.hand_off()
        except Exception as exc:  # the SIP trunk refused: the caller is still here, say so
            tools.fail(context.function_call.call_id, "transfer_failed")
            log.error("tool.transfer_failed", call_id=tools.call_id, error=type(exc).__name__)
            raise ToolError(
                "The transfer did not go through. Apologise, and offer to have a colleague call back."
            ) from None
    context.session.shutdown(drain=True)
    # Nothing follows the hand-off: the colleague (or the dial tone) speaks next.
    return llm.ToolResult("The caller was handed to a colleague.", reply_required=False)


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "end_call",
        "Hang up. Call only when the conversation is clearly over.",
        _NO_ARGUMENTS,
        _end_call,
    ),
    ToolSpec(
        "transfer_to_human",
        "Put the caller through to a human colleague. Call when the caller asks for a person.",
        _NO_ARGUMENTS,
        _transfer_to_human,
    ),
    workflow_tool(
        "crm_lookup",
        "What the CRM knows about the caller on this call: their contact, account and recent notes.",
        _NO_ARGUMENTS,
        system="the CRM",
    ),
    workflow_tool(
        "crm_note",
        "Save a short note on the caller's CRM record: their need, team size, budget or timeline.",
        {
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "description": "The note, in a sentence or two.",
                    "minLength": 1,
                    "maxLength": NOTE_MAX_CHARS,
                    "pattern": r"\S",
                }
            },
            "required": ["text"],
            "additionalProperties": False,
        },
        system="the CRM",
    ),
    workflow_tool(
        "propose_meeting_slots",
        "Find a few free times for a thirty-minute call with an account executive.",
        _NO_ARGUMENTS,
        system="the calendar",
    ),
    workflow_tool(
        "book_meeting",
        "Book the slot the caller picked from propose_meeting_slots for this caller.",
        {
            "type": "object",
            "properties": {
                "slot": {
                    "type": "string",
                    "description": "The id propose_meeting_slots gave, e.g. maya@2026-11-10T15:00Z.",
                    "pattern": SLOT_ID_PATTERN,
                }
            },
            "required": ["slot"],
            "additionalProperties": False,
        },
        system="the calendar",
    ),
)


def conversation_registry() -> Registry:
    registry = Registry()
    for spec in TOOLS:
        registry.tool(spec.name, functools.partial(build_tool, spec))
    register_triggers(registry)
    return registry
