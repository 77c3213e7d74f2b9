"""What the STT is still working on: a per-call wrapper that reports each transcription.

A non-streaming STT (the embedded whisper) is cut into utterances by livekit's `StreamAdapter`;
an utterance with no words yields no event at all, so from the session's events alone nobody can
tell "still transcribing" from "nothing was said". The turn-taking machine must tell them apart:
a timer may only give up on the caller's speech once nothing is left in flight.
"""

from __future__ import annotations

from collections.abc import Callable

from livekit.agents import stt
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer

__all__ = ["TrackedSTT"]


def _nothing() -> None:
    pass


def _ignored(_has_words: bool) -> None:
    pass


class TrackedSTT(stt.STT):
    """`inner` for one call, telling `on_started` when a transcription begins and `on_finished`
    (has_words) when it ends; words then reach the session as a final transcript."""

    def __init__(self, inner: stt.STT) -> None:
        super().__init__(capabilities=inner.capabilities)
        self._inner = inner
        self.on_started: Callable[[], None] = _nothing
        self.on_finished: Callable[[bool], None] = _ignored

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def provider(self) -> str:
        return self._inner.provider

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        self.on_started()
        has_words = False
        try:
            event = await self._inner.recognize(buffer, language=language, conn_options=conn_options)
            # livekit's StreamAdapter forwards exactly these as final transcripts.
            has_words = bool(event.alternatives and event.alternatives[0].text)
            return event
        finally:
            self.on_finished(has_words)
