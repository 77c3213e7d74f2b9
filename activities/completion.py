"""One text completion from whichever LLM is configured (local llama.cpp or a provider)."""

from __future__ import annotations

from livekit.agents import llm

__all__ = ["complete"]


async def complete(model: llm.LLM, instructions: str, text: str) -> str:
    """The model's whole answer to `text` under `instructions`, stripped."""
    chat = llm.ChatContext.empty()
    chat.add_message(role="system", content=instructions)
    chat.add_message(role="user", content=text)
    parts: list[str] = []
    async with model.chat(chat_ctx=chat) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                parts.append(chunk.delta.content)
    return "".join(parts).strip()
