"""Triggers a conversation chart may name: stage moves decided from the caller's words, not the LLM.

A small local model calls its stage-move tools unreliably. A transition can name a trigger
instead (or as well): `caller_says` fires it when the caller's turn means what one of the chart's
example phrases means, by MiniLM sentence embeddings (the embedder knowledge search already
ships). Embeddings group lines by topic more than by intent (a question about routes sits near a
pitch about routes), so a trigger also lists what it is `unlike`: the turn must come closer to an
example than to any of those. The same turn always gives the same answer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from knowledge.embedding import embedder
from statecharts.registry import Registry

__all__ = ["DEFAULT_MIN_SIMILARITY", "caller_says", "register_triggers", "similarity"]

DEFAULT_MIN_SIMILARITY = 0.5
"""Cosine similarity of MiniLM vectors below which no turn fires, however far from `unlike` it is
(tests/test_triggers.py holds the lines it was set on)."""


@functools.cache
def _example_vectors(examples: tuple[str, ...]) -> np.ndarray:
    return np.stack([embedder().embed_query(example) for example in examples])


def _phrases(params: Mapping[str, object], key: str) -> tuple[str, ...]:
    phrases = params.get(key, [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise ValueError(f"caller_says: params.{key} must be a list of phrases")
    return tuple(phrases)


def similarity(phrases: tuple[str, ...], text: str) -> float:
    """How close `text` comes to the nearest of `phrases` (1.0: the same meaning; 0 with none)."""
    if not phrases or not text.strip():
        return 0.0
    return float(np.max(_example_vectors(phrases) @ embedder().embed_query(text)))


def caller_says(params: Mapping[str, object], text: str) -> bool:
    """The turn is nearer one of `params.examples` than any of `params.unlike`, and near enough."""
    threshold = params.get("min_similarity", DEFAULT_MIN_SIMILARITY)
    if not isinstance(threshold, int | float):
        raise ValueError("caller_says: params.min_similarity must be a number")
    examples = _phrases(params, "examples")
    if not examples:
        raise ValueError("caller_says needs params.examples: a list of phrases")
    closest = similarity(examples, text)
    return closest >= threshold and closest > similarity(_phrases(params, "unlike"), text)


def register_triggers(registry: Registry) -> None:
    registry.trigger("caller_says")(caller_says)
