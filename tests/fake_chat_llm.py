"""A FAKE of a paid, hosted OpenAI-compatible chat API, on loopback: it plays a script.

Hosted LLMs (OpenAI, or any provider behind `RAPPORT_LLM=openai_compatible`) bill per token and
are out of a test's reach, and none can be told to call a chosen tool with chosen arguments. This
fake speaks their wire protocol (`POST /v1/chat/completions`, streamed) to the real
livekit-plugins-openai client, so everything on our side of the wire is the production path:
the client's stream parser, livekit's tool execution, the stage and schema checks, the workflow.
It is not a model: each request gets the next step of its script, whatever it asks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from livekit.plugins import openai

from tests.chat_stream import stream_chat
from tests.loopback import serve_on_loopback

__all__ = ["MODEL", "CallTool", "FakeChatLLM", "Say", "SayToolResult", "Step", "serve_fake_llm"]

MODEL = "fake-hosted-llm"


@dataclass(frozen=True)
class CallTool:
    """Call the tool `name`. Arguments go as JSON; a `str` is sent as written (malformed on purpose)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class SayToolResult:
    """Say the latest tool result the request carries, as a model turning it into words would."""

    prefix: str = ""


Step = CallTool | Say | SayToolResult

DEFAULT_REPLY = "Okay."


def _latest_tool_result(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "tool":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


class FakeChatLLM:
    """The script, what each request offered and carried, and the livekit client pointed at it."""

    def __init__(self, script: Sequence[Step]) -> None:
        self._script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""

    def then(self, steps: Sequence[Step]) -> None:
        """More script, for a test that learns what to call from an earlier answer."""
        self._script.extend(steps)

    def offered(self, index: int = -1) -> list[str]:
        """The tool names request `index` offered (the last request by default)."""
        tools = self.requests[index].get("tools") or []
        return [tool["function"]["name"] for tool in tools]

    def client(self) -> openai.LLM:
        """livekit's OpenAI plugin, as `RAPPORT_LLM=openai_compatible` builds it, aimed at the fake."""
        return openai.LLM(model=MODEL, base_url=self.base_url, api_key="fake-key")

    def next_step(self, body: dict[str, Any]) -> Step:
        self.requests.append(body)
        return self._script.pop(0) if self._script else Say(DEFAULT_REPLY)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        step = self.next_step(body)
        if isinstance(step, CallTool):
            arguments = step.arguments if isinstance(step.arguments, str) else json.dumps(step.arguments)
            call = {
                "index": 0,
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": step.name, "arguments": arguments},
            }
            return await stream_chat(
                request, MODEL, [{"role": "assistant", "tool_calls": [call]}], "tool_calls"
            )
        text = step.text if isinstance(step, Say) else step.prefix + _latest_tool_result(body["messages"])
        return await stream_chat(request, MODEL, [{"role": "assistant", "content": text}], "stop")


@asynccontextmanager
async def serve_fake_llm(script: Sequence[Step]) -> AsyncIterator[FakeChatLLM]:
    """Serve the fake at `{base_url}/chat/completions` on loopback for the block."""
    fake = FakeChatLLM(script)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    async with serve_on_loopback(app) as url:
        fake.base_url = f"{url}/v1"
        yield fake
