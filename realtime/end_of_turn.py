"""Semantic end of turn: smart-turn v3.2 hears whether the caller's turn sounds finished.

The model (BSD-2, shipped inside the `pipecat-ai` wheel) reads up to the last 8 s of the turn's
16 kHz audio, front-padded with zeros to 8 s, as Whisper log-mel features and answers a sigmoid
probability that the turn is complete. A short phrase and a pause ("Hi Dana, ...") scores low, a
finished question high; the turn-taking chart's settings say what to make of the number.

`pipecat` itself is never imported: its package `__init__` patches `asyncio.wait_for` and logs a
banner. The model file and the numpy feature code are found through the distribution's files.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import importlib.util
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import cast

import numpy as np
import onnxruntime  # type: ignore[import-untyped]

__all__ = ["MAX_SECONDS", "SAMPLE_RATE", "EndOfTurnModel", "end_of_turn_model", "predict_soon"]

SAMPLE_RATE = 16_000
MAX_SECONDS = 8
_PACKAGE_DIR = "pipecat/audio/turn/smart_turn"
_MODEL_FILE = f"{_PACKAGE_DIR}/data/smart-turn-v3.2-cpu.onnx"
_FEATURES_FILE = f"{_PACKAGE_DIR}/_whisper_features.py"


def _pipecat_file(relative: str) -> Path:
    path = Path(str(importlib.metadata.distribution("pipecat-ai").locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"pipecat-ai has no {relative} (looked for {path})")
    return path


def _load_features_module() -> ModuleType:
    # Under a private name: importing it as `pipecat....` would run pipecat's package __init__.
    spec = importlib.util.spec_from_file_location("_rapport_whisper_features", _pipecat_file(_FEATURES_FILE))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class EndOfTurnModel:
    """smart-turn v3.2 on onnxruntime, one intra-op thread; safe to share across calls (one
    inference at a time per caller of `probability`, which onnxruntime allows concurrently)."""

    def __init__(self) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(
            str(_pipecat_file(_MODEL_FILE)), sess_options=options, providers=["CPUExecutionProvider"]
        )
        features = _load_features_module()
        self._features = cast(Callable[..., np.ndarray], features.compute_whisper_log_mel_features)

    def probability(self, audio: np.ndarray) -> float:
        """P(the turn is finished) for mono 16 kHz audio ending now: float in [-1, 1] or int16."""
        samples = np.asarray(audio)
        if samples.dtype == np.int16:
            samples = samples.astype(np.float32) / 32768.0
        samples = samples.astype(np.float32, copy=False)[-MAX_SECONDS * SAMPLE_RATE :]
        padded = np.pad(samples, (MAX_SECONDS * SAMPLE_RATE - len(samples), 0))
        log_mel = self._features(padded, do_normalize=True)
        (out,) = self._session.run(None, {"input_features": np.expand_dims(log_mel, 0)})
        return float(np.asarray(out).reshape(-1)[0])


@functools.cache
def end_of_turn_model() -> EndOfTurnModel:
    """The process's model, loaded on first use and shared by every call."""
    return EndOfTurnModel()


# One inference costs about 110 ms on our 2-core machine (8 s of audio, one thread): far too long
# for the event loop. One worker for the process keeps it to one core whatever the number of calls.
_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="end-of-turn")


def predict_soon(audio: np.ndarray) -> asyncio.Future[float]:
    """P(finished) for `audio`, computed off the running event loop."""
    return asyncio.get_running_loop().run_in_executor(_EXECUTOR, end_of_turn_model().probability, audio)
