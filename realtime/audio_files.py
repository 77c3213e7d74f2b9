"""Reading, converting and writing audio files: any rate, mono or stereo in; mono int16 out."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

__all__ = ["AudioFileError", "read_audio", "resample", "trim_silence", "write_wav"]


class AudioFileError(ValueError):
    """An audio file is missing or cannot be decoded; the message names the file."""


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Mono int16 `pcm` at `from_rate` → mono int16 at `to_rate` (libswresample via PyAV)."""
    if from_rate == to_rate or len(pcm) == 0:
        return np.asarray(pcm, dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = from_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def read_audio(path: Path, *, rate: int = 16000) -> np.ndarray:
    """Decode any audio file to mono int16 at `rate`; stereo is mixed down, any rate resampled."""
    if not path.is_file():
        raise AudioFileError(f"{path}: no such audio file")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioFileError(f"{path}: contains no audio stream")
            for frame in container.decode(audio=0):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from None
    if not chunks:
        raise AudioFileError(f"{path}: decodes to no audio samples")
    return np.concatenate(chunks).astype(np.int16)


def trim_silence(pcm: np.ndarray, *, rate: int, threshold: int = 300) -> np.ndarray:
    """Drop leading and trailing near-silence, so an utterance's end is where speech ends."""
    window = max(1, rate // 100)
    usable = len(pcm) // window * window
    if usable == 0:
        return pcm
    energy = np.abs(pcm[:usable].astype(np.int32)).reshape(-1, window).max(axis=1)
    loud = np.flatnonzero(energy > threshold)
    if len(loud) == 0:
        return pcm[:0]
    return pcm[loud[0] * window : (loud[-1] + 1) * window]


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(pcm, dtype=np.int16).tobytes())
