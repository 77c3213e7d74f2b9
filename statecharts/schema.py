"""The definition format's JSON Schema (`schema.json`), applied to a composed YAML file.

The schema is the one list of allowed keys, types and name patterns: editors read it through the
YAML language server, and the loader validates every file with it. Each schema error is mapped
back from its JSON path to the YAML node it came from, so it reads FILE:LINE:COL like every other
problem. The parser that builds records afterwards reports nothing of its own about structure.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from statecharts.errors import Problem
from statecharts.records import Location

__all__ = ["SCHEMA_PATH", "entries", "schema", "schema_problems"]

SCHEMA_PATH = Path(__file__).with_name("schema.json")

JsonPath = tuple[str | int, ...]

_TYPE_NAMES = {
    "string": "text",
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}

# Problems about a whole mapping read best at the key that names it (a state's name).
_AT_KEY = {"required", "dependentRequired", "minProperties"}


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def entries(node: Node | None) -> dict[str, tuple[Node, Node]]:
    """A mapping node's entries by key text: (key node, value node); the first of duplicates wins.

    Anything but a mapping has none (the schema reports it).
    """
    out: dict[str, tuple[Node, Node]] = {}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            out.setdefault(str(key_node.value), (key_node, value_node))
    return out


@dataclass(frozen=True)
class _Placed:
    node: Node
    key: Node | None
    """The key naming this value in its parent mapping, if it has one."""


class _Converter:
    """Nodes → plain JSON-like data, remembering each value's node by its JSON path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.index: dict[JsonPath, _Placed] = {}
        self.problems: list[Problem] = []
        self._loader = yaml.SafeLoader("")

    def loc(self, node: Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: Node, path: JsonPath, key: Node | None = None) -> object:
        self.index[path] = _Placed(node, key)
        if isinstance(node, MappingNode):
            out: dict[str, object] = {}
            for key_node, value_node in node.value:
                # Keys by their text: YAML 1.1 would read `on:` as true and `3000:` as a number.
                name = str(key_node.value)
                if name in out:
                    self.problems.append(
                        Problem(self.loc(key_node), f"duplicate key {name!r} in {_render(path)}")
                    )
                    continue
                out[name] = self.convert(value_node, (*path, name), key_node)
            return out
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            value: object = self._loader.construct_object(node)
        except yaml.YAMLError:  # a tag the safe loader refuses: the text is all the schema needs
            value = str(node.value)
        return value


def _render(path: Sequence[str | int]) -> str:
    if not path:
        return "the statechart"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _types(names: str | list[str], *, or_list: bool) -> str:
    listed = [names] if isinstance(names, str) else list(names)
    if or_list and "array" not in listed:
        listed.append("array")
    words = [_TYPE_NAMES.get(n, n) for n in listed]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Mapper:
    """One schema error → problems at the right YAML nodes, in words."""

    def __init__(self, converter: _Converter) -> None:
        self.c = converter

    def at(self, path: JsonPath, *, key: bool = False) -> Location:
        placed = self.c.index[path]
        return self.c.loc(placed.key if key and placed.key is not None else placed.node)

    def key_loc(self, path: JsonPath, key: str) -> Location:
        key_node, _ = entries(self.c.index[path].node)[key]
        return self.c.loc(key_node)

    def problems(self, error: ValidationError) -> Iterator[Problem]:
        path: JsonPath = tuple(error.absolute_path)
        where = _render(path)
        kind = error.validator
        schema_path = list(error.absolute_schema_path)
        if "propertyNames" in schema_path:
            # The instance is the offending key itself, inside the mapping at `path`.
            name = str(error.instance)
            hint = error.schema.get("patternErrorMessage", error.message)
            yield Problem(self.key_loc(path, name), f"key {name!r} in {where}: {hint}")
        elif kind == "additionalProperties":
            allowed = list(error.schema.get("properties", {}))
            assert isinstance(error.instance, dict)
            for name in error.instance:
                if name not in allowed:
                    yield Problem(
                        self.key_loc(path, name),
                        f"unknown key {name!r} in {where} (allowed: {', '.join(allowed)})"
                        + _suggest(name, allowed),
                    )
        elif kind == "required":
            assert isinstance(error.instance, dict)
            for name in error.validator_value:
                if name not in error.instance:
                    yield Problem(self.at(path, key=True), self.missing(where, name, path, error.schema))
        elif kind == "dependentRequired":
            assert isinstance(error.instance, dict)
            if "states" in error.instance and "initial" not in error.instance:
                yield Problem(
                    self.at(path, key=True),
                    f"no initial state in {where}: a state with child states needs 'initial: <child>'",
                )
            if "initial" in error.instance and "states" not in error.instance:
                yield Problem(
                    self.at(path, key=True), f"{where} has 'initial' but no child 'states' for it to name"
                )
        elif kind == "type":
            # Reached through `if: array, else: ...`: a list would have done too.
            or_list = schema_path[-2:] == ["else", "type"]
            yield Problem(self.at(path), f"{where} must be {_types(error.validator_value, or_list=or_list)}")
        elif kind == "enum":
            options = ", ".join(str(v) for v in error.validator_value)
            yield Problem(self.at(path), f"{where}: {error.instance!r} is not one of {options}")
        elif kind == "pattern":
            hint = error.schema.get("patternErrorMessage", f"must match {error.validator_value}")
            yield Problem(self.at(path), f"{where}: {error.instance!r}: {hint}")
        elif kind in ("minProperties", "minItems"):
            yield Problem(self.at(path, key=kind in _AT_KEY), f"{where} must not be empty")
        else:
            yield Problem(self.at(path, key=kind in _AT_KEY), f"{where}: {error.message}")

    @staticmethod
    def missing(where: str, name: str, path: JsonPath, subschema: dict[str, Any]) -> str:
        if not path and name == "initial":
            return "no initial state: add 'initial: <state>'"
        if subschema.get("title") == "callback":
            return f"{where}: a guard or action written as a mapping needs 'type' naming it"
        return f"missing required key {name!r} in {where}"


def schema_problems(root: Node, file: Path) -> list[Problem]:
    """Every way the file breaks the schema (and duplicate keys, which JSON cannot hold)."""
    converter = _Converter(str(file))
    data = converter.convert(root, ())
    mapper = _Mapper(converter)
    problems = list(converter.problems)
    for error in _validator().iter_errors(data):
        for problem in mapper.problems(error):
            if problem not in problems:
                problems.append(problem)
    return problems
