"""Who said what: a summary's sentences checked against the side of the call that said their words.

A small model summarising a two-sided call swaps the sides: it gives the rep's proposal to the
buyer ("Dana proposed a thirty-minute demo") or the buyer's words to the rep. Each clause of the
summary gets the side its subject names (the rep or the buyer, by role or by the name they gave);
the clause's words that only one side of the call ever said must then come from that side. A
clause that answers the other side (agreed to, turned down) may name what the other side said.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Line", "Swap", "misattributed", "speakers"]

Side = Literal["rep", "buyer"]


@dataclass(frozen=True)
class Line:
    side: Side
    text: str


@dataclass(frozen=True)
class Swap:
    """A clause of the summary that gives `said_by`'s words to `given_to`."""

    clause: str
    given_to: Side
    said_by: Side


_ROLE_WORDS: dict[str, Side] = {
    **dict.fromkeys(("rep", "salesperson", "seller", "caller"), "rep"),
    **dict.fromkeys(("buyer", "prospect", "agent"), "buyer"),
}
_LEADS = frozenset({"the", "then", "finally", "later", "next", "first", "also", "so"})
# A clause that answers the other side names what that side said: that is not a swap.
_ANSWERS = re.compile(
    r"\b(agree|accept|decline|refus|turn(?:ed|s)? down|reject|confirm|thank|welcom|was open|were open|"
    r"is open|are open|interested in|responded to|replied to)",
    re.IGNORECASE,
)
_SELF_NAMED = re.compile(r"\b(?i:this is|it's|it is|i'm|i am|my name is|name's)\s+([A-Z][a-z]+)")
_FROM = re.compile(r"\b([A-Z][a-z]+) (?:from|at|with) [A-Z]")
_GREETED = re.compile(r"\b(?i:hi|hello|hey|morning|afternoon|evening),?\s+([A-Z][a-z]+)")
_WHICH = re.compile(r",?\s*which\s+")
# Kept by the split (its one group), so the clause after it is known to be relative.
_CLAUSES = re.compile(
    r"[.!?;]\s+|,\s*(?:and|but|while|whereas|so)\s+|\s+(?:and then|but)\s+|\s+and\s+(?=\w+ed\b)"
    rf"|({_WHICH.pattern})"
)
# "…, which is twenty thousand a month" describes a thing; "…, which led to …" goes on with the subject.
_DESCRIBES = re.compile(r"(?:is|was|are|were)\b")
_PROPER = re.compile(r"(?<=[A-Za-z,] )[A-Z][a-z]+")
_CALENDAR = frozenset(
    {
        *("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January"),
        *("February", "March", "April", "May", "June", "July", "August", "September", "October"),
        *("November", "December"),
    }
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")
# Words any summary uses about any call: they say nothing about which side spoke.
_COMMON = frozenset(
    {
        *("the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by"),
        *("about", "as", "that", "this", "these", "those", "is", "are", "was", "were", "be", "been"),
        *("being", "have", "has", "had", "do", "does", "did", "not", "no", "if", "then", "than", "so"),
        *("very", "also", "more", "most", "their", "them", "they", "she", "he", "her", "his", "him", "its"),
        *("it", "we", "our", "you", "your", "i", "me", "my", "us", "who", "what", "which", "how", "when"),
        *("where", "why", "would", "could", "should", "will", "can", "may", "might", "just", "only"),
        *("there", "here", "some", "any", "all", "each", "both", "asked", "ask", "asks", "said", "says"),
        *("say", "told", "tell", "tells", "replied", "reply", "answered", "mentioned", "mention"),
        *("proposed", "propose", "suggested", "suggest", "offered", "offer", "explained", "explain"),
        *("shared", "share", "stated", "responded", "informed", "expressed", "noted", "added", "discussed"),
        *("discuss", "called", "call", "calling", "talked", "rep", "buyer", "caller", "agent"),
        *("salesperson", "note"),
    }
)


def misattributed(summary: str, lines: Sequence[Line]) -> list[Swap]:
    """The clauses of `summary` whose subject is one side while the words only one side of the
    call said are mostly the other side's."""
    names = _names(lines)
    said: dict[Side, set[str]] = {"rep": set(), "buyer": set()}
    for line in lines:
        said[line.side] |= _keys(line.text)
    # Company and people's names are grounded elsewhere; who says them tells nothing here.
    texts = [summary, *(line.text for line in lines)]
    proper = {_key(w) for text in texts for w in _PROPER.findall(text) if w not in _CALENDAR}
    only: dict[Side, set[str]] = {
        "rep": said["rep"] - said["buyer"] - proper,
        "buyer": said["buyer"] - said["rep"] - proper,
    }
    wrong: list[Swap] = []
    subject: Side | None = None
    relative = False
    for piece in _CLAUSES.split(summary):
        if piece is None:
            continue
        if _WHICH.fullmatch(piece):
            relative = True
            continue
        clause, describes, relative = piece.strip(), relative and _DESCRIBES.match(piece.strip()), False
        if not clause or describes:
            continue
        subject = _subject(clause, names) or subject
        if subject is None or _ANSWERS.search(clause):
            continue
        other: Side = "buyer" if subject == "rep" else "rep"
        words = _keys(clause)
        if len(words & only[other]) > len(words & only[subject]):
            wrong.append(Swap(clause, subject, other))
    return wrong


def _names(lines: Sequence[Line]) -> dict[str, Side]:
    """The people's names as the call gave them: who introduced themselves, who was greeted."""
    names: dict[str, Side] = {}
    for line in lines:
        other: Side = "buyer" if line.side == "rep" else "rep"
        for name in [*_SELF_NAMED.findall(line.text), *_FROM.findall(line.text)]:
            names.setdefault(name, line.side)
        for name in _GREETED.findall(line.text):
            names.setdefault(name, other)
    return names


def speakers(lines: Sequence[Line]) -> dict[Side, str]:
    """Each side's name, where the call gave one (the first name it gave for that side)."""
    named: dict[Side, str] = {}
    for name, side in _names(lines).items():
        named.setdefault(side, name)
    return named


def _subject(clause: str, names: dict[str, Side]) -> Side | None:
    """The side the clause opens with ("The Rep …", "Then Dana …"); None when it opens with
    anything else ("asked if Sam …", "she …"), and so goes on with the subject before it."""
    words = [w for w in _WORD.findall(clause)[:3] if w.lower() not in _LEADS]
    if not words:
        return None
    if words[0] in names:
        return names[words[0]]
    return _ROLE_WORDS.get(words[0].lower())


def _key(word: str) -> str:
    """Words compared by their first four letters, so "routes" is "route" and "planning" "plan"."""
    return word.lower().strip("'’-")[:4]


def _keys(text: str) -> set[str]:
    return {_key(w) for w in _WORD.findall(text) if w.lower() not in _COMMON and len(w) > 2}
