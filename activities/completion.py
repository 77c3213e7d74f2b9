"""One text completion from whichever LLM is configured (local llama.cpp or a provider)."""

from __future__ import annotations

from livekit.agents import llm
from livekit.agents.types import NOT_GIVEN

from realtime.plugins.llama_llm import LlamaLLM

__all__ = ["complete"]


async def complete(model: llm.LLM, instructions: str, text: str, *, grammar: str | None = None) -> str:
    """The model's whole answer to `text` under `instructions`, stripped.

    `grammar` (GBNF) binds the local model to an answer form; a hosted model gets the
    instructions alone, which it follows.
    """
    chat = llm.ChatContext.empty()
    chat.add_message(role="system", content=instructions)
    chat.add_message(role="user", content=text)
    extra = {"grammar": grammar} if grammar and isinstance(model, LlamaLLM) else NOT_GIVEN
    parts: list[str] = []
    async with model.chat(chat_ctx=chat, extra_kwargs=extra) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                parts.append(chunk.delta.content)
    return "".join(parts).strip()
