"""What the local model evaluates ahead of a reply: the reply then finds its prompt in the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from livekit.agents import AgentSession, llm
from livekit.agents.voice.events import UserInputTranscribedEvent
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from realtime.agent import StageAgent
from realtime.plugins.llama_llm import LlamaLLM
from realtime.session import Models
from realtime.tools import conversation_registry
from statecharts.clock import ManualClock
from statecharts.load import load_statechart

DEFINITIONS = Path(__file__).resolve().parent.parent / "statecharts" / "definitions"


def _prompt_tokens(model: LlamaLLM, agent: StageAgent, chat: llm.ChatContext) -> list[int]:
    """The tokens of the reply's request, as `llm_node` would send it."""
    tools = [t for t in agent.tools if isinstance(t, llm.Tool)]
    llama = model.llama
    formatter = Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama.detokenize([llama.token_eos()]).decode(),
        bos_token="",
    )
    messages: Any = model.messages(agent.persona.framed(chat), tools)
    prompt = formatter(messages=messages).prompt
    return list(llama.tokenize(prompt.encode(), add_bos=False, special=True))


def _cached_prefix(model: LlamaLLM, tokens: list[int]) -> int:
    llama = model.llama
    cached = np.asarray(llama.input_ids[: llama.n_tokens])
    n = min(len(cached), len(tokens))
    mismatch = np.nonzero(cached[:n] != np.asarray(tokens[:n]))[0]
    return int(mismatch[0]) if len(mismatch) else n


async def _prefilled_turn(models: Models, words: str) -> tuple[StageAgent, llm.ChatContext]:
    """A call's agent once the caller's `words` were transcribed (not yet committed), and the chat
    the reply to them will be asked with."""
    registry = conversation_registry()
    chart = load_statechart(DEFINITIONS / "sales_roleplay.yaml", registry)
    agent = StageAgent(chart, registry, clock=ManualClock(), on_transition=lambda _r: None)
    async with AgentSession(llm=models.llm) as session:
        await session.start(agent)
        await agent.prefilled()  # the instructions, evaluated as the call starts
        session.emit("user_input_transcribed", UserInputTranscribedEvent(transcript=words, is_final=True))
        await agent.prefilled()
        chat = agent.chat_ctx.copy()
    chat.add_message(role="user", content=words)
    return agent, chat


async def test_words_still_being_endpointed_are_in_the_cache_as_the_reply_asks_for_them(
    models: Models,
) -> None:
    """The caller's words, prefilled as their transcript arrives, sit in the cache framed as the
    reply will ask for them, in the stage they were said in even when they fire a move: all of
    its prompt but the last token."""
    assert isinstance(models.llm, LlamaLLM)
    words = "Hi Dana, this is Sam from Routewise. How do your drivers plan their routes today?"
    agent, chat = await _prefilled_turn(models, words)
    assert agent.triggered(words) == "rep_stated_purpose" and agent.stage == "opening"
    reply = _prompt_tokens(models.llm, agent, chat)
    assert _cached_prefix(models.llm, reply) >= len(reply) - 1
