"""What the agent's text goes through on its way to the TTS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

from livekit.agents.voice.transcription.filters import filter_markdown

__all__ = ["filter_markdown_promptly"]

# Letters, spaces and plain punctuation cannot open or close any markdown construct.
_PLAIN = re.compile(r"[A-Za-z' ,.?]*")


async def _chain(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


async def filter_markdown_promptly(text: AsyncIterable[str]) -> AsyncIterable[str]:
    """livekit's markdown filter, except that a reply's plain opening words go on at once.

    The filter holds every chunk until the next one shows it is not the start of markup: the
    reply's first word waited a token for its successor (15-50 ms, on the caller's wait). Plain
    words pass straight through; from the first chunk that could be markup, the filter takes over.
    """
    chunks = aiter(text)
    async for chunk in chunks:
        if _PLAIN.fullmatch(chunk):
            yield chunk
            continue
        async for filtered in filter_markdown(_chain(chunk, chunks)):
            yield filtered
        return
