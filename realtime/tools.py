"""The conversation tool registry: tools a statechart stage may list, implemented in code."""

from __future__ import annotations

from livekit.agents import RunContext, llm

from statecharts.registry import Registry

__all__ = ["conversation_registry"]


def _end_call_tool() -> llm.RawFunctionTool:
    async def end_call(raw_arguments: dict[str, object], context: RunContext) -> str:
        # Drain: the goodbye the LLM is about to say still reaches the caller.
        context.session.shutdown(drain=True)
        return "The call is ending. Say a brief goodbye."

    return llm.function_tool(
        end_call,
        raw_schema={
            "name": "end_call",
            "description": "Hang up. Call only when the conversation is clearly over.",
            "parameters": {"type": "object", "properties": {}},
        },
    )


def conversation_registry() -> Registry:
    registry = Registry()
    registry.tool("end_call", _end_call_tool)
    return registry
