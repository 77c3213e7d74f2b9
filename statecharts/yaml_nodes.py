"""Reading a definition file's YAML with the line and column of every node, collecting problems.

Statecharts and rubrics both load through this: compose the file into nodes (so every value
keeps its place), then read typed values off them, each misfit recorded as a `Problem` at its
FILE:LINE:COL instead of stopping at the first.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from statecharts.errors import Problem
from statecharts.records import Location

__all__ = ["NAME", "NodeReader", "compose_file", "content_version"]

NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def content_version(raw: bytes) -> str:
    """A file's version: the first 12 hex digits of its sha256."""
    return hashlib.sha256(raw).hexdigest()[:12]


class _AliasRefused(ComposerError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """Refuses `*alias`: a definition has no use for one, and an alias can make the document
    refer to itself (`states: &a [*a]`, a RecursionError in any reader) or grow exponentially."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark
            raise _AliasRefused(None, None, "aliases (*name) are not allowed in definitions", mark)
        return super().compose_node(parent, index)


def compose_file(path: Path, error: type[Exception]) -> tuple[Node | None, str, list[Problem]]:
    """The file's root node, its content hash, and the problems that stopped it parsing.

    A file that cannot be read at all raises `error` (a subclass taking a list of problems).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error([Problem(Location(str(path), 1, 1), f"cannot read: {exc.strerror}")]) from None
    version = content_version(raw)
    try:
        root = yaml.compose(raw.decode("utf-8"), Loader=_NoAliasLoader)
    except UnicodeDecodeError as exc:
        return None, version, [Problem(Location(str(path), 1, 1), f"not UTF-8 text ({exc.reason})")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = exc.problem if isinstance(exc, _AliasRefused) else f"YAML syntax error: {exc.problem}"
        return None, version, [Problem(Location(str(path), line, col), str(message))]
    if root is None:
        return None, version, [Problem(Location(str(path), 1, 1), "the file is empty")]
    return root, version, []


class NodeReader:
    """Typed values off YAML nodes; each misfit becomes a problem at the node's place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def loc(self, node: Node) -> Location:
        return Location(str(self.path), node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.loc(node), message))

    def mapping(self, node: Node, what: str, allowed: tuple[str, ...]) -> dict[str, Node]:
        """The mapping's entries by key; unknown and duplicate keys are problems."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if allowed and key not in allowed:
                self.problem(key_node, f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})")
            elif key in out:
                self.problem(key_node, f"duplicate key {key!r} in {what}")
            else:
                out[key] = value_node
        return out

    def text(self, node: Node | None, what: str) -> str | None:
        if node is None:
            return None
        if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
            self.problem(node, f"{what} must be text")
            return None
        return str(node.value)

    def name(self, node: Node | None, what: str) -> str | None:
        value = self.text(node, what)
        if value is not None and node is not None and not NAME.match(value):
            self.problem(node, f"{what} {value!r} must match [a-z][a-z0-9_]*")
            return None
        return value

    def value(self, node: Node) -> object:
        return yaml.SafeLoader("").construct_document(node)

    @staticmethod
    def key_node(mapping: Node, key: str) -> Node:
        assert isinstance(mapping, MappingNode)
        return next(k for k, _ in mapping.value if str(k.value) == key)
