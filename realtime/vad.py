"""Silero VAD for the calls of one process: windows batched across calls, speech ends heard on time.

Each call gets its own livekit Silero stream (its events, its speech buffer, as shipped); two
things change under it, through the stream's model and its loop's executor:

- **Batched inference.** A stream hands each 32 ms window to its loop's executor; here the window
  joins the windows of the other calls that are ready in the same turn of the event loop, and one
  ONNX run serves them all. Alone, a window costs 0.13 ms; in a batch of eight, 0.06 ms each
  (measured on our 2-core machine). At low load a batch holds one window and nothing waits for
  company; under load the loop's turns grow and so do the batches.
- **Speech ends by energy.** Silero's recurrent state remembers speech: its probability stays above
  the threshold for 60-120 ms after the last syllable, so the silence that ends a turn started
  counting that late, and every caller waited for it. A window far quieter than the caller's own
  speech (`GATE_DB` below it) counts as silence at once. It can only lower a probability, never
  raise one, so noise louder than that gate leaves Silero's decision as it was.
- **Silence after a turn costs no inference.** Once a caller has been that quiet for the configured
  silence, their turn is over; further quiet windows are not sent to the model (the ONNX runs were
  the largest share of an agent process's CPU under load, and a caller is silent while the agent
  talks). Pauses inside a turn are heard by the model as before. Its recurrent state starts afresh
  on the next sound, as on a new stream: the next word starts speech at most one window later
  than Silero with its memory of the silence would have (the test).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import onnxruntime  # type: ignore[import-untyped]
from livekit.agents import vad
from livekit.plugins import silero

__all__ = ["GATE_DB", "CallModel", "CallVAD", "WindowBatcher", "call_vad"]

T = TypeVar("T")

SAMPLE_RATE = 16_000
WINDOW = 512
CONTEXT = 64
# -26 dB: the floor of a quiet room under a caller's voice, well above digital silence and line
# hiss, and below the softest consonants that end a word.
GATE_DB = -26.0
_GATE = 10 ** (GATE_DB / 20)
# The caller's speech level follows their speech windows slowly: one shout does not mute the rest.
_LEVEL_ALPHA = 0.2
_SPEECH_P = 0.5
# Silero's state carries seconds of memory: the next words found a fresh state up to three windows
# late, the state frozen at the turn's end one window late in 1 run of 6; hearing the last half
# second of the skipped quiet first, one window late in 1 of 40 (sessions of 40-80 runs each).
REPLAYED_WINDOWS = 16


class CallModel:
    """One call's Silero state (recurrent state, context), speech level and silence accounting.

    livekit's stream counts silence in whole windows from the first silent one, so the quiet end
    of the last speech window (up to 32 ms) went uncounted and the end of speech came that late.
    The model credits it by shortening its stream's own `min_silence_duration` for that silence.
    """

    window_size_samples = WINDOW
    sample_rate = SAMPLE_RATE
    context_size = CONTEXT

    def __init__(self, batcher: WindowBatcher, opts: Any) -> None:
        self.batcher = batcher
        self._opts = opts
        self._min_silence: float = opts.min_silence_duration
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)
        self.speech_rms = 0.0
        # The latest skipped windows (with their context), heard before the next sound.
        self.unheard: collections.deque[np.ndarray] = collections.deque(maxlen=REPLAYED_WINDOWS)
        self._quiet_end_s: float | None = None
        self._quiet_windows = 0
        self._opts.min_silence_duration = self._min_silence

    def skips(self, window: np.ndarray) -> bool:
        """Quiet past a turn's end (the configured silence is over): the model need not hear it."""
        return self._quiet_windows * WINDOW >= self._min_silence * SAMPLE_RATE and self._under_gate(
            _rms(window)
        )

    def settle_unheard(self, window: np.ndarray) -> float:
        """Take a window `skips` kept from the model; the probability the stream should see."""
        self.unheard.append(np.concatenate((self.context, window)))
        return self._settle_quiet(window)

    def settle(self, window: np.ndarray, p: float, state: np.ndarray) -> float:
        """Take the model's answer for `window`; the probability the stream should see."""
        self.state = state
        rms = _rms(window)
        if self._under_gate(rms):
            return self._settle_quiet(window)
        self.context = window[-CONTEXT:].copy()
        self._quiet_windows = 0
        self._opts.min_silence_duration = self._min_silence
        if p < _SPEECH_P:
            self._quiet_end_s = None
            return p
        loud = np.flatnonzero(np.abs(window) >= self.speech_rms * _GATE)
        self._quiet_end_s = (WINDOW - 1 - int(loud[-1])) / SAMPLE_RATE if loud.size else 0.0
        self.speech_rms = (
            rms if self.speech_rms == 0.0 else self.speech_rms + _LEVEL_ALPHA * (rms - self.speech_rms)
        )
        return p

    def _under_gate(self, rms: float) -> bool:
        return rms < self.speech_rms * _GATE

    def _settle_quiet(self, window: np.ndarray) -> float:
        self.context = window[-CONTEXT:].copy()
        self._quiet_windows += 1
        if self._quiet_end_s is not None:  # the first quiet window after speech
            self._opts.min_silence_duration = self._min_silence - self._quiet_end_s
            self._quiet_end_s = None
        return 0.0


def _rms(window: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(window))))


class WindowBatcher:
    """Runs the windows the process's calls have ready as one ONNX inference."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self._waiting: list[tuple[CallModel, np.ndarray, asyncio.Future[float]]] = []
        self.batches = 0
        self.windows = 0
        self.silent_windows = 0

    def submit(self, model: CallModel, window: np.ndarray) -> asyncio.Future[float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        window = np.array(window, dtype=np.float32)
        if model.skips(window):
            self.silent_windows += 1
            future.set_result(model.settle_unheard(window))
            return future
        try:
            self._hear_skipped(model)
        except Exception as exc:  # the stream fails this window, as it would have alone
            future.set_exception(exc)
            return future
        if not self._waiting:
            # Windows that arrive before the loop comes round to this ride in the same batch.
            loop.call_soon(self._run)
        self._waiting.append((model, window, future))
        return future

    def _hear_skipped(self, model: CallModel) -> None:
        """The quiet the model skipped just before this sound: about 2 ms, once a turn."""
        while model.unheard:
            inputs = {"input": model.unheard.popleft()[None], "state": model.state, "sr": self._sr}
            _, model.state = self._session.run(None, inputs)

    def _run(self) -> None:
        waiting, self._waiting = self._waiting, []
        models = [m for m, _, _ in waiting]
        windows = [w for _, w, _ in waiting]
        inputs = np.stack([np.concatenate((m.context, w)) for m, w in zip(models, windows, strict=True)])
        states = np.concatenate([m.state for m in models], axis=1)
        try:
            out, new_states = self._session.run(None, {"input": inputs, "state": states, "sr": self._sr})
        except Exception as exc:  # each stream fails its window as it would have alone
            for _, _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.windows += len(waiting)
        for i, (model, window, future) in enumerate(waiting):
            p = model.settle(window, float(out[i, 0]), np.ascontiguousarray(new_states[:, i : i + 1, :]))
            if not future.done():  # a stream closed meanwhile has stopped listening
                future.set_result(p)


class _BatchingLoop:
    """The event loop as a Silero stream sees it, except that its model's windows go to the batcher."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def run_in_executor(self, executor: object, func: Callable[..., T], *args: Any) -> asyncio.Future[Any]:
        if isinstance(func, CallModel):
            return func.batcher.submit(func, args[0])
        return self._loop.run_in_executor(executor, func, *args)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


@functools.cache
def _batcher(session: onnxruntime.InferenceSession) -> WindowBatcher:
    return WindowBatcher(session)


class CallVAD(silero.VAD):
    """A VAD instance of the call's own, over the process's loaded Silero model and its batcher.

    Each session subscribes to its VAD's per-second metrics; on one VAD instance shared by every
    call of a process, each call's metrics went to every session, N² callbacks a second (a tenth
    of an agent process's CPU at 20 calls). The ONNX session, the costly part, stays shared.
    """

    def __init__(self, shared: silero.VAD) -> None:
        super().__init__(session=shared._onnx_session, opts=shared._opts)
        self.batcher = _batcher(shared._onnx_session)

    def stream(self) -> silero.VADStream:
        stream = super().stream()
        # Options of the stream's own: its model adjusts the silence it waits for.
        stream._opts = dataclasses.replace(stream._opts)
        stream._model = CallModel(self.batcher, stream._opts)  # type: ignore[assignment]
        stream._loop = _BatchingLoop(stream._loop)  # type: ignore[assignment]
        return stream


def call_vad(shared: vad.VAD) -> vad.VAD:
    """The call's own VAD over the process's Silero model; any other VAD is used as it is."""
    if isinstance(shared, silero.VAD) and shared._opts.sample_rate == SAMPLE_RATE:
        return CallVAD(shared)
    return shared
