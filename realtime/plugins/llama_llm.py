"""llama-cpp-python with an embedded instruction-tuned model (`local_models.py`) as a livekit LLM.

Tokens stream out as they are sampled, so TTS starts on the first clause. Generation runs in a
worker thread; closing the stream (a barge-in) stops it at the next token. llama.cpp reuses the
KV cache for the longest shared prompt prefix, and the prompt changes only at its end
(`chat_messages`), so a turn evaluates what is new, not the call so far.

A reply can be drafted before it is asked for (`prefill(..., draft=True)`): while the turn-taking
machine waits to be sure the caller has finished, the model already writes its answer to the words
transcribed so far. A request for exactly that prompt then streams the draft; any other prompt (the
caller went on, the turn was heard again differently) or a new prefill drops it.

The prompt follows the chat template in the GGUF's own metadata. Tools are described in the
system prompt with a one-line convention, `CALL <name> <json arguments>`, which this module turns
into livekit function calls: small models keep to it more often than to a JSON tool-call format.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.agents import APIConnectOptions, llm, utils
from livekit.agents.llm import ChatContext, Tool, ToolChoice
from livekit.agents.llm.chat_context import DYNAMIC_INSTRUCTIONS_MESSAGE_ID
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr
from livekit.agents.voice.generation import INSTRUCTIONS_MESSAGE_ID

from quality.text import said_again, words
from rapport.logs import get_logger

__all__ = [
    "SENTENCE_END",
    "STAGE_NOTE",
    "LlamaLLM",
    "ReplyFilter",
    "ToolMention",
    "chat_messages",
    "load_model",
    "model_lock",
    "tool_lines",
]

log = get_logger(__name__)

_INSTRUCTION_IDS = frozenset({INSTRUCTIONS_MESSAGE_ID, DYNAMIC_INSTRUCTIONS_MESSAGE_ID})
STAGE_NOTE = "stage_note"
"""The id prefix of a chat's system messages that say what holds from there on (a conversation
stage's instructions): the tools offered are described after the last of them."""

MAX_REPLY_TOKENS = 60
MAX_SENTENCES = 2
SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
# The persona speaks English; a tiny model drifting into other scripts has lost the thread.
_OFF_SCRIPT = re.compile(r"[\u0400-\u04ff\u0590-\u06ff\u0e00-\u0e7f\u3000-\u9fff\uac00-\ud7af]")


# A live reply is sampled a little (the same words every time sound canned); a judge's or a
# summary's answer is greedy, so the same call gets the same verdict.
REPLY_TEMPERATURE = 0.3
# llama-cpp-python's named Gemma format (the old base model's) does not stop at its own turn marks.
_FORMAT_STOPS = {"gemma": ("<start_of_turn>", "<end_of_turn>")}


@functools.cache
def load_model(model_file: Path, threads: int = 2, chat_format: str | None = None) -> Any:
    """The model; without `chat_format`, prompted through the chat template in its GGUF metadata."""
    from llama_cpp import Llama

    return Llama(
        model_path=str(model_file),
        n_ctx=4096,
        n_threads=threads,
        n_batch=256,
        chat_format=chat_format,
        verbose=False,
    )


@functools.cache
def model_lock(model_file: Path, threads: int = 2) -> threading.Lock:
    """The lock of the model `load_model` shares: llama.cpp's context runs one generation at a time,
    whichever `LlamaLLM` (a call's, the worker's summaries) asks for it."""
    return threading.Lock()


class _Draft:
    """A reply being written ahead of its request, piece by piece, by one worker thread."""

    def __init__(self, messages: list[dict[str, str]]) -> None:
        self.messages = messages
        self.pieces: list[str] = []
        self.dropped = threading.Event()
        self.finished = threading.Event()
        self._changed = threading.Condition()

    def add(self, piece: str) -> None:
        with self._changed:
            self.pieces.append(piece)
            self._changed.notify_all()

    def finish(self) -> None:
        with self._changed:
            self.finished.set()
            self._changed.notify_all()

    def drop(self) -> None:
        self.dropped.set()

    def read(self, cancelled: threading.Event) -> Iterator[str]:
        """Its pieces as they are written, until it is finished; `cancelled` drops it."""
        index = 0
        while not cancelled.is_set():
            with self._changed:
                while index >= len(self.pieces) and not self.finished.is_set():
                    # Woken by the writer; the timeout only bounds how late a cancel is seen.
                    self._changed.wait(0.05)
                    if cancelled.is_set():
                        break
                ready = self.pieces[index:]
                done = self.finished.is_set()
            yield from ready
            index += len(ready)
            if done and index >= len(self.pieces):
                return
        self.drop()


@functools.cache
def _grammar(gbnf: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(gbnf, verbose=False)


def tool_lines(tools: Sequence[Tool]) -> list[tuple[str, str]]:
    """Each function tool's name and description: what the prompt tells the model of it."""
    lines = []
    for tool in tools:
        if isinstance(tool, llm.RawFunctionTool):
            schema = tool.info.raw_schema
            lines.append((str(schema["name"]), str(schema.get("description", ""))))
        elif isinstance(tool, llm.FunctionTool):
            lines.append((tool.info.name, tool.info.description or ""))
    return lines


def _tool_prompt(lines: Sequence[Sequence[str]]) -> str:
    if not lines:
        return ""
    return (
        "Actions you can take. To take one, write a line with only CALL and its name, "
        f"for example: CALL {lines[0][0]}\n" + "\n".join(f"- {name}: {text}" for name, text in lines)
    )


def chat_messages(
    chat_ctx: ChatContext, tools: list[Tool], *, system_role: bool = True
) -> list[dict[str, str]]:
    """The chat as messages the model's template takes, in an order its cache can keep.

    The instructions lead, as one system message. Everything else keeps its place, so the prompt
    only grows at its end from turn to turn: a system message after the conversation began (the
    CRM record, the stage's note when the stage was entered) is a note where it arrived, and a
    stage's note (`STAGE_NOTE`) describes the tools it lists. A move then costs the new note, not
    the whole call after the prompt's start (seconds for the local model). Without stage notes
    the instructions describe `tools`. Tool calls and results become plain text the model can read
    back; consecutive turns of one speaker join. A template without a system role (the old Gemma
    base model's) gets each note at the head of the user turn it precedes.
    """
    lead: list[str] = []
    messages: list[dict[str, str]] = []
    has_notes = any(item.id.startswith(STAGE_NOTE) for item in chat_ctx.items)

    def add(role: str, text: str) -> None:
        if not text:
            return
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += ("\n\n" if role == "system" else "\n") + text
        else:
            messages.append({"role": role, "content": text})

    for item in chat_ctx.items:
        if item.type == "message":
            text = item.text_content or ""
            if item.id.startswith(STAGE_NOTE) and (tool_prompt := _tool_prompt(item.extra.get("tools", []))):
                text = "\n\n".join(part for part in (text, tool_prompt) if part)
            if item.role in ("system", "developer") and (not messages or item.id in _INSTRUCTION_IDS):
                # livekit dates the instructions by when they were last set, so they can follow
                # the greeting in the chat; they lead the prompt all the same, where every turn
                # (and every call of the chart) shares them as llama.cpp's cached prefix.
                lead.append(text)
            elif item.role in ("system", "developer"):
                # Its own message, never merged into the caller's turn: the small model read a CRM
                # record there out as if it were the caller's words.
                add("system", text)
            else:
                add("assistant" if item.role == "assistant" else "user", text)
        elif item.type == "function_call":
            add("assistant", f"CALL {item.name} {item.arguments}".strip())
        elif item.type == "function_call_output":
            add("user", f"({item.name}: {item.output})")
    if not has_notes and (tool_prompt := _tool_prompt(tool_lines(tools))):
        lead.append(tool_prompt)
    if not messages or messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": "(Go on.)"})
    if lead:
        messages.insert(0, {"role": "system", "content": "\n\n".join(lead)})
    return messages if system_role else _notes_in_user_turns(messages)


def _notes_in_user_turns(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """For a template without a system role: each system message heads the user turn after it."""
    first = next(i for i, message in enumerate(messages) if message["role"] != "system")
    if messages[first]["role"] != "user":
        # Gemma's template wants the user first; the agent speaking first (a greeting) is normal.
        messages.insert(first, {"role": "user", "content": "(The call has started.)"})
    out: list[dict[str, str]] = []
    notes: list[str] = []
    for message in messages:
        if message["role"] == "system":
            notes.append(message["content"])
            continue
        if notes and message["role"] == "user":
            message = {"role": "user", "content": "\n\n".join([*notes, message["content"]])}
            notes = []
        out.append(message)
    return out


@dataclass(frozen=True)
class ToolMention:
    name: str


class ReplyFilter:
    """Splits the model's streamed text into speech and tool calls, word by word.

    `CALL name` calls a tool. A bare tool name is the model reciting its tool list (a small model
    does that often): neither executed nor spoken, and neither is the rest of its line. Only the
    word being written is held back, so speech still streams.
    """

    def __init__(self, tool_names: set[str], *, may_call: bool = True) -> None:
        self._names = tool_names
        self._may_call = may_call
        self._pending = ""
        self._skipping_line = False
        self._calling = False
        self._called: set[str] = set()

    def push(self, text: str) -> list[str | ToolMention]:
        self._pending += text
        cut = max(self._pending.rfind(" "), self._pending.rfind("\n"))
        if cut < 0:
            return []
        ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        return self._words(ready)

    def flush(self) -> list[str | ToolMention]:
        ready, self._pending = self._pending, ""
        return self._words(ready)

    def _words(self, text: str) -> list[str | ToolMention]:
        out: list[str | ToolMention] = []
        speech = ""
        for token in re.split(r"(\s+)", text):
            if self._skipping_line:
                self._skipping_line = "\n" not in token
                continue
            if not token or token.isspace():
                speech += token
                continue
            word = token.strip(".,:;!?\"'`*()[]")
            if word == "CALL":
                self._calling = True
                continue
            calling, self._calling = self._calling, False
            if word in self._names:
                if speech.strip():
                    out.append(speech)
                speech = ""
                if calling and self._may_call and word not in self._called:
                    self._called.add(word)
                    out.append(ToolMention(word))
                self._skipping_line = True
                continue
            speech += token
        if speech:
            out.append(speech)
        return out


class LlamaLLM(llm.LLM):
    """Local, offline LLM."""

    def __init__(
        self,
        *,
        model_file: Path,
        name: str,
        chat_format: str | None = None,
        threads: int = 2,
        max_tokens: int = MAX_REPLY_TOKENS,
    ) -> None:
        super().__init__()
        self._model_file = model_file
        self._name = name
        self._chat_format = chat_format
        self._threads = threads
        self._max_tokens = max_tokens
        self.lock = model_lock(model_file, threads)
        self._draft: _Draft | None = None

    @property
    def model(self) -> str:
        return self._name

    @property
    def provider(self) -> str:
        return "llama.cpp"

    @property
    def llama(self) -> Any:
        """The loaded `llama_cpp.Llama` (shared by every `LlamaLLM` of the same file)."""
        return load_model(self._model_file, self._threads, self._chat_format)

    @property
    def has_system_role(self) -> bool:
        # Only a named llama-cpp-python format (the old base model's) lacks one; GGUF templates have it.
        return self._chat_format is None

    def messages(self, chat_ctx: ChatContext, tools: list[Tool]) -> list[dict[str, str]]:
        return chat_messages(chat_ctx, tools, system_role=self.has_system_role)

    def warm_up(self) -> None:
        for _ in self.generate([{"role": "user", "content": "Hi"}], threading.Event(), 4):
            pass

    async def prefill(self, chat_ctx: ChatContext, tools: list[Tool], *, draft: bool = False) -> None:
        """Evaluate the chat so far into llama.cpp's cache, so the next reply starts after it; with
        `draft`, go on to write the reply to it in the background (see the module's docstring).
        Returns once the chat is evaluated.

        Skipped while the model is busy with anything but a draft (a reply, a summary): waiting would
        only hold up the next reply behind a prompt that is stale by then. A draft is dropped: this
        chat is newer.
        """
        messages = self.messages(chat_ctx, tools)
        previous, self._draft = self._draft, _Draft(messages) if draft else None
        if previous is not None:
            previous.drop()
        writing = self._draft
        loop = asyncio.get_running_loop()
        evaluated: asyncio.Future[None] = loop.create_future()

        def done() -> None:
            if not evaluated.done():
                evaluated.set_result(None)

        def write() -> None:
            try:
                if previous is not None:
                    previous.finished.wait()  # its writer lets go of the model at its next token
                if writing is None:
                    # One sampled token is the cheapest public way to have llama.cpp evaluate a prompt.
                    for _ in self.generate(messages, threading.Event(), 1, wait=False):
                        pass
                    return
                text = ""
                for piece in self.generate(messages, writing.dropped, self._max_tokens, wait=False):
                    loop.call_soon_threadsafe(done)
                    writing.add(piece)
                    text += piece
                    if len(SENTENCE_END.findall(text)) >= MAX_SENTENCES:
                        break  # all a reply will say (`_LlamaStream`): the model is free for what's next
            finally:
                if writing is not None:
                    writing.finish()
                if not loop.is_closed():  # a call that ended while this evaluated awaits nothing
                    loop.call_soon_threadsafe(done)

        # Not a daemon: at exit, Python waits for it to let go of the model. A daemon thread still
        # inside llama.cpp while the model is freed crashed the process (SIGSEGV after a call).
        threading.Thread(target=write, name="llama-prefill").start()
        await evaluated

    def drop_draft(self) -> None:
        """The caller spoke on: the draft answers words that are no longer the whole turn."""
        if (draft := self._draft) is not None:
            draft.drop()

    def reply(self, messages: list[dict[str, str]], cancelled: threading.Event) -> Iterator[str]:
        """A live reply's pieces (blocking): the draft if one was written for these messages, else
        written now."""
        draft, self._draft = self._draft, None
        if draft is not None and draft.messages == messages and not draft.dropped.is_set():
            ahead = len(draft.pieces)
            read = 0
            for piece in draft.read(cancelled):
                read += 1
                yield piece
            if read or cancelled.is_set():
                log.info("llama.reply", drafted=True, pieces_ahead=ahead)
                return
            # Nothing written: the model was busy when the draft was asked for.
        log.info("llama.reply", drafted=False, draft_for_other_words=draft is not None)
        if draft is not None:
            draft.drop()
            draft.finished.wait()
        yield from self.generate(messages, cancelled, self._max_tokens)

    def generate(
        self,
        messages: list[dict[str, str]],
        cancelled: threading.Event,
        max_tokens: int,
        grammar: str | None = None,
        *,
        temperature: float = REPLY_TEMPERATURE,
        stop: tuple[str, ...] = ("\n\n",),
        wait: bool = True,
    ) -> Iterator[str]:
        """Text pieces as sampled (blocking), one generation at a time; stops early when
        `cancelled` is set, and yields nothing if the model is busy and `wait` is False.

        `grammar` (GBNF) constrains the answer's form, for callers that parse it (a rubric check).
        The default `stop` ends a spoken reply at a blank line, where a list or an essay starts.
        """
        if not self.lock.acquire(blocking=wait):
            return
        try:
            for chunk in self.llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=max_tokens,
                grammar=_grammar(grammar) if grammar else None,
                temperature=temperature,
                repeat_penalty=1.1,
                stop=[*stop, *_FORMAT_STOPS.get(self._chat_format or "", ())],
            ):
                if cancelled.is_set():
                    return
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
        finally:
            self.lock.release()

    def first_token_odds(self, messages: list[dict[str, str]], answers: Sequence[str]) -> list[float]:
        """How likely the answer to `messages` starts with each of `answers` (single tokens, such
        as option letters), normalised over them: the model's leaning, not just its pick (blocking).
        """
        import numpy as np
        from llama_cpp import LogitsProcessorList

        tokens = [self.llama.tokenize(a.encode(), add_bos=False, special=False) for a in answers]
        if any(len(t) != 1 for t in tokens):
            raise ValueError(f"each answer must be one token: {list(answers)!r}")
        logits: list[Any] = []

        def keep(input_ids: Any, scores: Any) -> Any:
            logits.append(np.array(scores[[t[0] for t in tokens]], dtype=np.float64))
            return scores

        with self.lock:
            self.llama.create_chat_completion(
                messages=messages, max_tokens=1, temperature=0.0, logits_processor=LogitsProcessorList([keep])
            )
        odds = np.exp(logits[0] - logits[0].max())
        return [float(x) for x in odds / odds.sum()]

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
        # After a tool's result livekit asks for a reply with tool_choice="none": the prompt still
        # describes the tools (as cached), and a recited name is still not spoken, but none is called.
        return _LlamaStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
            may_call=tool_choice != "none",
        )


class RepeatGuard:
    """Keeps a live reply from being an earlier reply again ("That's a good idea. But it takes time."
    to two different rep lines): while what is said so far begins an earlier reply, each sentence
    is held until it ends, and one that would complete that reply again is not said; the reply ends
    with what was said. A first sentence is said whatever it is: no answer would be worse.
    """

    def __init__(self, earlier: Iterable[str]) -> None:
        self._earlier = [said for text in earlier if (said := words(text))]
        self._sent = ""
        self._held = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """What of `text` may be said now."""
        if self.stopped:
            return ""
        if not self._held and not self._begins_earlier():
            self._sent += text
            return text
        self._held += text
        return self._release() if SENTENCE_END.search(self._held) else ""

    def flush(self) -> str:
        return "" if self.stopped or not self._held else self._release()

    def _begins_earlier(self) -> bool:
        said = words(self._sent)
        return bool(said) and any(earlier[: len(said)] == said for earlier in self._earlier)

    def _release(self) -> str:
        held, self._held = self._held, ""
        whole = words(self._sent + held)
        if SENTENCE_END.search(self._sent) and any(said_again(whole, earlier) for earlier in self._earlier):
            self.stopped = True
            return ""
        self._sent += held
        return held


class _LlamaStream(llm.LLMStream):
    def __init__(
        self,
        llm_: LlamaLLM,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool],
        conn_options: APIConnectOptions,
        may_call: bool,
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._llama = llm_
        self._may_call = may_call
        self._spoken = ""
        self._guard = RepeatGuard(())

    async def _run(self) -> None:
        tools = list(self._tools)
        names = {name for name, _ in tool_lines(tools)}
        messages = self._llama.messages(self._chat_ctx, tools)
        request_id = utils.shortuuid()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            try:
                for piece in self._llama.reply(messages, cancelled):
                    loop.call_soon_threadsafe(queue.put_nowait, piece)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        loop.run_in_executor(None, produce)
        reply = ReplyFilter(names, may_call=self._may_call)
        self._guard = RepeatGuard(m["content"] for m in messages if m["role"] == "assistant")
        try:
            while (piece := await queue.get()) is not None:
                if _OFF_SCRIPT.search(piece):
                    break
                self._send(request_id, reply.push(piece))
                if self._guard.stopped or len(SENTENCE_END.findall(self._spoken)) >= MAX_SENTENCES:
                    # A small model rambles; a caller hears two sentences, then gets the floor.
                    break
            else:
                self._send(request_id, reply.flush())
            self._say(request_id, self._guard.flush())
        finally:
            cancelled.set()

    def _send(self, request_id: str, parts: list[str | ToolMention]) -> None:
        for part in parts:
            if isinstance(part, str):
                self._send_text(request_id, part)
                continue
            call = llm.FunctionToolCall(name=part.name, arguments="{}", call_id=utils.shortuuid("call_"))
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=[call]))
            )

    def _send_text(self, request_id: str, text: str) -> None:
        self._say(request_id, self._guard.push(text))

    def _say(self, request_id: str, text: str) -> None:
        if not text:
            return
        self._spoken += text
        self._event_ch.send_nowait(
            llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=text))
        )
