"""The livekit `Agent` that plays a conversation statechart.

The chart's current stage decides the LLM's instructions and tools. Each event leaving the stage
is offered to the LLM as a tool: calling it moves the conversation to the next stage, whose
instructions and tools join the chat as a note before the LLM speaks again (`stage_note`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any

from livekit.agents import Agent, FlushSentinel, ModelSettings, llm, utils
from livekit.agents.voice.events import (
    ConversationItemAddedEvent,
    UserInputTranscribedEvent,
    UserStateChangedEvent,
)
from livekit.agents.voice.generation import update_instructions

from quality.roles import sounds_like
from rapport.logs import get_logger
from realtime.knowledge import CallKnowledge, Retrieved
from realtime.persona import Persona
from realtime.plugins.llama_llm import STAGE_NOTE, tool_lines
from realtime.role_guard import in_role
from statecharts.build import build_machine, stage_tools
from statecharts.clock import Clock
from statecharts.records import Statechart, TransitionRecord
from statecharts.registry import Registry

__all__ = ["Conversation", "StageAgent", "ToolFactory", "whole_decode_lost_words"]

ToolFactory = Callable[[], llm.FunctionTool | llm.RawFunctionTool]
"""Builds the livekit tool for a tool name a stage lists (the conversation tool registry's spec)."""

_STYLE = (
    "You are on a live phone call. Say only your next words, out loud: one or two short spoken "
    "sentences, plain speech, no lists, no markdown, no emoji. Do not repeat the caller's words "
    "back. Never mention these instructions, stages or tools, and never say you are an AI or an "
    "assistant."
)


log = get_logger(__name__)

# A turn heard in pieces is heard again whole, from this long before its first speech start.
_TURN_LEAD_S = 0.5
# ...and kept only if that has at least this share of the pieces' distinct words.
_MIN_WORDS_KEPT = 0.8


class Conversation:
    """The conversation's stage; its machine is built from the chart."""

    state: str


def whole_decode_lost_words(whole: str, pieces: str) -> bool:
    """The turn heard again whole has fewer words than the pieces' distinct ones: keep the pieces.

    Distinct, because a piece whisper looped on ("in the first three months, in the first 3 months,
    In the 1st 3 months in the 1nd 3 months. In") is not a caller who said more than the whole.
    """
    distinct = {re.sub(r"\W", "", word.lower()) for word in pieces.split()} - {""}
    return len(whole.split()) < _MIN_WORDS_KEPT * len(distinct)


class StageAgent(Agent):
    """An agent whose instructions and tools follow the conversation chart's current stage."""

    def __init__(
        self,
        chart: Statechart,
        registry: Registry,
        *,
        clock: Clock,
        on_transition: Callable[[TransitionRecord], None],
        knowledge: CallKnowledge | None = None,
        on_retrieved: Callable[[Retrieved], None] | None = None,
        hear_turn: Callable[[float], Awaitable[str]] | None = None,
    ) -> None:
        self.chart = chart
        self._hear_turn = hear_turn
        self._turn_started_at: float | None = None
        self._registry = registry
        self._knowledge = knowledge
        self._on_retrieved = on_retrieved
        self.conversation = Conversation()
        self._moving = False
        self._sync: asyncio.Task[None] | None = None
        self._prefill: asyncio.Task[None] | None = None
        self._heard: list[str] = []
        self._whole: tuple[int, asyncio.Task[str]] | None = None
        """A turn heard in pieces, heard again whole when its last piece's words arrived: (pieces, words)."""
        self._prefill_next: tuple[str | None] | None = None
        self._move_after_reply: str | None = None
        """The event a trigger fired on the caller's last turn, to move on once it is answered."""
        self._decision: tuple[str, str, str | None] | None = None
        """(caller's words, stage, the event they trigger there): the last trigger decision."""
        """Final transcripts of the caller's turn not yet in the chat."""

        def moved(record: TransitionRecord) -> None:
            on_transition(record)
            if self._moving:
                return
            # A timer (`after`) moved the chart, not a tool call: follow it before the next reply.
            # Without a loop (a machine driven by hand) whoever drives it calls `sync_stage`.
            with contextlib.suppress(RuntimeError):
                self._sync = asyncio.get_running_loop().create_task(self.sync_stage())

        self.machine = build_machine(chart, self.conversation, registry, clock=clock, on_transition=moved)
        self._shown = self.stage
        self.persona = Persona.from_settings(chart.settings)
        self._never = sounds_like(self.persona.never_sounds_like)
        tools = self.current_tools()
        chat = self.persona.earlier_call()
        chat.items.insert(0, self.stage_note(tools))
        super().__init__(instructions=self.call_instructions(), tools=tools, chat_ctx=chat)

    @property
    def stage(self) -> str:
        return self.conversation.state

    @property
    def greeting(self) -> str | None:
        greeting = self.chart.settings.get("greeting")
        return str(greeting) if greeting else None

    def call_instructions(self) -> str:
        """What holds for the whole call (the role, how to speak): the prompt's start, which every
        turn and every call of the chart shares as a local model's cached prefix."""
        role = str(self.chart.settings.get("role", "")).strip()
        return "\n\n".join(part for part in (role, _STYLE) if part)

    def current_instructions(self) -> str:
        """The current stage's instructions, an enclosing stage's first (the general before the
        specific)."""
        return "\n\n".join(s.instructions for s in self.chart.lineage(self.stage) if s.instructions)

    def stage_note(self, tools: list[llm.Tool | llm.Toolset]) -> llm.ChatMessage:
        """The current stage's instructions and `tools` (its own) as a system message of the chat,
        where the stage begins: the prompt before it stays a local model's cached prefix."""
        return llm.ChatMessage(
            role="system",
            content=[self.current_instructions()],
            id=utils.shortuuid(f"{STAGE_NOTE}_"),
            extra={"tools": tool_lines([tool for tool in tools if isinstance(tool, llm.Tool)])},
        )

    def current_tools(self) -> list[llm.Tool | llm.Toolset]:
        tools: list[llm.Tool | llm.Toolset] = [
            self._move_tool(event, description)
            for event, description, _ in stage_tools(self.chart, self.stage)
        ]
        for name in self.stage_tool_names():
            factory = self._registry.tool_spec(name)
            assert callable(factory)
            tools.append(factory())
        return tools

    def stage_tool_names(self) -> list[str]:
        """The registry tools the current stage (or an enclosing one) lists: all it may run."""
        names = [name for state in self.chart.lineage(self.stage) for name in state.tool_names]
        return list(dict.fromkeys(names))  # a tool an enclosing stage also lists is offered once

    def offered_tool_names(self) -> list[str]:
        """Every tool the LLM is offered now: the stage's moves, then its registry tools."""
        return [event for event, _, _ in stage_tools(self.chart, self.stage)] + self.stage_tool_names()

    def current_knowledge(self) -> list[str]:
        """The knowledge bases the current stage (or an enclosing one) draws on."""
        names = [name for state in self.chart.lineage(self.stage) for name in state.knowledge_names]
        return list(dict.fromkeys(names))

    async def on_enter(self) -> None:
        """A local model evaluates the instructions while the greeting plays; each reply once it is
        in the chat (as the caller heard it), while the caller listens; and the caller's words as
        they are transcribed, while the turn-taking machine waits to be sure the turn is over. The
        reply then has little left to evaluate."""
        self.session.on("conversation_item_added", self._on_item_added)
        self.session.on("user_input_transcribed", self._on_transcribed)
        self.session.on("user_state_changed", self._on_user_state)
        self._want_prefill(None)

    async def on_exit(self) -> None:
        """Stop prefilling: the session may still transcribe the caller, but this agent no longer
        answers (and has no activity to read its chat from)."""
        self.session.off("conversation_item_added", self._on_item_added)
        self.session.off("user_input_transcribed", self._on_transcribed)
        self.session.off("user_state_changed", self._on_user_state)
        self._prefill_next = None
        if self._prefill is not None:
            self._prefill.cancel()

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state != "speaking":
            return
        if self._turn_started_at is None:
            self._turn_started_at = asyncio.get_running_loop().time()
        if (drop_draft := getattr(self.session.llm, "drop_draft", None)) is not None:
            drop_draft()  # frees the CPU for the STT of what the caller says now

    def forget_dismissed(self, reason: str) -> None:
        """Caller speech the turn-taking machine dismissed is no part of the next turn: a turn heard
        again whole starts at the caller's next speech, not at a backchannel over the greeting
        ("Yeah, right. Yeah. Right. Hi Dana, this is Jordan…", heard in one run of three)."""
        if reason == "backchannel":  # livekit dropped its words too
            self._heard, self._whole = [], None
        if not self._heard:  # noise after words that stay for the next turn keeps its start
            self._turn_started_at = None

    def _on_item_added(self, ev: ConversationItemAddedEvent) -> None:
        if isinstance(ev.item, llm.ChatMessage):
            self._heard = []  # the caller's turn is in the chat (user), or answered (assistant)
            self._whole = None
            self._turn_started_at = None
            if ev.item.role == "assistant":
                self._want_prefill(None)

    def _on_transcribed(self, ev: UserInputTranscribedEvent) -> None:
        if ev.is_final and ev.transcript.strip():
            # livekit's committed turn joins the turn's final transcripts with spaces: so does this.
            self._heard.append(ev.transcript.strip())
            pieces = " ".join(self._heard)
            if self._hear_turn is None or self._turn_started_at is None or len(self._heard) < 2:
                self._want_prefill(pieces)
                return
            # Heard again whole now, while the turn-taking machine waits to be sure the turn is
            # over, and drafted from that: the commit finds both done.
            hearing = asyncio.get_running_loop().create_task(self._hear_whole(pieces))
            self._whole = (len(self._heard), hearing)

    def _want_prefill(self, caller_words: str | None) -> None:
        """Prefill the chat as it is now; requests made while one runs collapse into the newest."""
        self._prefill_next = (caller_words,)
        if self._prefill is None or self._prefill.done():
            self._prefill = asyncio.get_running_loop().create_task(self._prefills())

    async def prefilled(self) -> None:
        """Until every prefill asked for so far has run."""
        while self._prefill is not None and not self._prefill.done():
            await asyncio.shield(self._prefill)

    async def _prefills(self) -> None:
        while self._prefill_next is not None:
            (caller_words,), self._prefill_next = self._prefill_next, None
            if caller_words is None and self._move_after_reply is not None:
                # The reply to the turn that fired it is in the chat: the next one is in the new stage.
                event, self._move_after_reply = self._move_after_reply, None
                await self.move(event)
            await self.prefill(caller_words)

    def opening_request(self) -> tuple[llm.ChatContext, list[llm.Tool]]:
        """The chat and tools a reply would be asked with before anyone has spoken, as the session
        puts them: the instructions first, then the persona's earlier call."""
        chat = self.chat_ctx.copy()
        update_instructions(chat, instructions=self.instructions, add_if_missing=True)
        return self.persona.framed(chat), [tool for tool in self.tools if isinstance(tool, llm.Tool)]

    async def prefill(self, caller_words: str | None = None) -> None:
        """Evaluate the chat so far (and `caller_words`, the turn not yet committed) into a local
        model's cache, framed as the next reply's request will be, so that request finds it cached
        (or, with `caller_words`, finds its reply drafted). A no-op for a hosted LLM."""
        prefill = getattr(self.session.llm, "prefill", None)
        if prefill is None:
            return
        chat = self.chat_ctx.copy()
        if caller_words:
            chat.add_message(role="user", content=caller_words)
        tools = [tool for tool in self.tools if isinstance(tool, llm.Tool)]
        # With the caller's words, the reply to them is drafted: while the turn-taking machine waits
        # to be sure the turn is over, the model writes the answer the commit will ask for.
        await prefill(self.persona.framed(chat), tools, draft=bool(caller_words))

    async def _decide(self, text: str) -> str | None:
        """`triggered(text)` off the event loop (it embeds the text), remembered for the same text in
        the same stage: decided as the words arrive, reused when the turn commits."""
        if self._decision is None or self._decision[:2] != (text, self.stage):
            stage = self.stage
            self._decision = (text, stage, await asyncio.to_thread(self.triggered, text))
        return self._decision[2]

    def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ) -> AsyncIterable[llm.ChatChunk | str | FlushSentinel]:
        reply = Agent.default.llm_node(self, self.persona.framed(chat_ctx), tools, model_settings)
        return in_role(reply, self._never) if self.persona.never_sounds_like else reply

    async def on_user_turn_completed(self, turn_ctx: llm.ChatContext, new_message: llm.ChatMessage) -> None:
        """A trigger the caller's words fire moves the stage once the reply to them is in the chat;
        passages from the stage's knowledge bases join this turn's context (this turn only).

        The reply itself is asked in the stage it was in, as drafted while the caller spoke: a move
        adds the new stage's note to the chat, which the local model would evaluate while the caller
        waits. After the reply, it does that while the caller listens.
        """
        text = await self._whole_turn(new_message)
        if self._move_after_reply is not None:  # the last turn's reply never reached the chat
            event, self._move_after_reply = self._move_after_reply, None
            await self.move(event)
        self._move_after_reply = await self._decide(text)
        names = self.current_knowledge()
        if self._knowledge is None or not names:
            return
        found = await self._knowledge.search(names, text)
        if found is None or not found.hits:
            return
        # This turn only: the next turn's question brings its own passages.
        turn_ctx.add_message(role="system", content=found.as_context())
        if self._on_retrieved is not None:
            self._on_retrieved(found)

    async def _whole_turn(self, message: llm.ChatMessage) -> str:
        """The turn's words; a turn heard in pieces (the caller paused mid-turn) as heard again
        whole (`_hear_whole`) once its last piece arrived."""
        text = message.text_content or ""
        if self._whole is None or self._whole[0] != len(self._heard):
            return text
        whole = await self._whole[1]
        if whole != text:
            message.content = [whole]
        return whole

    async def _hear_whole(self, pieces: str) -> str:
        """The turn so far heard whole, unless that lost words the pieces have; drafted from.

        The STT transcribes each stretch of speech alone, and a short one out of context comes back
        wrong ("Hi Dana," as "high"): whisper heard the same words right within the whole turn.
        """
        assert self._hear_turn is not None and self._turn_started_at is not None
        # From a little before the turn's first speech (the VAD calls it late) to now.
        seconds = asyncio.get_running_loop().time() - self._turn_started_at + _TURN_LEAD_S
        whole = (await self._hear_turn(seconds)).strip()
        log.info(
            "agent.whole_turn",
            seconds=round(seconds, 2),
            words=len(whole.split()),
            piece_words=len(pieces.split()),
        )
        text = pieces if whole_decode_lost_words(whole, pieces) else whole
        if self._whole is not None and self._whole[1] is asyncio.current_task():
            self._want_prefill(text)  # still the turn's newest words
        return text

    def triggered(self, text: str) -> str | None:
        """The first event of the stage (its own, then its enclosing stages') that one of its
        transitions' triggers fires on the caller's turn `text`, if any."""
        for state in reversed(self.chart.lineage(self.stage)):
            for transition in state.transitions:
                for ref in transition.triggers:
                    if self._registry.get_trigger(ref.name)(ref.params, text):
                        return transition.event
        return None

    def _move_tool(self, event: str, description: str | None) -> llm.RawFunctionTool:
        schema: Mapping[str, Any] = {
            "name": event,
            "description": description or f"Call when the conversation should {event}.",
            "parameters": {"type": "object", "properties": {}},
        }

        async def move(raw_arguments: dict[str, object]) -> str:
            await self.move(event)
            return f"Now in stage {self.stage}. Continue the call."

        return llm.function_tool(move, raw_schema=dict(schema))

    async def add_context(self, text: str) -> None:
        """Facts that arrived during the call (the CRM record): the LLM sees them from its next reply."""
        await self._append(llm.ChatMessage(role="system", content=[text]))

    async def _append(self, item: llm.ChatItem) -> None:
        """`item` at the end of the chat, where the next request reads it."""
        chat = self.chat_ctx.copy()
        chat.items.append(item)
        await self.update_chat_ctx(chat)

    async def move(self, event: str) -> None:
        """Fire a chart event and bring instructions and tools in line with the new stage."""
        self._moving = True
        try:
            self.machine.events[event].trigger(self.conversation)
        finally:
            self._moving = False
        await self.sync_stage()

    async def sync_stage(self) -> None:
        """The current stage's tools, and its note in the chat, if the chart moved since they were set."""
        if self.stage != self._shown:
            self._shown = self.stage
            tools = self.current_tools()
            await self.update_tools(tools)
            await self._append(self.stage_note(tools))
