"""The OpenAI chat-completions stream, server side: what a stand-in or a fake on loopback answers.

`POST /v1/chat/completions` with `stream: true` is answered with server-sent events, one
`chat.completion.chunk` each, then `data: [DONE]`: what livekit-plugins-openai and the OpenAI
client read from any OpenAI-compatible server.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

__all__ = ["stream_chat"]


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> bytes:
    body = {
        "id": "chatcmpl-loopback",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


async def stream_chat(
    request: web.Request, model: str, deltas: Sequence[dict[str, Any]], finish_reason: str
) -> web.StreamResponse:
    """Stream `deltas` as one answer that ends with `finish_reason` (`stop`, `tool_calls`)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    # The client may hang up mid-answer (a session or a worker shutting down): nothing to do then.
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        for delta in deltas:
            await response.write(_chunk(model, delta, None))
        await response.write(_chunk(model, {}, finish_reason))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    return response
