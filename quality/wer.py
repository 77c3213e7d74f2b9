"""Word error rate, and which of the reference's words arrived, from one edit-distance alignment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Alignment", "align"]


@dataclass(frozen=True)
class Alignment:
    """`reference` against `hypothesis`: the edits, and for each reference word whether it was heard."""

    errors: int
    reference_words: int
    heard: tuple[bool, ...]

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.reference_words


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> Alignment:
    """Levenshtein over words (substitutions, deletions, insertions all cost 1)."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            same = reference[i - 1] == hypothesis[j - 1]
            cost[i][j] = min(
                cost[i - 1][j - 1] + (0 if same else 1),
                cost[i - 1][j] + 1,
                cost[i][j - 1] + 1,
            )
    return Alignment(
        errors=cost[-1][-1], reference_words=len(reference), heard=_in_order(reference, hypothesis)
    )


def _in_order(reference: Sequence[str], hypothesis: Sequence[str]) -> tuple[bool, ...]:
    """Which reference words arrived, in order: a longest common subsequence. (The edit path would
    do, but among equally short paths it may pair a word with a substitution instead of its match.)"""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    common = [[0] * cols for _ in range(rows)]
    for i in range(1, rows):
        for j in range(1, cols):
            if reference[i - 1] == hypothesis[j - 1]:
                common[i][j] = common[i - 1][j - 1] + 1
            else:
                common[i][j] = max(common[i - 1][j], common[i][j - 1])
    heard = [False] * len(reference)
    i, j = rows - 1, cols - 1
    while i > 0 and j > 0:
        if reference[i - 1] == hypothesis[j - 1]:
            heard[i - 1] = True
            i, j = i - 1, j - 1
        elif common[i - 1][j] >= common[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return tuple(heard)
