"""Words for comparing what was said with what was heard: lower case, no punctuation, numbers as
words, so "$400" and "four hundred dollars" are the same three words."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

__all__ = ["join_compounds", "number_words", "said_again", "words"]

# Two replies of at least NEAR_MIN_WORDS words are near-identical from this similarity up.
NEAR_SIMILARITY = 0.85
NEAR_MIN_WORDS = 4

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> list[str]:
    """A non-negative integer as the words a speaker would use, without "and" ("one hundred forty")."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    for size, name in _SCALES:
        if n >= size:
            return number_words(n // size) + [name] + (number_words(n % size) if n % size else [])
    raise AssertionError(n)  # every n >= 100 has a scale


def _spell(match: re.Match[str]) -> str:
    whole, fraction = match.group(1).replace(",", ""), match.group(2)
    out = number_words(int(whole))
    if fraction:
        out += ["point", *(_ONES[int(d)] for d in fraction)]
    return " " + " ".join(out) + " "


_MONEY = re.compile(r"\$(\d[\d,]*(?:\.\d+)?)")
_NUMBER = re.compile(r"(\d[\d,]*\d|\d)(?:\.(\d+))?")
_SPOKEN_ONE = {"a": "one", "an": "one"}
_SCALE_WORDS = {name for _, name in _SCALES}
_SAME = {"ok": "okay"}


def words(text: str) -> list[str]:
    """`text` as comparable words: lower case, punctuation gone (apostrophes inside words kept),
    hyphens as spaces, digits spelled out, "a hundred" as "one hundred", "and" inside a number dropped."""
    text = _MONEY.sub(r"\1 dollars", text.lower())
    text = text.replace("%", " percent ")
    text = _NUMBER.sub(_spell, text)
    raw = re.findall(r"[a-z0-9]+(?:'[a-z]+)*", text.replace("-", " "))
    out: list[str] = []
    for index, word in enumerate(raw):
        following = raw[index + 1] if index + 1 < len(raw) else ""
        if word in _SPOKEN_ONE and following in _SCALE_WORDS:
            word = "one"
        elif word == "and" and out and out[-1] in _SCALE_WORDS and following in _ONES + _TENS:
            continue
        out.append(_SAME.get(word, word))
    return out


def join_compounds(heard: list[str], said: list[str]) -> list[str]:
    """`heard` with two neighbouring words joined where the script has them as one ("route wise"
    for "Routewise"): a speller's split, not a word lost."""
    vocabulary = set(said)
    out: list[str] = []
    for word in heard:
        if out and out[-1] + word in vocabulary and not {out[-1], word} <= vocabulary:
            out[-1] += word
        else:
            out.append(word)
    return out


def said_again(said: list[str], earlier: list[str]) -> bool:
    """`said` (words) repeats `earlier`: word for word, or near-identical and long enough that it is
    not a plain "Sure." twice."""
    near = (
        min(len(said), len(earlier)) >= NEAR_MIN_WORDS
        and SequenceMatcher(None, said, earlier).ratio() >= NEAR_SIMILARITY
    )
    return bool(said) and (said == earlier or near)
