"""What a persona must never sound like, by name: phrases a seller or an assistant says and a buyer
does not. A conversation chart names the kinds its persona stays clear of (`never_sounds_like`);
the live reply leaves out a sentence that sounds like one (`realtime.role_guard`), and the
quality check counts them in what was said (`quality.checks.selling`).

A heuristic, not a classifier. "A demo next Tuesday works" is a buyer accepting; "I can offer you
a demo" is a seller offering.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["KINDS", "sounds_like"]

KINDS: dict[str, tuple[str, ...]] = {
    "seller": (
        r"our (?:platform|product|software|solution|service|tool|app|pricing)",
        r"we (?:offer|provide|specialise|specialize|help companies|help businesses)",
        r"(?:i|we) (?:can|could|would) (?:offer|show) you",
        r"(?:i'd|i would|we'd|we would) (?:be happy|love) to (?:show|help|offer|walk)",
        r"let me (?:show|tell) you (?:about|how)",
        r"would you like (?:a|to see a|to schedule a|to book a) demo",
        r"free trial",
    ),
    "assistant": (
        r"how (?:can|may) i (?:help|assist)",
        r"what can i do for you",
        r"is there anything else i can",
        r"i'm here to help",
        r"(?:i'm sorry but )?i (?:can't|cannot) (?:assist|help) (?:you )?with that",
        r"as an ai",
    ),
}


def sounds_like(kinds: Iterable[str]) -> re.Pattern[str]:
    """One pattern for the phrases of `kinds` (names of `KINDS`), matched against `words(text)`
    joined by spaces; a name it does not know is a `ValueError` naming the known ones."""
    kinds = list(kinds)
    if unknown := [kind for kind in kinds if kind not in KINDS]:
        raise ValueError(f"unknown kind {', '.join(unknown)}: known are {', '.join(KINDS)}")
    phrases = [phrase for kind in kinds for phrase in KINDS[kind]]
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b" if phrases else r"(?!)")
