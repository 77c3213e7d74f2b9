"""An OpenAI-compatible chat endpoint on loopback: the LLM the load benchmark's worker talks to.

The load benchmark measures the recording path and the database, not a model. Its post-call
summaries go through the real summary activity and the real OpenAI client (as with
`RAPPORT_LLM=openai_compatible`) to this stand-in, which waits as a hosted model would and then
streams a short fixed summary, using no CPU meanwhile. The local model's own cost is what
`bench.voice_loop` measures; on two cores it would otherwise starve everything timed here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.chat_stream import stream_chat
from tests.loopback import serve_on_loopback

__all__ = ["MODEL", "SUMMARY", "serve_llm"]

MODEL = "bench-stand-in"
SUMMARY = (
    "A sales rep called to pitch invoice reconciliation software and asked about current processes. "
    "The buyer raised budget concerns and agreed to a follow-up meeting next week."
)


@asynccontextmanager
async def serve_llm(delay_s: float) -> AsyncIterator[str]:
    """Serve `POST /v1/chat/completions` (streamed) after `delay_s`; yields the base URL."""

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        await asyncio.sleep(delay_s)
        words = SUMMARY.split(" ")
        deltas = [{"role": "assistant", "content": (" " if i else "") + word} for i, word in enumerate(words)]
        return await stream_chat(request, MODEL, deltas, "stop")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    async with serve_on_loopback(app) as url:
        yield f"{url}/v1"
