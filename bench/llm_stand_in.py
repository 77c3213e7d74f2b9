"""An OpenAI-compatible chat endpoint on loopback: the LLM the load benchmark's worker talks to.

The load benchmark measures the recording path and the database, not a model. Its post-call
summaries go through the real summary activity and the real OpenAI client (as with
`RAPPORT_LLM=openai_compatible`) to this stand-in, which waits as a hosted model would and then
streams a short fixed summary, using no CPU meanwhile. The local model's own cost is what
`bench.voice_loop` measures; on two cores it would otherwise starve everything timed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.loopback import serve_on_loopback

__all__ = ["MODEL", "SUMMARY", "serve_llm"]

MODEL = "bench-stand-in"
SUMMARY = (
    "A sales rep called to pitch invoice reconciliation software and asked about current processes. "
    "The buyer raised budget concerns and agreed to a follow-up meeting next week."
)


def _chunk(delta: dict[str, str], finish_reason: str | None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


@asynccontextmanager
async def serve_llm(delay_s: float) -> AsyncIterator[str]:
    """Serve `POST /v1/chat/completions` (streamed) after `delay_s`; yields the base URL."""

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        await asyncio.sleep(delay_s)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        # The worker may cancel a summary (at shutdown) and hang up mid-answer: nothing to do then.
        with contextlib.suppress(ConnectionResetError):
            await response.prepare(request)
            for i, word in enumerate(SUMMARY.split(" ")):
                delta = {"role": "assistant", "content": (" " if i else "") + word}
                await response.write(_chunk(delta, None))
            await response.write(_chunk({}, "stop"))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    async with serve_on_loopback(app) as url:
        yield f"{url}/v1"
