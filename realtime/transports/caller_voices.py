"""Caller audio for `say:` turns in voices we did not make: espeak-ng's accents, sox's noise and
recordings, and the pauses a person leaves mid-sentence.

Everything here is deterministic: espeak-ng synthesises the same samples for the same text, and
sox runs in its repeatable mode (`-R`), so a scenario sounds the same on every run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from realtime.audio_files import AudioFileError, read_audio, resample, trim_silence, write_wav
from realtime.transports.scenario import CallerVoice, Noise, Pause, Recording, spoken_parts

__all__ = ["CallerVoiceError", "caller_voice", "render_say"]

RATE = 16000
_TIMEOUT_S = 60
# The default caller: the bundled voice synthesised slowly, then played faster, so it is pitched
# a quarter higher than the agent's and easy to tell apart in a recording.
CALLER_PITCH = 1.25


class CallerVoiceError(RuntimeError):
    """A caller's audio could not be made; the message names the binary and what it was making."""


def _require(binary: str, what: str) -> None:
    if shutil.which(binary) is None:
        raise CallerVoiceError(f"{what}: {binary} is not installed (apt-get install {binary})")


def _run(binary: str, args: list[str], what: str) -> None:
    _require(binary, what)
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=_TIMEOUT_S)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        raise CallerVoiceError(
            f"{what}: {binary} failed (exit {result.returncode}): {detail[-1] if detail else 'no message'}"
        )


@lru_cache(maxsize=2)
def _espeak_names(kind: str) -> frozenset[str]:
    """The languages and voice files `espeak-ng --voices` lists ("en-gb-scotland"), or with kind
    "variant" the variants ("m3" from "!v/m3")."""
    listing = subprocess.run(
        ["espeak-ng", f"--voices={kind}" if kind else "--voices"],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=True,
    ).stdout.splitlines()[1:]
    columns = [line.split() for line in listing if len(line.split()) >= 5]
    return frozenset(name.removeprefix("!v/") for c in columns for name in (c[1], c[4]))


def _check_voice(name: str, what: str) -> None:
    # espeak-ng reads an unknown voice with a known prefix ("en-gb-scotlnd") as plain "en" without
    # a word: a typo would silently be another accent.
    language, _, variant = name.partition("+")
    if language not in _espeak_names(""):
        raise CallerVoiceError(f"{what}: espeak-ng has no voice {language!r} (espeak-ng --voices lists them)")
    if variant and variant not in _espeak_names("variant"):
        raise CallerVoiceError(
            f"{what}: espeak-ng has no variant {variant!r} (espeak-ng --voices=variant lists them)"
        )


def _read(path: Path, binary: str, what: str) -> np.ndarray:
    try:
        return read_audio(path, rate=RATE)
    except AudioFileError as exc:
        raise CallerVoiceError(f"{what}: {binary} wrote no usable audio ({exc})") from None


def _espeak(text: str, voice: CallerVoice, work: Path, what: str) -> np.ndarray:
    out = work / "phrase.wav"
    name = voice.name or "en-us"
    _require("espeak-ng", what)
    _check_voice(name, what)
    args = ["-v", name, "-w", str(out)]
    if voice.speed_wpm is not None:
        args += ["-s", str(voice.speed_wpm)]
    # "--" keeps a phrase that starts with a dash from being read as an option.
    _run("espeak-ng", [*args, "--", text], what)
    return _read(out, "espeak-ng", what)


def caller_voice(text: str) -> np.ndarray:
    """Synthesise `text` in the default caller's voice: mono int16 at 16 kHz, silence trimmed."""
    from realtime.plugins.piper_tts import synthesize_pcm

    pcm, rate, _ = synthesize_pcm(text, length_scale=CALLER_PITCH)
    return trim_silence(resample(pcm, int(rate * CALLER_PITCH), RATE), rate=RATE)


def _pink_noise(samples: int, work: Path, what: str) -> np.ndarray:
    out = work / "noise.wav"
    seconds = f"{samples / RATE + 0.1:.3f}"
    _run(
        "sox",
        ["-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(out), "synth", seconds, "pinknoise"],
        what,
    )
    return _read(out, "sox", what)[:samples]


def _rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(pcm.astype(np.float64))))) if len(pcm) else 0.0


def _with_noise(pcm: np.ndarray, speech_rms: float, noise: Noise, work: Path, what: str) -> np.ndarray:
    hiss = _pink_noise(len(pcm), work, what).astype(np.float64)
    # Scaled against the speech alone: the pauses would otherwise make the noise quieter than stated.
    hiss *= speech_rms / (10 ** (noise.snr_db / 20)) / max(_rms(hiss), 1.0)
    return np.clip(pcm.astype(np.float64) + hiss, -32768, 32767).astype(np.int16)


def _through_recording(pcm: np.ndarray, recording: Recording, work: Path, what: str) -> np.ndarray:
    plain, recorded = work / "plain.wav", work / "recorded.wav"
    write_wav(plain, pcm, RATE)
    _run(
        "sox",
        ["-R", str(plain), "-r", str(recording.rate), "-c", str(recording.channels), str(recorded)],
        what,
    )
    return _read(recorded, "sox", what)


def render_say(
    say: str,
    voice: CallerVoice,
    *,
    noise: Noise | None = None,
    recording: Recording | None = None,
    what: str = "say",
) -> np.ndarray:
    """One `say:` turn as mono int16 at 16 kHz: each phrase in `voice`, each `[pause MS]` as that
    much silence, then noise under it and a trip through a recording's format if the scenario asks.
    `what` names the turn in errors ("FILE: caller.turns[2].say")."""
    with tempfile.TemporaryDirectory(prefix="rapport-voice-") as tmp:
        work = Path(tmp)
        pieces: list[np.ndarray] = []
        spoken: list[np.ndarray] = []
        for part in spoken_parts(say):
            if isinstance(part, Pause):
                pieces.append(np.zeros(RATE * part.ms // 1000, np.int16))
                continue
            phrase = _espeak(part, voice, work, what) if voice.engine == "espeak-ng" else caller_voice(part)
            phrase = trim_silence(phrase, rate=RATE)
            pieces.append(phrase)
            spoken.append(phrase)
        pcm = np.concatenate(pieces)
        if noise is not None:
            pcm = _with_noise(pcm, _rms(np.concatenate(spoken)), noise, work, what)
        if recording is not None:
            pcm = _through_recording(pcm, recording, work, what)
        return pcm
