"""Checks on a finished call's words: did the caller's words arrive, and did the buyer answer each
turn once, in character, in plain English.

A call is its turns in time order: the caller's (what the script said, split where the caller
paused, and what the agent transcribed) and the agent's (what the caller heard). Each check is a
pure function returning findings; `check_call` runs them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from quality.lexicon import english_words
from quality.roles import KINDS, sounds_like
from quality.text import join_compounds, said_again, words
from quality.wer import align

__all__ = [
    "AgentTurn",
    "CallQuality",
    "CallerTurn",
    "Finding",
    "Kind",
    "answered_once",
    "caller_wer",
    "check_call",
    "echoes",
    "identifiers_spoken",
    "missing_sentences",
    "repeated_replies",
    "run_together",
    "selling",
    "stray_words",
]


@dataclass(frozen=True)
class CallerTurn:
    """`said`: the script's phrases, split where the caller paused; `heard`: the agent's transcript."""

    said: tuple[str, ...]
    heard: str


@dataclass(frozen=True)
class AgentTurn:
    """A reply as the caller heard it."""

    text: str


Turn = CallerTurn | AgentTurn


class Kind(StrEnum):
    CALLER_SENTENCE_MISSING = "caller_sentence_missing"
    UNANSWERED = "unanswered"
    ANSWERED_TWICE = "answered_twice"
    ECHO = "echo"
    RUN_TOGETHER = "run_together"
    STRAY_WORD = "stray_word"
    IDENTIFIER = "identifier"
    REPEATED = "repeated"
    SELLING = "selling"
    OFF_TOPIC = "off_topic"
    OUT_OF_CHARACTER = "out_of_character"


@dataclass(frozen=True)
class Finding:
    """What is wrong, at which turn (an index into the call's turns), and the words that show it."""

    kind: Kind
    turn: int
    detail: str


@dataclass(frozen=True)
class CallQuality:
    caller_wer: float
    findings: tuple[Finding, ...]

    def of_kind(self, kind: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]


# A sentence of the script is missing when fewer than this share of its words arrived, as themselves
# or misheard: a misheard word is the STT's error (counted by WER), a dropped one is a lost word.
MISSING_BELOW = 0.5
# A reply echoes when at least this share of its word trigrams are in the caller's last turn.
ECHO_SHARE = 0.5


def _agent(turns: Sequence[Turn]) -> Iterable[tuple[int, AgentTurn]]:
    return ((i, t) for i, t in enumerate(turns) if isinstance(t, AgentTurn) and t.text.strip())


def _callers(turns: Sequence[Turn]) -> Iterable[tuple[int, CallerTurn]]:
    return ((i, t) for i, t in enumerate(turns) if isinstance(t, CallerTurn))


def caller_wer(turns: Sequence[Turn]) -> float:
    """Word error rate of the caller's transcripts against the script, over the whole call (edits
    summed over turns, divided by the script's words), after `quality.text.words` normalisation."""
    errors = total = 0
    for _, turn in _callers(turns):
        said = words(" ".join(turn.said))
        result = align(said, join_compounds(words(turn.heard), said))
        errors += result.errors
        total += result.reference_words
    return errors / total if total else 0.0


def _sentences(phrase: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", phrase) if words(s)]


def missing_sentences(turns: Sequence[Turn]) -> list[Finding]:
    """A sentence or a phrase between pauses of the script whose words mostly did not arrive: no
    word of the transcript stands in their place."""
    found: list[Finding] = []
    for index, turn in _callers(turns):
        units = [s for phrase in turn.said for s in _sentences(phrase)]
        said = [w for u in units for w in words(u)]
        arrived = align(said, join_compounds(words(turn.heard), said)).arrived
        start = 0
        for unit in units:
            size = len(words(unit))
            if sum(arrived[start : start + size]) < MISSING_BELOW * size:
                found.append(Finding(Kind.CALLER_SENTENCE_MISSING, index, unit))
            start += size
    return found


def answered_once(turns: Sequence[Turn]) -> list[Finding]:
    """Every caller turn gets exactly one reply before the caller speaks again."""
    found: list[Finding] = []
    callers = list(_callers(turns))
    for n, (index, caller) in enumerate(callers):
        end = callers[n + 1][0] if n + 1 < len(callers) else len(turns)
        replies = [t.text for i, t in _agent(turns) if index < i < end]
        if not replies:
            found.append(Finding(Kind.UNANSWERED, index, " ".join(caller.said)))
        elif len(replies) > 1:
            found.append(Finding(Kind.ANSWERED_TWICE, index, " | ".join(replies)))
    return found


def _trigrams(tokens: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)]


def echoes(turns: Sequence[Turn]) -> list[Finding]:
    """A reply at least half of whose word trigrams come from the caller's last turn (as scripted
    or as heard): the caller's words said back instead of an answer."""
    found: list[Finding] = []
    last: set[tuple[str, ...]] = set()
    for index, turn in enumerate(turns):
        if isinstance(turn, CallerTurn):
            last = set(_trigrams(words(" ".join(turn.said)))) | set(_trigrams(words(turn.heard)))
            continue
        grams = _trigrams(words(turn.text))
        if grams and sum(g in last for g in grams) >= ECHO_SHARE * len(grams):
            found.append(Finding(Kind.ECHO, index, turn.text))
    return found


# Letters, a sentence mark, letters with no space ("today?dollars"); two letters or more on each
# side so abbreviations ("e.g.", "U.S.") pass.
_GLUED = re.compile(r"[A-Za-z]{2,}[.?!,;:][A-Za-z]{2,}")
# A capital inside a word ("CamelCase", "routeWise"); names like McKay and MacLeod are words.
_CAMEL = re.compile(r"\b(?!Mc|Mac)[A-Za-z][a-z]+[A-Z][A-Za-z]*\b")


def run_together(turns: Sequence[Turn]) -> list[Finding]:
    """Words joined with no space: across a sentence mark, or as CamelCase."""
    return [
        Finding(Kind.RUN_TOGETHER, index, match.group(0))
        for index, turn in _agent(turns)
        for match in (*_GLUED.finditer(turn.text), *_CAMEL.finditer(turn.text))
    ]


_SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")


def identifiers_spoken(turns: Sequence[Turn], identifiers: Iterable[str] = ()) -> list[Finding]:
    """A snake_case word, or one of the chart's event or tool names said as words ("rep stated
    purpose"); two-word names ("end call") are left to the snake_case rule, as plain speech uses them."""
    phrases = [
        re.compile(r"\b" + r"[\s_]+".join(map(re.escape, name.split("_"))) + r"\b", re.IGNORECASE)
        for name in identifiers
        if name.count("_") >= 2
    ]
    found: list[Finding] = []
    for index, turn in _agent(turns):
        hits = {m.group(0) for m in _SNAKE.finditer(turn.text)}
        hits |= {m.group(0) for p in phrases for m in p.finditer(turn.text)}
        found += [Finding(Kind.IDENTIFIER, index, hit) for hit in sorted(hits)]
    return found


def stray_words(turns: Sequence[Turn], known: Iterable[str] = ()) -> list[Finding]:
    """A word of a reply that is neither English (`quality.lexicon`), a number, nor one of the
    `known` names (the company, the people) or a word the caller used."""
    vocabulary = english_words() | {w.lower() for w in known}
    for _, caller in _callers(turns):
        vocabulary |= set(words(" ".join(caller.said))) | set(words(caller.heard))
    found: list[Finding] = []
    for index, turn in _agent(turns):
        # Glued and snake_case words are their own findings; here each of their pieces is judged.
        for token in re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", turn.text):
            word = token.lower()
            base = word[:-2] if word.endswith("'s") else word
            if word not in vocabulary and base not in vocabulary:
                found.append(Finding(Kind.STRAY_WORD, index, token))
    return found


def repeated_replies(turns: Sequence[Turn]) -> list[Finding]:
    """A reply said before, word for word, or near-identical (long enough that it is not a plain
    "Sure." twice)."""
    found: list[Finding] = []
    before: list[list[str]] = []
    for index, turn in _agent(turns):
        said = words(turn.text)
        if any(said_again(said, earlier) for earlier in before):
            found.append(Finding(Kind.REPEATED, index, turn.text))
        before.append(said)
    return found


# What the buyer never sounds like, whichever chart: the check reads every call the same way.
_SELLING = sounds_like(KINDS)


def selling(turns: Sequence[Turn]) -> list[Finding]:
    """The buyer pitching, offering a demo, or talking like an assistant (`quality.roles.KINDS`)."""
    return [
        Finding(Kind.SELLING, index, match.group(0))
        for index, turn in _agent(turns)
        for match in _SELLING.finditer(" ".join(words(turn.text)))
    ]


def check_call(
    turns: Sequence[Turn], *, identifiers: Iterable[str] = (), known: Iterable[str] = ()
) -> CallQuality:
    """Every check over one call. `identifiers`: the chart's event and tool names; `known`: names
    the buyer may say that no word list has (her company, her name)."""
    findings = [
        *missing_sentences(turns),
        *answered_once(turns),
        *echoes(turns),
        *run_together(turns),
        *stray_words(turns, known),
        *identifiers_spoken(turns, identifiers),
        *repeated_replies(turns),
        *selling(turns),
    ]
    return CallQuality(caller_wer=caller_wer(turns), findings=tuple(sorted(findings, key=lambda f: f.turn)))
