"""The text on its way to the TTS: markup removed, the first words not held back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from realtime.speech_text import filter_markdown_promptly


async def _stream(chunks: list[str]) -> AsyncIterator[str]:
    for chunk in chunks:
        yield chunk


async def _spoken(chunks: list[str]) -> str:
    return "".join([c async for c in filter_markdown_promptly(_stream(chunks))])


async def test_the_first_word_goes_on_before_the_next_token_exists() -> None:
    """A reply's plain first word reaches the TTS while the LLM is still writing the second."""
    second_token = asyncio.Event()

    async def llm() -> AsyncIterator[str]:
        yield "We"
        await second_token.wait()
        yield " plan"

    out = aiter(filter_markdown_promptly(llm()))
    assert await asyncio.wait_for(anext(out), timeout=1.0) == "We"
    second_token.set()
    assert await anext(out) == " plan"


async def test_markup_is_still_removed_wherever_it_starts() -> None:
    """Emphasis, a list and a link are spoken as their words, first chunk or later."""
    assert await _spoken(["**Great**", " news"]) == "Great news"
    assert await _spoken(["Sure,", " *three*", " trucks."]) == "Sure, three trucks."
    assert await _spoken(["Two", " options:\n", "- ", "fuel\n", "- routes"]) == "Two options:\nfuel\nroutes"
    assert await _spoken(["See", " [the", " guide](https://example.com) now."]) == "See the guide now."
