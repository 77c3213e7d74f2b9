"""Problems found in a definition, each with the place it was found."""

from __future__ import annotations

from dataclasses import dataclass

from statecharts.records import Location

__all__ = ["Problem", "StatechartError"]


@dataclass(frozen=True)
class Problem:
    loc: Location
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}"


class StatechartError(Exception):
    """One or more problems in definition files; `str()` lists them one per line."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.loc.file, p.loc.line, p.loc.col)))
        super().__init__("\n".join(str(p) for p in self.problems))
