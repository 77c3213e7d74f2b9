"""The calls' Silero VAD: real speech, the real model, livekit's own stream around it."""

from __future__ import annotations

import asyncio
import functools

import numpy as np
from livekit import rtc
from livekit.agents import vad
from livekit.plugins import silero

from rapport.settings import Settings
from realtime.providers import VAD_MIN_SILENCE_S, build_vad
from realtime.transports.scripted import RATE, caller_voice
from realtime.vad import GATE_DB, CallVAD, call_vad

FRAME = RATE // 50  # 20 ms


@functools.cache
def _speech() -> np.ndarray:
    return caller_voice("How do your dispatchers plan routes today?")


def _with_silence(speech: np.ndarray, noise_db: float | None = None) -> np.ndarray:
    """Half a second before, a second after; with noise this far below the speech's level."""
    pcm = np.concatenate([np.zeros(RATE // 2), speech.astype(np.float64), np.zeros(RATE)])
    if noise_db is not None:
        level = np.sqrt(np.mean(np.square(speech.astype(np.float64))))
        noise = np.random.default_rng(7).standard_normal(len(pcm)) * level * 10 ** (noise_db / 20)
        pcm = pcm + noise
    return np.clip(pcm, -32768, 32767).astype(np.int16)


def _speech_end_s(speech: np.ndarray) -> float:
    loud = np.flatnonzero(np.abs(speech.astype(np.int32)) > 1000)
    return RATE // 2 / RATE + (loud[-1] + 1) / RATE


async def _edges(model: vad.VAD, pcm: np.ndarray) -> list[tuple[vad.VADEventType, float]]:
    """The stream's start and end of speech, on the audio's own clock (seconds)."""
    stream = model.stream()
    for i in range(0, len(pcm), FRAME):
        chunk = pcm[i : i + FRAME]
        stream.push_frame(rtc.AudioFrame(chunk.tobytes(), RATE, 1, len(chunk)))
    stream.end_input()
    edges: list[tuple[vad.VADEventType, float]] = []
    async for event in stream:
        if event.type != vad.VADEventType.INFERENCE_DONE:
            edges.append((event.type, event.timestamp))
    await stream.aclose()
    return edges


def _end(edges: list[tuple[vad.VADEventType, float]]) -> float:
    ends = [t for kind, t in edges if kind == vad.VADEventType.END_OF_SPEECH]
    assert len(ends) == 1, edges
    return ends[0]


async def test_the_end_of_speech_is_heard_when_the_silence_has_lasted() -> None:
    """Silero alone ends speech 60-120 ms late (its memory of the voice); a call's VAD counts the
    silence from the last loud window, so the end comes one window after the configured silence."""
    shared = build_vad(Settings.from_env())
    pcm = _with_silence(_speech())
    due = _speech_end_s(_speech()) + VAD_MIN_SILENCE_S
    stock, ours = _end(await _edges(shared, pcm)), _end(await _edges(call_vad(shared), pcm))
    # Whole 32 ms windows, plus the gap between this test's last sound (|x| > 1000) and the
    # model's (its gate, relative to the voice): Piper's soft word endings differ per synthesis,
    # and a tail between the two still sounds like voice to Silero (seen: 72 ms once in ~30 runs).
    assert due <= ours <= due + 0.080, (due, ours)
    assert ours <= stock - 0.030, (ours, stock)


async def test_noise_above_the_gate_leaves_silero_to_decide() -> None:
    """Background noise louder than the gate (here 20 dB under the voice) never counts as
    silence by energy: the call's VAD ends speech exactly where Silero alone does."""
    assert GATE_DB < -20
    shared = build_vad(Settings.from_env())
    pcm = _with_silence(_speech(), noise_db=-20)
    assert await _edges(call_vad(shared), pcm) == await _edges(shared, pcm)


async def test_calls_share_inference_and_each_hears_its_own_speech() -> None:
    """Four calls in one process, speaking at different moments: their windows run in shared
    batches, and each call's speech edges are those it gets when it is alone."""
    shared = build_vad(Settings.from_env())
    assert isinstance(shared, silero.VAD)
    offsets = [0, 3_000, 11_000, 24_000]
    calls = [np.concatenate([np.zeros(k, np.int16), _with_silence(_speech())]) for k in offsets]
    alone = [await _edges(call_vad(shared), pcm) for pcm in calls]
    batcher = CallVAD(shared).batcher
    before = (batcher.batches, batcher.windows)
    together = await asyncio.gather(*(_edges(call_vad(shared), pcm) for pcm in calls))
    assert together == alone
    batches, windows = batcher.batches - before[0], batcher.windows - before[1]
    assert windows > 0 and batches <= windows / 2, (batches, windows)


async def test_silence_after_a_turn_costs_no_inference_and_the_next_words_are_heard() -> None:
    """Once a caller's turn has ended, windows far under their voice are not sent to the model;
    their next words start speech where Silero alone starts it (within a window), and every turn
    ends."""
    shared = build_vad(Settings.from_env())
    assert isinstance(shared, silero.VAD)
    speech = _with_silence(_speech())
    pcm = np.concatenate([speech, speech[RATE // 2 :]])
    batcher = CallVAD(shared).batcher
    skipped = batcher.silent_windows
    ours, stock = await _edges(call_vad(shared), pcm), await _edges(shared, pcm)
    starts = [[t for kind, t in edges if kind == vad.VADEventType.START_OF_SPEECH] for edges in (ours, stock)]
    ends = [[t for kind, t in edges if kind == vad.VADEventType.END_OF_SPEECH] for edges in (ours, stock)]
    assert len(starts[0]) == len(starts[1]) == len(ends[0]) == len(ends[1]) == 2, (ours, stock)
    assert all(abs(a - b) <= 0.033 for a, b in zip(*starts, strict=True)), starts
    assert all(a < b for a, b in zip(*ends, strict=True)), ends
    # The second of silence after each turn, less the configured silence that ends the turn.
    assert batcher.silent_windows - skipped >= 2 * 15, batcher.silent_windows - skipped


async def test_a_pause_inside_a_turn_is_heard_by_the_model() -> None:
    """A pause shorter than the configured silence (a comma's breath) does not end the turn, and
    the words after it are heard as the same turn's: the model hears the pause as Silero does."""
    shared = build_vad(Settings.from_env())
    words = _speech()
    pause = np.zeros(int(RATE * (VAD_MIN_SILENCE_S - 0.1)), np.int16)
    pcm = _with_silence(np.concatenate([words, pause, words, pause, words]))
    edges = await _edges(call_vad(shared), pcm)
    assert [kind for kind, _ in edges] == [vad.VADEventType.START_OF_SPEECH, vad.VADEventType.END_OF_SPEECH]
