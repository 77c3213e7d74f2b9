"""One text completion from whichever LLM is configured (local llama.cpp or a provider)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Sequence

from livekit.agents import llm

from quality.reply_judge import Judges
from realtime.plugins.llama_likelihood import answer_logprob
from realtime.plugins.llama_llm import LlamaLLM

__all__ = ["MAX_COMPLETION_TOKENS", "answer_likelihood", "answer_odds", "complete", "reply_judges"]

# A verdict is a few tokens and a summary a few sentences: room for both, not for an essay.
MAX_COMPLETION_TOKENS = 200


def _messages(model: LlamaLLM, instructions: str, text: str) -> list[dict[str, str]]:
    if model.has_system_role:
        return [{"role": "system", "content": instructions}, {"role": "user", "content": text}]
    return [{"role": "user", "content": f"{instructions}\n\n{text}"}]


async def answer_odds(model: LlamaLLM, instructions: str, text: str, answers: Sequence[str]) -> list[float]:
    """How likely the local model's answer starts with each of `answers` (one token each)."""
    messages = _messages(model, instructions, text)
    return await asyncio.to_thread(model.first_token_odds, messages, answers)


async def answer_likelihood(
    model: LlamaLLM, messages: Sequence[dict[str, str]], answer: str
) -> tuple[float, int]:
    """The log-probability that the local model answers `messages` with `answer`, and its tokens."""
    return await asyncio.to_thread(answer_logprob, model, messages, answer)


def reply_judges(model: llm.LLM) -> Judges:
    """The reply judge's ways of asking `model`: yes/no for any, likelihoods for the local one."""

    async def ask(instructions: str, text: str, grammar: str) -> str:
        return await complete(model, instructions, text, grammar=grammar)

    if not isinstance(model, LlamaLLM):
        return Judges(ask)
    return Judges(ask, functools.partial(answer_likelihood, model))


async def complete(model: llm.LLM, instructions: str, text: str, *, grammar: str | None = None) -> str:
    """The model's whole answer to `text` under `instructions`, stripped.

    `grammar` (GBNF) binds the local model to an answer form; a hosted model gets the
    instructions alone, which it follows. The local model answers greedily and without the live
    reply's limits (two sentences, a stop at the first off-script word), which are for speech.
    """
    if isinstance(model, LlamaLLM):
        messages = _messages(model, instructions, text)

        def run() -> str:
            pieces = model.generate(
                messages, threading.Event(), MAX_COMPLETION_TOKENS, grammar, temperature=0.0, stop=()
            )
            return "".join(pieces)

        return (await asyncio.to_thread(run)).strip()
    chat = llm.ChatContext.empty()
    chat.add_message(role="system", content=instructions)
    chat.add_message(role="user", content=text)
    parts: list[str] = []
    async with model.chat(chat_ctx=chat) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                parts.append(chunk.delta.content)
    return "".join(parts).strip()
