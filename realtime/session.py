"""Builds the `AgentSession` for a call, and the models it shares with every other call.

livekit's endpointing and interruption are switched off here on purpose: the turn-taking
machine (`realtime.turn_taking`) commits turns and decides barge-ins. Turn detection is set
explicitly to "manual" because livekit's default detector would fetch a model at run time. A
non-streaming STT is wrapped per call (`TrackedSTT`) so the machine knows what is being transcribed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from livekit.agents import AgentSession, llm, stt, tts, vad

from rapport.settings import Settings
from realtime import providers
from realtime.end_of_turn import SAMPLE_RATE, end_of_turn_model
from realtime.plugins.whisper_stt import WhisperSTT
from realtime.speech_text import filter_markdown_promptly
from realtime.transcription import TrackedSTT
from realtime.vad import call_vad

__all__ = ["Models", "build_session", "call_stt"]


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
        # The end-of-turn model: its first inference allocates what every later one reuses.
        await asyncio.to_thread(end_of_turn_model().probability, np.zeros(SAMPLE_RATE, dtype=np.int16))


def call_stt(models: Models, vocabulary: object) -> stt.STT:
    """The STT for a call whose chart lists the words its callers use (`settings.vocabulary`): the
    local whisper takes them as the text before each turn. A hosted STT is shared as it is."""
    if vocabulary and isinstance(models.stt, WhisperSTT):
        return models.stt.with_vocabulary(str(vocabulary))
    return models.stt


def build_session(models: Models, call_stt: stt.STT | None = None) -> AgentSession:
    """The call's session; `call_stt` (see `call_stt`) in place of the shared STT."""
    heard_by = call_stt or models.stt
    return AgentSession(
        stt=heard_by if heard_by.capabilities.streaming else TrackedSTT(heard_by),
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
        # livekit's markdown filter holds each reply's first word until the next token arrives.
        tts_text_transforms=[filter_markdown_promptly, "filter_emoji"],
        use_tts_aligned_transcript=True,
        user_away_timeout=None,
        # livekit's AEC warm-up feeds STT silence for the first 3 s of agent speech so echo cannot
        # interrupt; but the machine, not livekit, decides barge-ins (from the VAD, which the
        # warm-up leaves alone), so all the warm-up did was lose what the caller said over the
        # greeting. Echo is cancelled on the caller's side (browser, phone).
        aec_warmup_duration=None,
    )
