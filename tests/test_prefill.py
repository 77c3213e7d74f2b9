"""What the local model evaluates ahead of a reply: the reply then finds its prompt in the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import pytest
import structlog
from livekit.agents import AgentSession, llm
from livekit.agents.voice.events import UserInputTranscribedEvent, UserStateChangedEvent
from livekit.agents.voice.generation import update_instructions
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from rapport.settings import Settings
from realtime.agent import StageAgent
from realtime.call import CallFactory
from realtime.plugins.llama_llm import LlamaLLM
from realtime.session import Models
from realtime.tools import conversation_registry
from realtime.transports.livekit_worker import prewarmed
from statecharts.clock import ManualClock
from statecharts.load import load_statechart

DEFINITIONS = Path(__file__).resolve().parent.parent / "statecharts" / "definitions"
# Only a failure waits this long: a drafted reply needs no model, one written now would wait forever.
_NEVER_S = 30.0


def _prompt(model: LlamaLLM, agent: StageAgent, chat: llm.ChatContext) -> str:
    """The reply's request as the model reads it, as `llm_node` would send it."""
    tools = [t for t in agent.tools if isinstance(t, llm.Tool)]
    llama = model.llama
    formatter = Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama.detokenize([llama.token_eos()]).decode(),
        bos_token="",
    )
    messages: Any = model.messages(agent.persona.framed(chat), tools)
    return formatter(messages=messages).prompt


def _tokens(model: LlamaLLM, text: str) -> list[int]:
    return list(model.llama.tokenize(text.encode(), add_bos=False, special=True))


def _prompt_tokens(model: LlamaLLM, agent: StageAgent, chat: llm.ChatContext) -> list[int]:
    """The tokens of the reply's request."""
    return _tokens(model, _prompt(model, agent, chat))


def _cached_prefix(model: LlamaLLM, tokens: list[int]) -> int:
    llama = model.llama
    cached = np.asarray(llama.input_ids[: llama.n_tokens])
    n = min(len(cached), len(tokens))
    mismatch = np.nonzero(cached[:n] != np.asarray(tokens[:n]))[0]
    return int(mismatch[0]) if len(mismatch) else n


def _sales_agent() -> StageAgent:
    """A call's agent for the sales chart, at its opening stage."""
    registry = conversation_registry()
    chart = load_statechart(DEFINITIONS / "sales_roleplay.yaml", registry)
    return StageAgent(chart, registry, clock=ManualClock(), on_transition=lambda _r: None)


async def _prefilled_turn(models: Models, words: str) -> tuple[StageAgent, llm.ChatContext]:
    """A call's agent once the caller's `words` were transcribed (not yet committed), and the chat
    the reply to them will be asked with."""
    agent = _sales_agent()
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


async def _reply(model: LlamaLLM, agent: StageAgent, chat: llm.ChatContext) -> str:
    """The reply `llm_node` would stream for `chat`."""
    tools = [t for t in agent.tools if isinstance(t, llm.Tool)]
    parts: list[str] = []
    async with model.chat(chat_ctx=agent.persona.framed(chat), tools=tools) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                parts.append(chunk.delta.content)
    return "".join(parts)


def _reply_logged(logs: list[MutableMapping[str, Any]]) -> MutableMapping[str, Any]:
    """How the model came by the reply: drafted ahead, or written when asked for."""
    return next(e for e in logs if e["event"] == "llama.reply")


async def _model_free(model: LlamaLLM) -> None:
    """Until nothing (a draft being written) holds the model."""

    def wait() -> None:
        with model.lock:
            pass

    await asyncio.to_thread(wait)


async def test_the_reply_to_words_still_being_endpointed_is_written_before_it_is_asked_for(
    models: Models,
) -> None:
    """The caller's words, once transcribed, get their reply drafted while the turn is endpointed:
    the request for it streams the draft and needs the model no more (here it is held elsewhere)."""
    assert isinstance(models.llm, LlamaLLM)
    agent, chat = await _prefilled_turn(models, "How do your drivers plan their routes today?")
    await _model_free(models.llm)
    with models.llm.lock, structlog.testing.capture_logs() as logs:
        reply = await asyncio.wait_for(_reply(models.llm, agent, chat), _NEVER_S)
    assert reply.strip()
    assert _reply_logged(logs)["drafted"] is True


async def test_a_draft_for_other_words_is_not_spoken(models: Models) -> None:
    """When the committed turn is not the words the draft answered (the caller went on, the turn was
    heard again whole), the reply is written for the committed words."""
    assert isinstance(models.llm, LlamaLLM)
    agent, _ = await _prefilled_turn(models, "How do your drivers plan their routes today?")
    chat = agent.chat_ctx.copy()
    chat.add_message(role="user", content="How do your drivers plan their routes today? And who does it?")
    with structlog.testing.capture_logs() as logs:
        reply = await _reply(models.llm, agent, chat)
    assert reply.strip()
    event = _reply_logged(logs)
    assert event["drafted"] is False and event["draft_for_other_words"] is True


async def test_the_caller_speaking_again_drops_the_draft(models: Models) -> None:
    """A draft answers the words so far; when the caller speaks again it is dropped (freeing the
    CPU for the STT), and the turn's reply is written when it is asked for."""
    assert isinstance(models.llm, LlamaLLM)
    words = "How do your drivers plan their routes today?"
    agent = _sales_agent()
    async with AgentSession(llm=models.llm) as session:
        await session.start(agent)
        await agent.prefilled()
        session.emit("user_input_transcribed", UserInputTranscribedEvent(transcript=words, is_final=True))
        await agent.prefilled()
        session.emit("user_state_changed", UserStateChangedEvent(old_state="listening", new_state="speaking"))
        await _model_free(models.llm)
        chat = agent.chat_ctx.copy()
    chat.add_message(role="user", content=words)
    with structlog.testing.capture_logs() as logs:
        reply = await _reply(models.llm, agent, chat)
    assert reply.strip()
    assert _reply_logged(logs)["drafted"] is False


def _call_chat(agent: StageAgent) -> llm.ChatContext:
    """A call's chat once the greeting is said: the instructions, the opening stage's note, the
    persona's earlier call, the greeting."""
    chat = agent.chat_ctx.copy()
    update_instructions(chat, instructions=agent.instructions, add_if_missing=True)
    chat.add_message(role="assistant", content="Northwind Freight, this is Dana.")
    return chat


async def _prefill(model: LlamaLLM, agent: StageAgent, chat: llm.ChatContext) -> int:
    """Prefill `chat` as the agent does; how many prompt tokens the model evaluated for it."""
    llama_cpp.llama_perf_context_reset(model.llama.ctx)
    await model.prefill(agent.persona.framed(chat), [t for t in agent.tools if isinstance(t, llm.Tool)])
    return int(llama_cpp.llama_perf_context(model.llama.ctx).n_p_eval)


async def test_after_a_reply_only_the_callers_next_words_are_left_to_evaluate(models: Models) -> None:
    """The prefill after a reply (as the caller listens) takes in the reply and the reminder of who
    answers the caller's next line: once the caller's words are transcribed, the model evaluates
    them and the template's few tokens, not the reminder too (about 240 ms of it, evaluated after the
    words when it followed them)."""
    assert isinstance(models.llm, LlamaLLM)
    agent = _sales_agent()
    chat = _call_chat(agent)
    await _model_free(models.llm)
    await _prefill(models.llm, agent, chat)
    chat.add_message(role="user", content="Hi Dana, this is Sam from Routewise.")
    evaluated = await _prefill(models.llm, agent, chat)
    prompt = _prompt(models.llm, agent, chat)
    words = prompt.rindex("<|im_start|>user")
    assert prompt[words:].startswith("<|im_start|>user\nRep: Hi Dana, this is Sam from Routewise.<|im_end|>")
    left = len(_tokens(models.llm, prompt)) - len(_tokens(models.llm, prompt[:words]))
    assert evaluated <= left + 1, (evaluated, left)


async def test_a_stage_move_evaluates_the_stages_note_not_the_call_so_far(models: Models) -> None:
    """A move adds the new stage's note at the prompt's end: the model evaluates that note and what
    follows it, not the call before it, which stays cached (seven seconds once, on the benchmark
    call, when the stage's instructions led the prompt)."""
    assert isinstance(models.llm, LlamaLLM)
    agent = _sales_agent()
    chat = _call_chat(agent)
    chat.add_message(role="user", content="Hi, this is Sam from Routewise. How do you plan routes?")
    chat.add_message(role="assistant", content="Spreadsheets, mostly. Why do you ask?")
    await _model_free(models.llm)
    await _prefill(models.llm, agent, chat)  # after the reply, as the caller listens
    await agent.move("rep_stated_purpose")
    chat.items.append(agent.chat_ctx.items[-1])
    evaluated = await _prefill(models.llm, agent, chat)
    prompt = _prompt(models.llm, agent, chat)
    note = prompt.rindex("<|im_start|>system")  # Qwen's template, as the shipped models have
    assert "Reveal one pain" in prompt[note:]
    before_note = len(_tokens(models.llm, prompt[:note]))
    assert before_note > 500  # the call so far, as it was cached
    # llama.cpp evaluates again the last cached token of a prompt it continues.
    assert evaluated <= len(_tokens(models.llm, prompt)) - before_note + 1, (evaluated, before_note)


async def _warmed_by_rapport_call(settings: Settings, models: Models) -> Models:
    await CallFactory.create(settings, models).warm_up("sales_roleplay")
    return models


async def _warmed_by_the_livekit_worker(settings: Settings, models: Models) -> Models:
    # livekit runs a job process's set-up outside any event loop.
    return (await asyncio.to_thread(prewarmed, settings)).models


@pytest.mark.parametrize("warmed", [_warmed_by_rapport_call, _warmed_by_the_livekit_worker])
async def test_warming_up_for_a_chart_evaluates_its_opening_prompt(
    settings: Settings, models: Models, warmed: Callable[[Settings, Models], Awaitable[Models]]
) -> None:
    """After `rapport call`'s warm-up (`CallFactory.warm_up(chart)`), or a LiveKit job process's
    set-up, a call's first request (the chart's instructions, tools and earlier call, as a real
    session puts them) finds all of it evaluated: the model evaluates at most a token or two of
    it, not the ~550 the first caller once waited for."""
    assert isinstance(models.llm, LlamaLLM)
    await _model_free(models.llm)
    model = (await warmed(settings, models)).llm
    assert isinstance(model, LlamaLLM)
    context = model.llama.ctx
    llama_cpp.llama_perf_context_reset(context)
    agent = _sales_agent()
    async with AgentSession(llm=model) as session:
        await session.start(agent)
        await agent.prefilled()
        evaluated = llama_cpp.llama_perf_context(context).n_p_eval
    assert evaluated <= 2, evaluated
