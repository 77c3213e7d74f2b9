"""A live reply that stays in its persona's role, whichever LLM writes it.

The small local model sometimes falls out of the buyer's role mid-reply: "Morning Priya. How can I
help you today?" A chart names what its persona never sounds like (`never_sounds_like`, kinds of
`quality.roles.KINDS`); a sentence of the reply that does is not said, and the reply ends with
what was said before it. The first sentence is said whatever it is, as it streams: no answer
would be worse, and holding it would hold up the reply's first audio. Later sentences are held
until they end, while the first one plays.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator

from livekit.agents import FlushSentinel, llm

from quality.text import words
from rapport.logs import get_logger
from realtime.plugins.llama_llm import SENTENCE_END

__all__ = ["RoleGuard", "in_role"]

log = get_logger(__name__)


class RoleGuard:
    """What of a reply's text may be said, piece by piece."""

    def __init__(self, never: re.Pattern[str]) -> None:
        self._never = never
        self._held = ""
        self._first_said = False
        self.stopped = False

    def push(self, text: str) -> str:
        """What of `text` may be said now."""
        if self.stopped:
            return ""
        self._held += text
        out = ""
        while end := SENTENCE_END.search(self._held):
            sentence, self._held = self._held[: end.end()], self._held[end.end() :]
            if not self._say(sentence):
                return out
            out += sentence
        if not self._first_said:
            out, self._held = out + self._held, ""
        return out

    def flush(self) -> str:
        """The rest, once the reply has ended."""
        rest, self._held = self._held, ""
        return rest if rest and not self.stopped and self._say(rest) else ""

    def _say(self, sentence: str) -> bool:
        if self._first_said and self._never.search(" ".join(words(sentence))):
            self.stopped = True
            self._held = ""
            # Not the words: a reply is transcript text.
            log.info("reply.out_of_role_left_out")
            return False
        self._first_said = True
        return True


async def in_role(
    chunks: AsyncIterable[llm.ChatChunk | str | FlushSentinel], never: re.Pattern[str]
) -> AsyncIterator[llm.ChatChunk | str | FlushSentinel]:
    """`chunks` (an `llm_node`'s output) with `RoleGuard` applied to their text; tool calls pass."""
    guard = RoleGuard(never)
    stream = aiter(chunks)
    try:
        async for chunk in stream:
            if isinstance(chunk, str):
                chunk = guard.push(chunk)
            elif isinstance(chunk, llm.ChatChunk) and chunk.delta is not None and chunk.delta.content:
                delta = chunk.delta.model_copy(update={"content": guard.push(chunk.delta.content)})
                chunk = chunk.model_copy(update={"delta": delta})
            if chunk:
                yield chunk
            if guard.stopped:
                return
    finally:
        # Ended early: the LLM's stream stops writing (the local model lets go of its lock).
        if (close := getattr(stream, "aclose", None)) is not None:
            await close()
    if rest := guard.flush():
        yield rest
