"""Builds the `AgentSession` for a call, and the models it shares with every other call.

livekit's endpointing and interruption are switched off here on purpose: the turn-taking
machine (`realtime.turn_taking`) commits turns and decides barge-ins. Turn detection is set
explicitly to "manual" because livekit's default detector would fetch a model at run time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from livekit.agents import AgentSession, llm, stt, tts, vad

from rapport.settings import Settings
from realtime import providers

__all__ = ["Models", "build_session", "call_vad"]

T = TypeVar("T")


@dataclass(frozen=True)
class Models:
    """Provider instances; loaded once per process and shared by its calls."""

    stt: stt.STT
    llm: llm.LLM
    tts: tts.TTS
    vad: vad.VAD

    @classmethod
    def load(cls, settings: Settings) -> Models:
        providers.check_providers(settings)
        return cls(
            stt=providers.build_stt(settings),
            llm=providers.build_llm(settings),
            tts=providers.build_tts(settings),
            vad=providers.build_vad(settings),
        )

    async def warm_up(self) -> None:
        """Run each local model once so the first caller doesn't pay for lazy loading."""
        for model in (self.stt, self.llm, self.tts):
            warm_up = getattr(model, "warm_up", None)
            if warm_up is not None:
                await asyncio.to_thread(warm_up)


class _InlineInference:
    """The event loop as a Silero stream sees it, except that the model runs on the loop's thread.

    Silero's stream hands every 32 ms window to the thread pool: waking a pool thread and coming
    back cost twice the 0.24 ms inference itself, about 1.3% of a core per call. Inline, a window
    holds the loop for the inference alone.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def run_in_executor(self, _executor: object, func: Callable[..., T], *args: object) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # the stream handles a failed inference as before
            future.set_exception(exc)
        return future

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


def call_vad(shared: vad.VAD) -> vad.VAD:
    """A VAD instance of the call's own, over the process's loaded Silero model.

    Each session subscribes to its VAD's per-second metrics; on one VAD instance shared by every
    call of a process, each call's metrics went to every session, N² callbacks a second (a tenth
    of an agent process's CPU at 20 calls). The ONNX session, the costly part, stays shared.
    """
    from livekit.plugins import silero

    class CallVAD(silero.VAD):
        def stream(self) -> silero.VADStream:
            stream = super().stream()
            stream._loop = _InlineInference(stream._loop)  # type: ignore[assignment]
            return stream

    if isinstance(shared, silero.VAD):
        return CallVAD(session=shared._onnx_session, opts=shared._opts)
    return shared


def build_session(models: Models) -> AgentSession:
    return AgentSession(
        stt=models.stt,
        llm=models.llm,
        tts=models.tts,
        vad=call_vad(models.vad),
        turn_handling={
            "turn_detection": "manual",
            # The machine commits a turn once the VAD's silence and the final transcript are in;
            # livekit's own endpointing delay (0.5 s from the last speech by default) would hold
            # every committed turn back another ~150 ms on top.
            "endpointing": {"min_delay": 0.0},
            "interruption": {"enabled": False, "discard_audio_if_uninterruptible": False},
            "preemptive_generation": {"enabled": False},
        },
        use_tts_aligned_transcript=True,
        user_away_timeout=None,
    )
