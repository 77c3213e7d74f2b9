"""Rubric files: YAML a team edits, loaded like statecharts (nodes with places → records → checks).

A rubric names the statecharts it scores, the speakers' names in the transcript the LLM reads,
and criteria made of yes/no checks. A file with errors is refused with every problem at its
FILE:LINE:COL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import Node, SequenceNode

from statecharts.errors import Problem, StatechartError
from statecharts.records import Location
from statecharts.yaml_nodes import NodeReader, compose_file

__all__ = ["Check", "Criterion", "Rubric", "RubricError", "load_rubric", "rubric_for"]

RUBRIC_KEYS = ("id", "description", "statecharts", "speakers", "criteria")
CRITERION_KEYS = ("methodology", "description", "checks")
SPEAKER_KEYS = ("caller", "agent")


class RubricError(StatechartError):
    """One or more problems in rubric files, one per line as FILE:LINE:COL: message."""


@dataclass(frozen=True)
class Check:
    question: str
    loc: Location


@dataclass(frozen=True)
class Criterion:
    name: str
    methodology: str | None
    description: str | None
    checks: tuple[Check, ...]
    loc: Location


@dataclass(frozen=True)
class Rubric:
    id: str
    description: str | None
    statecharts: tuple[str, ...]
    caller: str
    agent: str
    criteria: tuple[Criterion, ...]
    version: str
    path: Path


class _RubricReader(NodeReader):
    def names(self, node: Node | None, what: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, f"{what} must be a non-empty list")
            return ()
        return tuple(n for n in (self.name(item, what) for item in node.value) if n is not None)

    def checks(self, node: Node | None, criterion: str, key: Node) -> tuple[Check, ...]:
        if node is None:
            self.problem(key, f"criterion {criterion!r} needs 'checks'")
            return ()
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, f"'checks' of {criterion!r} must be a non-empty list of yes/no questions")
            return ()
        out: list[Check] = []
        for item in node.value:
            question = self.text(item, "a check")
            if question is None:
                continue
            if not question.rstrip().endswith("?"):
                self.problem(item, f"check {question!r} must be a yes/no question ending in '?'")
                continue
            out.append(Check(question.strip(), self.loc(item)))
        return tuple(out)

    def rubric(self, root: Node, version: str) -> Rubric:
        entries = self.mapping(root, "the rubric", RUBRIC_KEYS)
        for required in ("id", "statecharts", "criteria"):
            if required not in entries:
                self.problem(root, f"missing required key {required!r}")
        rubric_id = self.name(entries.get("id"), "id") or ""
        if rubric_id and rubric_id != self.path.stem:
            self.problem(entries["id"], f"id {rubric_id!r} must equal the file name {self.path.stem!r}")
        speakers_node = entries.get("speakers")
        speakers = self.mapping(speakers_node, "speakers", SPEAKER_KEYS) if speakers_node is not None else {}
        criteria: list[Criterion] = []
        criteria_node = entries.get("criteria")
        if criteria_node is not None:
            found = self.mapping(criteria_node, "criteria", ())
            if not found:
                self.problem(criteria_node, "criteria must be a non-empty mapping")
            for name, node in found.items():
                key = self.key_node(criteria_node, name)
                if self.name(key, "criterion") is None:
                    continue
                fields = self.mapping(node, f"criterion {name!r}", CRITERION_KEYS)
                criteria.append(
                    Criterion(
                        name=name,
                        methodology=self.text(fields.get("methodology"), "methodology"),
                        description=self.text(fields.get("description"), "description"),
                        checks=self.checks(fields.get("checks"), name, key),
                        loc=self.loc(key),
                    )
                )
        return Rubric(
            id=rubric_id,
            description=self.text(entries.get("description"), "description"),
            statecharts=self.names(entries.get("statecharts"), "statechart"),
            caller=self.text(speakers.get("caller"), "caller's name") or "Caller",
            agent=self.text(speakers.get("agent"), "agent's name") or "Agent",
            criteria=tuple(criteria),
            version=version,
            path=self.path,
        )


def load_rubric(path: Path) -> Rubric:
    """Parse and check one rubric file; `RubricError` lists every problem with its place."""
    root, version, problems = compose_file(path, RubricError)
    if root is None:
        raise RubricError(problems)
    reader = _RubricReader(path)
    rubric = reader.rubric(root, version)
    if reader.problems:
        raise RubricError(reader.problems)
    return rubric


def rubric_for(statechart: str, directory: Path) -> Rubric:
    """The rubric scoring `statechart`'s calls.

    A broken file that might have been the one is no reason to score nothing: its problems are
    reported only when no valid rubric scores the statechart.
    """
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            rubric = load_rubric(path)
        except RubricError as exc:
            problems += exc.problems
            continue
        if statechart in rubric.statecharts:
            return rubric
    problems.append(Problem(Location(str(directory), 1, 1), f"no rubric scores statechart {statechart!r}"))
    raise RubricError(problems)
