"""The caller's recent audio, for the end-of-turn model and for hearing a turn again whole: a tap
on the session's audio input.

The tap sits in front of whatever input the session reads (the scripted or browser caller, or a
LiveKit room's track) and keeps the last 30 s at 16 kHz mono; the frames pass on unchanged.
"""

from __future__ import annotations

import numpy as np
from livekit import rtc
from livekit.agents.voice.io import AudioInput

from realtime.end_of_turn import SAMPLE_RATE

__all__ = ["RING_SECONDS", "TappedAudioInput", "TurnAudio"]

# Whisper's window: a turn heard again whole is up to this long. The end-of-turn model hears the
# last 8 s of it. With 8 s kept, a turn of 7 s with its pause and lead lost its first words.
RING_SECONDS = 30


class TurnAudio:
    """A ring of the last `RING_SECONDS` of one caller's audio, int16 mono at 16 kHz."""

    def __init__(self) -> None:
        self._ring = np.zeros(RING_SECONDS * SAMPLE_RATE, dtype=np.int16)
        self._written = 0
        self._resampler: rtc.AudioResampler | None = None
        self._input_rate = SAMPLE_RATE

    def push(self, frame: rtc.AudioFrame) -> None:
        if frame.sample_rate != SAMPLE_RATE:
            if self._resampler is None or self._input_rate != frame.sample_rate:
                self._resampler = rtc.AudioResampler(frame.sample_rate, SAMPLE_RATE, num_channels=1)
                self._input_rate = frame.sample_rate
            for out in self._resampler.push(_mono(frame)):
                self._append(np.frombuffer(out.data, dtype=np.int16))
        else:
            self._append(np.frombuffer(_mono(frame).data, dtype=np.int16))

    def last(self, seconds: float) -> np.ndarray:
        """The most recent `seconds` (at most `RING_SECONDS`, at most what was heard), oldest first."""
        n = min(int(seconds * SAMPLE_RATE), len(self._ring), self._written)
        end = self._written % len(self._ring)
        if n <= end:
            return self._ring[end - n : end].copy()
        # Only the samples asked for: the end-of-turn model asks on every pause, for 8 s of 30.
        return np.concatenate((self._ring[len(self._ring) - (n - end) :], self._ring[:end]))

    def _append(self, samples: np.ndarray) -> None:
        size = len(self._ring)
        samples = samples[-size:]
        start = self._written % size
        first = min(len(samples), size - start)
        self._ring[start : start + first] = samples[:first]
        self._ring[: len(samples) - first] = samples[first:]
        self._written += len(samples)


def _mono(frame: rtc.AudioFrame) -> rtc.AudioFrame:
    if frame.num_channels == 1:
        return frame
    pcm = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    mixed = pcm.mean(axis=1).astype(np.int16)
    return rtc.AudioFrame(mixed.tobytes(), frame.sample_rate, 1, len(mixed))


class TappedAudioInput(AudioInput):
    """The session's audio input, passed through, with every frame also kept in `audio`."""

    def __init__(self, source: AudioInput, audio: TurnAudio) -> None:
        super().__init__(label="TappedAudioInput", source=source)
        self.audio = audio

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await super().__anext__()
        self.audio.push(frame)
        return frame
