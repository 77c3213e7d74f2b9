"""Word error rate, and which of the reference's words arrived, from one edit-distance alignment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Alignment", "align"]


@dataclass(frozen=True)
class Alignment:
    """`reference` against `hypothesis`: the edits, and for each reference word whether it arrived
    (heard as itself or as another word in its place) rather than being dropped."""

    errors: int
    reference_words: int
    arrived: tuple[bool, ...]

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
    # Back along one shortest edit path; a word paired with a word of the hypothesis arrived. Ties
    # go to the pairing, so a misheard word is not counted as a dropped one.
    arrived = [False] * len(reference)
    i, j = rows - 1, cols - 1
    while i > 0:
        pair = reference[i - 1] == hypothesis[j - 1] if j > 0 else False
        if j > 0 and cost[i][j] == cost[i - 1][j - 1] + (0 if pair else 1):
            arrived[i - 1] = True
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return Alignment(errors=cost[-1][-1], reference_words=len(reference), arrived=tuple(arrived))
