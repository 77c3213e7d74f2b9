"""Lexical scoring: BM25 over lightly stemmed words, with the acronyms the documents define.

The dense embedding finds paraphrases; this finds the exact words a caller uses that the model
has no feel for: product names, plan names, numbers, and acronyms. An acronym is only useful if
it meets its long form, so the index reads the definitions the documents themselves make
("Single Sign-On (SSO)", or "SSO (single sign-on)") and gives every passage that uses either
form the acronym's token: a question saying "SSO" then finds the page that only says "single
sign-on", and the other way round. Nothing is hard-coded; a knowledge base that defines no
acronyms simply has none.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["LexicalIndex", "acronyms", "stem", "tokens"]

K1 = 1.2
B = 0.75

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = """
    a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just let me might more
    most my no nor not of off on once only or other our ours out over own per same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up us very was way we were what when where which while who whom why will with
    would you your yours yourself yourselves
    aren couldn didn doesn don hadn hasn haven isn ll re shouldn ve wasn weren won wouldn
"""
STOPWORDS = frozenset(_STOPWORDS.split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: plurals, -ing, -ed, -ly, -ation and a final e, enough to meet
    "priced", "prices" and "pricing", or "monthly" and "month", without a dictionary."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ations", "ation", "ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and any(c in "aeiouy" for c in base):
            if suffix.startswith("ation"):
                base += "at"
            elif len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # planned, planning: plan
            word = base
            break
    else:
        if word.endswith("ly") and len(word) >= 6:
            word = word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords or stray letters ("what's": what, s), in order."""
    words = _WORD.findall(text.lower())
    return [stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


# Acronym definitions, after Schwartz and Hearst (2003): the short form's letters must appear,
# in order, in the long form, the first one starting its first word.
_SHORT = r"[A-Z][A-Za-z0-9&]{0,8}[A-Z0-9]"
_BRACKETED_SHORT = re.compile(rf"\(\s*({_SHORT})\s*\)")
_SHORT_THEN_LONG = re.compile(rf"\b({_SHORT})\s*\(\s*([^()\n]{{3,80}})\s*\)")


def _long_form(short: str, text: str) -> str | None:
    """The end of `text` that `short` abbreviates, or None."""
    letters = [c.lower() for c in short if c.isalnum()]
    if sum(c.isupper() for c in short) < 2 or not letters[0].isalpha():
        return None
    words = text.split()[-min(len(letters) + 5, 2 * len(letters)) :]
    candidate = " ".join(words)
    i = len(candidate) - 1
    for n, letter in enumerate(reversed(letters)):
        first = n == len(letters) - 1
        while i >= 0 and (candidate[i].lower() != letter or (first and i > 0 and candidate[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
    start = candidate.rfind(" ", 0, i + 1) + 1
    long = candidate[start:].strip(" -:;,")
    return long if long and long.lower() != short.lower() else None


def acronyms(texts: Iterable[str]) -> dict[str, str]:
    """Each acronym the texts define, lower-cased, with its long form as first written."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _BRACKETED_SHORT.finditer(text):
            # The long form stands just before the bracket, on the same line, outside other brackets.
            before = text[max(0, match.start() - 120) : match.start()]
            before = re.split(r"[()\n]", before)[-1]
            long = _long_form(match.group(1), before)
            if long is not None:
                found.setdefault(match.group(1).lower(), long)
        for match in _SHORT_THEN_LONG.finditer(text):
            long = _long_form(match.group(1), match.group(2))
            # The whole bracket must be the long form, not a remark that happens to contain it.
            if long is not None and long == match.group(2).strip():
                found.setdefault(match.group(1).lower(), long)
    return {short: long for short, long in found.items() if len(tokens(long)) >= 2}


class LexicalIndex:
    """BM25 scores of every passage for a question, over an inverted index built once."""

    def __init__(self, passages: Sequence[str]) -> None:
        self.acronyms = acronyms(passages)
        self._long_tokens = {short: tokens(long) for short, long in self.acronyms.items()}
        self._size = len(passages)
        documents = [Counter(self.analyse(p)) for p in passages]
        lengths = np.array([sum(d.values()) for d in documents], np.float32)
        average = float(lengths.mean()) if self._size else 0.0
        norm = K1 * (1 - B + B * lengths / (average or 1.0))
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, counts in enumerate(documents):
            for term, tf in counts.items():
                postings[term].append((i, tf * (K1 + 1) / (tf + norm[i])))
        # Per term: the passages holding it and their weights, idf already applied.
        self._postings: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]] = {}
        for term, entries in postings.items():
            idf = self._idf(len(entries))
            ids = np.array([i for i, _ in entries], np.intp)
            weights = np.array([w for _, w in entries], np.float32) * np.float32(idf)
            self._postings[term] = (ids, weights)

    def analyse(self, text: str) -> list[str]:
        """The text's tokens, plus the acronym's token wherever a defined long form appears."""
        words = tokens(text)
        extra = [
            short
            for short, long in self._long_tokens.items()
            if any(words[i : i + len(long)] == long for i in range(len(words) - len(long) + 1))
        ]
        return words + extra

    def expand(self, query: str) -> str:
        """The query with each defined acronym it uses spelt out, for the embedding model:
        "What's your SLA?" -> "What's your SLA? (Service Level Agreement)"."""
        used = set(tokens(query)) & self.acronyms.keys()
        return query + "".join(f" ({self.acronyms[short]})" for short in sorted(used))

    def ideal(self, query: str) -> float:
        """The score of a passage of average length holding each of the query's words once: the
        query's total idf, words no passage holds included. A score divided by it says how much
        of the question a passage matches, on one scale for every question."""
        total = 0.0
        for term in set(self.analyse(query)):
            total += self._idf(len(self._postings[term][0]) if term in self._postings else 0)
        return total

    def _idf(self, df: int) -> float:
        return math.log(1 + (self._size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """One BM25 score a passage, in the passages' order; 0 for a passage sharing no word."""
        out = np.zeros(self._size, np.float32)
        for term in set(self.analyse(query)):
            posting = self._postings.get(term)
            if posting is not None:
                out[posting[0]] += posting[1]
        return out
