"""Timed fakes of cloud STT, LLM and TTS providers: streaming, with latencies drawn per request.

FAKES, for load tests only: they do no recognition, reasoning or synthesis. Each behaves like a
hosted streaming service as the agent session sees it, and costs next to no CPU, so what a load
test measures is what the platform itself adds:

- `FakeCloudSTT` streams: it hears the caller's audio frame by frame, finds the end of an
  utterance by energy (as a service endpoints server-side) and sends the final transcript a drawn
  delay after the speech ended. The words are the caller's script, in order.
- `FakeCloudLLM` answers after a drawn time to first token, then streams words at a steady rate.
- `FakeCloudTTS` answers its first text with audio after a drawn time to first audio, then keeps
  up with the text; the audio is a cheap voice-like tone with word timings.

Every drawn delay goes into the call's `FakeLedger` with the moment its clock started, so a
reply's voice-to-voice time can be split into the fakes' share and the platform's.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectOptions, llm, stt, tts, utils, vad
from livekit.agents.language import LanguageCode
from livekit.agents.llm import ChatContext, Tool, ToolChoice
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr, TimedString
from livekit.agents.utils import AudioBuffer

from loadtest.latency import Latency
from realtime.session import Models

__all__ = [
    "BUYER_REPLIES",
    "Draw",
    "FakeCloud",
    "FakeCloudLLM",
    "FakeCloudSTT",
    "FakeCloudTTS",
    "FakeLedger",
    "worker_answer",
]

DrawKind = Literal["stt_final", "llm_ttft", "tts_ttfa"]

# A peak of -30 dBFS: the caller's recorded voice is far above it, the scripted silence is zero.
_SPEECH_PEAK = 1000
# The service's own endpointing: this much silence ends an utterance (a final never comes sooner).
# Shorter splits the caller's sentences at their pauses.
ENDPOINT_S = 0.3
TTS_RATE = 24_000
_WORD_S = (0.2, 0.5)

BUYER_REPLIES = (
    "We plan most routes by hand every morning, and it takes my team about two hours.",
    "Fuel is our biggest line item after payroll, so I watch it closely every month.",
    "Honestly, traffic is the part we handle worst; drivers call in and we improvise.",
    "We run about forty trucks on a normal day, a few more before the holidays.",
    "I would need to see real savings on fuel before I take this to our owner.",
    "Our contract with the current vendor ends in the spring, so timing could work.",
    "That sounds interesting. What would switching look like for my dispatchers?",
    "I am not sure we have the budget this quarter, but tell me more about pricing.",
)


@dataclass(frozen=True)
class Draw:
    """One drawn delay: its kind, when its clock started (loop time) and how long it was (ms)."""

    kind: DrawKind
    at: float
    ms: float


@dataclass
class FakeLedger:
    """Every delay a call's fakes drew, in order."""

    draws: list[Draw] = field(default_factory=list)

    def add(self, kind: DrawKind, at: float, ms: float) -> None:
        self.draws.append(Draw(kind, at, ms))

    def first(self, kind: DrawKind, after: float, before: float) -> Draw | None:
        """The first draw of `kind` whose clock started within [after, before)."""
        return next((d for d in self.draws if d.kind == kind and after <= d.at < before), None)


@dataclass(frozen=True)
class FakeCloud:
    """The fakes' latencies; `models` builds one call's providers around the shared real VAD."""

    stt_final: Latency
    llm_ttft: Latency
    tts_ttfa: Latency
    llm_token_ms: float = 15.0

    def models(
        self, vad_: vad.VAD, *, rng: random.Random, ledger: FakeLedger, transcripts: Sequence[str]
    ) -> Models:
        return Models(
            stt=FakeCloudSTT(final=self.stt_final, rng=rng, ledger=ledger, transcripts=transcripts),
            llm=FakeCloudLLM(
                ttft=self.llm_ttft, token_ms=self.llm_token_ms, rng=rng, ledger=ledger, answer=_buyer(rng)
            ),
            tts=FakeCloudTTS(ttfa=self.tts_ttfa, rng=rng, ledger=ledger),
            vad=vad_,
        )


def _buyer(rng: random.Random) -> Callable[[ChatContext], str]:
    return lambda _chat: rng.choice(BUYER_REPLIES)


def worker_answer(chat: ChatContext) -> str:
    """What the worker's fake LLM answers: a rubric check gets `NO` (always a valid answer), and a
    summary request a fixed summary."""
    last = next((i.text_content or "" for i in reversed(chat.items) if i.type == "message"), "")
    if "Question:" in last:
        return "NO"
    return "The rep asked about routing and fuel; the buyer agreed to hear more."


# STT.


class FakeCloudSTT(stt.STT):
    """FAKE streaming STT: finals a drawn delay after the end of each utterance."""

    def __init__(
        self, *, final: Latency, rng: random.Random, ledger: FakeLedger, transcripts: Sequence[str]
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._final = final
        self._rng = rng
        self.ledger = ledger
        self._transcripts = list(transcripts)
        self._heard = 0

    @property
    def model(self) -> str:
        return "fake-cloud-stt"

    @property
    def provider(self) -> str:
        return "fake"

    def next_transcript(self) -> str:
        text = self._transcripts[self._heard] if self._heard < len(self._transcripts) else "Tell me more."
        self._heard += 1
        return text

    def draw_final_ms(self) -> float:
        # The service cannot finalise before its own endpointing has heard the silence.
        return max(ENDPOINT_S * 1000, self._final.draw(self._rng))

    async def _recognize_impl(
        self, buffer: AudioBuffer, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions
    ) -> stt.SpeechEvent:
        return _final("")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return _FakeSTTStream(stt=self, conn_options=conn_options)


def _final(text: str) -> stt.SpeechEvent:
    return stt.SpeechEvent(
        type=stt.SpeechEventType.FINAL_TRANSCRIPT,
        alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text)],
    )


def _speech_end(frame: rtc.AudioFrame) -> float | None:
    """Where in the frame (seconds from its start) the last speech sample is; None for silence."""
    samples = np.frombuffer(frame.data, dtype=np.int16)
    if not samples.size or int(samples.max()) <= _SPEECH_PEAK:
        return None
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SPEECH_PEAK)
    return float(loud[-1] + 1) / (frame.sample_rate * frame.num_channels)


class _FakeSTTStream(stt.RecognizeStream):
    async def _run(self) -> None:
        assert isinstance(self._stt, FakeCloudSTT)
        fake = self._stt
        loop = asyncio.get_running_loop()
        speaking = False
        silent_s = 0.0
        # When the speech ended, on the clock of the frames' arrival: a frame starts playing when
        # it reaches the service, so any lag before that is the platform's, not the service's.
        ended_at = 0.0
        pending: set[asyncio.Task[None]] = set()
        try:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    continue
                end = _speech_end(item)
                if end is not None:
                    speaking, silent_s = True, item.duration - end
                    ended_at = loop.time() + end
                    continue
                if not speaking:
                    continue
                silent_s += item.duration
                if silent_s >= ENDPOINT_S:
                    speaking = False
                    delay_ms = fake.draw_final_ms()
                    fake.ledger.add("stt_final", ended_at, delay_ms)
                    task = asyncio.create_task(
                        self._send_final(ended_at + delay_ms / 1000, fake.next_transcript())
                    )
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        finally:
            for task in pending:
                task.cancel()

    async def _send_final(self, due: float, text: str) -> None:
        await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
        self._event_ch.send_nowait(_final(text))


# LLM.


class FakeCloudLLM(llm.LLM):
    """FAKE streaming LLM: a canned answer after a drawn time to first token, word by word."""

    def __init__(
        self,
        *,
        ttft: Latency,
        token_ms: float,
        rng: random.Random,
        ledger: FakeLedger,
        answer: Callable[[ChatContext], str],
    ) -> None:
        super().__init__()
        self._ttft = ttft
        self._token_s = token_ms / 1000
        self._rng = rng
        self.ledger = ledger
        self._answer = answer

    @property
    def model(self) -> str:
        return "fake-cloud-llm"

    @property
    def provider(self) -> str:
        return "fake"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _FakeLLMStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _FakeLLMStream(llm.LLMStream):
    async def _run(self) -> None:
        assert isinstance(self._llm, FakeCloudLLM)
        fake = self._llm
        started = asyncio.get_running_loop().time()
        ttft_ms = fake._ttft.draw(fake._rng)
        fake.ledger.add("llm_ttft", started, ttft_ms)
        words = fake._answer(self._chat_ctx).split()
        request_id = utils.shortuuid()
        await asyncio.sleep(ttft_ms / 1000)
        for index, word in enumerate(words):
            if index:
                await asyncio.sleep(fake._token_s)
            delta = llm.ChoiceDelta(role="assistant", content=(" " if index else "") + word)
            self._event_ch.send_nowait(llm.ChatChunk(id=request_id, delta=delta))


# TTS.


@functools.cache
def _voice_like(seconds: float = 1.0) -> np.ndarray:
    """A second of a buzzy 140 Hz tone with a syllable-rate envelope, made once per process."""
    t = np.arange(int(TTS_RATE * seconds)) / TTS_RATE
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (tone * envelope * 3000).astype(np.int16)


class FakeCloudTTS(tts.TTS):
    """FAKE streaming TTS with word timings: first audio a drawn delay after the first text."""

    def __init__(self, *, ttfa: Latency, rng: random.Random, ledger: FakeLedger) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=TTS_RATE,
            num_channels=1,
        )
        self._ttfa = ttfa
        self._rng = rng
        self.ledger = ledger

    @property
    def model(self) -> str:
        return "fake-cloud-tts"

    @property
    def provider(self) -> str:
        return "fake"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _FakeChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.SynthesizeStream:
        return _FakeTTSStream(tts=self, conn_options=conn_options)

    async def first_audio_wait(self) -> None:
        """The drawn time to first audio, recorded from now."""
        ms = self._ttfa.draw(self._rng)
        self.ledger.add("tts_ttfa", asyncio.get_running_loop().time(), ms)
        await asyncio.sleep(ms / 1000)

    def speak(self, emitter: tts.AudioEmitter, text: str, offset: float) -> float:
        """Push audio and word timings for `text` at `offset` s; the new offset."""
        words = text.split()
        if not words:
            return offset
        lengths = [min(_WORD_S[1], max(_WORD_S[0], 0.06 * len(w))) for w in words]
        timed: list[TimedString] = []
        start = offset
        for word, length in zip(words, lengths, strict=True):
            timed.append(TimedString(f"{word} ", start_time=start, end_time=start + length))
            start += length
        emitter.push_timed_transcript(timed)
        samples = int(sum(lengths) * TTS_RATE)
        voice = _voice_like()
        emitter.push(np.resize(voice, samples).tobytes())
        return start

    def start(self, emitter: tts.AudioEmitter, *, stream: bool) -> None:
        emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=TTS_RATE,
            num_channels=1,
            mime_type="audio/pcm",
            stream=stream,
        )


class _FakeChunkedStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        assert isinstance(self._tts, FakeCloudTTS)
        self._tts.start(output_emitter, stream=False)
        await self._tts.first_audio_wait()
        self._tts.speak(output_emitter, self._input_text, 0.0)
        output_emitter.flush()


class _FakeTTSStream(tts.SynthesizeStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        assert isinstance(self._tts, FakeCloudTTS)
        fake = self._tts
        fake.start(output_emitter, stream=True)
        output_emitter.start_segment(segment_id=utils.shortuuid())
        offset = 0.0
        waited = False
        async for data in self._input_ch:
            if isinstance(data, self._FlushSentinel):
                continue
            self._mark_started()
            if not waited:
                # Text that arrives meanwhile waits in the channel, as it would in the socket.
                await fake.first_audio_wait()
                waited = True
            offset = fake.speak(output_emitter, data, offset)
        output_emitter.end_segment()
