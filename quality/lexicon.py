"""Which tokens are English words: Debian's `wamerican` list (SCOWL, about 100,000 words with
proper names, possessives and contractions), read once. A word list, not a model: offline and
the same on every machine that has the package."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["LexiconError", "english_words"]

WORD_LIST = Path("/usr/share/dict/american-english")
# Hesitations a speaker writes out that the list leaves out.
_INTERJECTIONS = frozenset({"hmm", "mhm", "mmm"})


class LexiconError(RuntimeError):
    """The English word list is not installed."""


@lru_cache(maxsize=1)
def english_words(path: Path = WORD_LIST) -> frozenset[str]:
    """Every word of the list, lower case."""
    if not path.is_file():
        raise LexiconError(f"{path}: no English word list (apt-get install wamerican)")
    with path.open(encoding="utf-8", errors="replace") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip()) | _INTERJECTIONS
