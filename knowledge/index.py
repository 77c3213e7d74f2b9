"""A knowledge base held in memory for search: chunk vectors in one matrix, and a lexical index.

`search` scores every chunk by the cosine similarity of its vector to the question's, plus a
small lexical term: BM25 (`knowledge.lexical`) divided by the question's ideal BM25, so 1 means
"holds every word of the question", times `LEXICAL_WEIGHT`. The question is embedded with the
acronyms the documents define spelt out ("SLA (Service Level Agreement)"), which the model
understands where it does not know the acronym.

Why this fusion: on the fixture question set (tests/knowledge/questions.yaml), worded unlike the
documents, the embedding alone is far ahead of BM25 alone (recall@3 0.89 against 0.66), and
reciprocal-rank fusion, which weighs the two rankings equally, fell below the embedding alone
(0.77 at equal weights, 0.89 at best with BM25's ranking weighted down to 0.05). A weighted sum,
the lexical term breaking near-ties of the embedding, beat both: 0.91 on the fixture base, 0.87
on the 1,000-chunk benchmark base against 0.83 for the embedding alone (docs/knowledge.md).

`IndexedChunk` is the form a chunk travels in (from the database, through Temporal's JSON
converter): its vector as base64 of little-endian float16, 768 bytes of binary as 1 KB of text.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from knowledge.chunks import passage
from knowledge.lexical import LexicalIndex

__all__ = [
    "LEXICAL_WEIGHT",
    "Hit",
    "IndexedChunk",
    "KnowledgeIndex",
    "Mode",
    "decode_vector",
    "encode_vector",
]

Mode = Literal["hybrid", "dense", "lexical"]
Vector = npt.NDArray[np.float32]

# A chunk holding every word of the question gains this much cosine similarity. Recall@3 was at
# its best for weights from 0.03 to 0.1 on both bases measured (0.15 lost a question on the
# fixture base); within that, the higher weights put the answer first or second more often.
LEXICAL_WEIGHT = 0.08
_FLOAT16 = np.dtype("<f2")


@dataclass(frozen=True)
class IndexedChunk:
    source: str
    heading: str
    text: str
    vector: str  # base64 of the embedding as little-endian float16


@dataclass(frozen=True)
class Hit:
    source: str
    heading: str
    text: str
    score: float  # higher is better; comparable only within one search


def encode_vector(vector: npt.NDArray[np.floating]) -> str:
    return base64.b64encode(np.asarray(vector, _FLOAT16).tobytes()).decode("ascii")


def decode_vector(text: str) -> Vector:
    return np.frombuffer(base64.b64decode(text), _FLOAT16).astype(np.float32)


def _query_embedder() -> Callable[[str], Vector]:
    from knowledge.embedding import embedder

    return embedder().embed_query


class KnowledgeIndex:
    """One knowledge base's chunks, searchable; `name` and `version` say which and which content."""

    def __init__(
        self,
        name: str,
        version: str,
        chunks: Sequence[IndexedChunk],
        embed_query: Callable[[str], Vector] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self._chunks = tuple(chunks)
        self._embed_query = embed_query
        vectors = np.stack([decode_vector(c.vector) for c in chunks]) if chunks else np.zeros((0, 0))
        # float16 storage loses the exact norm; renormalise so a dot product is the cosine.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if chunks else np.ones((0, 1))
        self._matrix = np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1), dtype=np.float32)
        self._lexical = LexicalIndex([passage(c.heading, c.text) for c in chunks])

    @classmethod
    def from_chunks(cls, name: str, version: str, chunks: Sequence[IndexedChunk]) -> KnowledgeIndex:
        return cls(name, version, chunks)

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def acronyms(self) -> dict[str, str]:
        """The acronyms the chunks define, lower-cased, with their long forms."""
        return self._lexical.acronyms

    def _dense(self, query: str) -> npt.NDArray[np.float32]:
        if self._embed_query is None:
            self._embed_query = _query_embedder()
        vector = self._embed_query(query)
        if vector.shape[0] != self._matrix.shape[1]:
            raise ValueError(
                f"knowledge base {self.name!r} holds {self._matrix.shape[1]}-dimensional vectors; "
                f"the embedder makes {vector.shape[0]}: re-ingest it with this model"
            )
        scores: npt.NDArray[np.float32] = self._matrix @ vector
        return scores

    def scores(self, query: str, mode: Mode = "hybrid") -> npt.NDArray[np.float32]:
        """Every chunk's score for the question, in the chunks' order."""
        if mode == "dense":
            return self._dense(query)
        lexical = self._lexical.scores(query)
        if mode == "lexical":
            return lexical
        ideal = self._lexical.ideal(query)
        dense = self._dense(self._lexical.expand(query))
        if ideal > 0:
            dense += np.float32(LEXICAL_WEIGHT / ideal) * lexical
        return dense

    def search(self, query: str, k: int = 3, mode: Mode = "hybrid") -> list[Hit]:
        """The `k` chunks best matching the question, best first.

        CPU-bound for a few milliseconds (mostly the question's embedding): call it from a worker
        thread, not on an event loop that plays audio.
        """
        if not self._chunks or not query.strip() or k <= 0:
            return []
        scores = self.scores(query, mode)
        # A lexical search returns only chunks sharing a word with the question.
        candidates = np.flatnonzero(scores > 0) if mode == "lexical" else np.arange(len(self))
        k = min(k, candidates.shape[0])
        if k == 0:
            return []
        top = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            Hit(self._chunks[i].source, self._chunks[i].heading, self._chunks[i].text, float(scores[i]))
            for i in top
        ]
