"""YAML → typed records, keeping the line and column of everything.

The JSON Schema (`statecharts/schema.py`) reports every structural problem; this parser then
reads what it can and quietly skips what the schema has already reported, so no problem is
reported twice. Nested states become nested records, and each transition's target is resolved
to the full path of the state it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from statecharts.errors import Problem, StatechartError
from statecharts.records import (
    SEPARATOR,
    CallbackRef,
    Kind,
    Location,
    State,
    Statechart,
    StateType,
    Transition,
)
from statecharts.schema import entries, schema_problems
from statecharts.yaml_nodes import NAME, NodeReader, compose_file

__all__ = ["TARGET", "parse_statechart", "resolve_target"]

KINDS: tuple[Kind, ...] = ("turn_taking", "conversation")
STATE_TYPES: tuple[StateType, ...] = ("atomic", "compound", "final")
TARGET = re.compile(r"#?[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\Z")
_DELAY = re.compile(r"[1-9][0-9]*\Z")


def _text(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode) and not node.tag.endswith(":null"):
        return str(node.value)
    return None


def _name(node: Node | None) -> str | None:
    text = _text(node)
    return text if text is not None and NAME.match(text) else None


def _value(entry: tuple[Node, Node] | None) -> Node | None:
    return entry[1] if entry is not None else None


def _children(states: Mapping[str, State], path: list[str]) -> Mapping[str, State]:
    for name in path:
        states = states[name].states
    return states


def _descend(state: State, rest: list[str]) -> State | None:
    for part in rest:
        child = state.states.get(part)
        if child is None:
            return None
        state = child
    return state


def resolve_target(states: Mapping[str, State], source: str, target: str) -> str | None:
    """The full path of the state a transition of `source` names, None if there is none.

    The target's first name is looked up among `source`'s siblings, then among each enclosing
    state's siblings out to the top level (so a child can leave its parent for `ended`); the rest
    of a dotted target (`talking.answering`, `billing.verify`) descends from there. Failing that,
    a plain name used by exactly one state anywhere.
    """
    head, *rest = target.removeprefix("#").split(SEPARATOR)
    parts = source.split(SEPARATOR)
    for depth in range(len(parts) - 1, -1, -1):
        scope = _children(states, parts[:depth])
        found = _descend(scope[head], rest) if head in scope else None
        if found is not None:
            return found.path
    named: list[str] = []

    def walk(level: Mapping[str, State]) -> None:
        for name, state in level.items():
            if name == head and not rest:
                named.append(state.path)
            walk(state.states)

    walk(states)
    return named[0] if len(named) == 1 else None


class _Parser(NodeReader):
    def names(self, node: Node | None) -> tuple[tuple[str, Location], ...]:
        """A list of names (tools, knowledge bases), each with where it is written."""
        items = node.value if isinstance(node, SequenceNode) else []
        return tuple((name, self.loc(item)) for item in items if (name := _name(item)) is not None)

    def callbacks(self, node: Node | None) -> tuple[CallbackRef, ...]:
        if node is None:
            return ()
        refs: list[CallbackRef] = []
        for item in node.value if isinstance(node, SequenceNode) else [node]:
            if isinstance(item, ScalarNode):
                name = _name(item)
                if name is not None:
                    refs.append(CallbackRef(name, {}, self.loc(item)))
                continue
            fields = entries(item)
            type_node = _value(fields.get("type"))
            name = _name(type_node)
            params_node = _value(fields.get("params"))
            params = self.value(params_node) if params_node is not None else {}
            if name is not None and type_node is not None and isinstance(params, Mapping):
                refs.append(CallbackRef(name, dict(params), self.loc(type_node)))
        return tuple(refs)

    def transitions(self, event: str, node: Node, *, after_ms: int | None) -> list[Transition]:
        out: list[Transition] = []
        for item in node.value if isinstance(node, SequenceNode) else [node]:
            if isinstance(item, ScalarNode):
                out.append(Transition(event, _text(item), (), (), None, after_ms, self.loc(item)))
                continue
            if not isinstance(item, MappingNode):
                continue
            fields = entries(item)
            target_node = _value(fields.get("target"))
            out.append(
                Transition(
                    event=event,
                    target=_text(target_node),
                    guards=self.callbacks(_value(fields.get("guard"))),
                    actions=self.callbacks(_value(fields.get("actions"))),
                    description=_text(_value(fields.get("description"))),
                    after_ms=after_ms,
                    loc=self.loc(target_node if target_node is not None else item),
                    triggers=self.callbacks(_value(fields.get("trigger"))),
                )
            )
        return out

    def state(self, name: str, path: str, node: Node, key: Node) -> State:
        fields = entries(node)
        transitions: list[Transition] = []
        for event, (_, spec) in entries(_value(fields.get("on"))).items():
            if NAME.match(event):
                transitions += self.transitions(event, spec, after_ms=None)
        for delay, (_, spec) in entries(_value(fields.get("after"))).items():
            if _DELAY.match(delay):
                ms = int(delay)
                transitions += self.transitions(f"after_{ms}ms", spec, after_ms=ms)
        children = self.states(_value(fields.get("states")), prefix=f"{path}{SEPARATOR}")
        written = _text(_value(fields.get("type")))
        state_type: StateType = next(
            (t for t in STATE_TYPES if t == written), "compound" if children else "atomic"
        )
        initial_node = _value(fields.get("initial"))
        return State(
            name=name,
            path=path,
            type=state_type,
            entry=self.callbacks(_value(fields.get("entry"))),
            exit=self.callbacks(_value(fields.get("exit"))),
            transitions=tuple(transitions),
            description=_text(_value(fields.get("description"))),
            instructions=_text(_value(fields.get("instructions"))),
            tools=self.names(_value(fields.get("tools"))),
            loc=self.loc(key),
            initial=_name(initial_node),
            initial_loc=self.loc(initial_node) if initial_node is not None else None,
            states=children,
            knowledge=self.names(_value(fields.get("knowledge"))),
        )

    def states(self, node: Node | None, *, prefix: str = "") -> dict[str, State]:
        return {
            name: self.state(name, f"{prefix}{name}", value, key)
            for name, (key, value) in entries(node).items()
            if NAME.match(name)
        }

    def chart(self, root: Node, version: str) -> Statechart:
        fields = entries(root)
        settings_node = _value(fields.get("settings"))
        settings = self.value(settings_node) if settings_node is not None else {}
        kind = _text(_value(fields.get("kind")))
        initial_node = _value(fields.get("initial"))
        states = self.states(_value(fields.get("states")))
        return Statechart(
            id=_name(_value(fields.get("id"))) or "",
            # An unknown kind is reported by the schema; the checks go on as for a conversation.
            kind=next((k for k in KINDS if k == kind), "conversation"),
            description=_text(_value(fields.get("description"))),
            initial=_name(initial_node),
            initial_loc=self.loc(initial_node if initial_node is not None else root),
            states=_resolved(states, states),
            settings=dict(settings) if isinstance(settings, Mapping) else {},
            path=self.path,
            version=version,
            loc=self.loc(root),
        )


def _resolved(states: Mapping[str, State], top: Mapping[str, State]) -> dict[str, State]:
    """`states` with every transition's `dest` filled in, at every depth."""
    return {
        name: replace(
            state,
            transitions=tuple(
                replace(t, dest=resolve_target(top, state.path, t.target) if t.target else None)
                for t in state.transitions
            ),
            states=_resolved(state.states, top),
        )
        for name, state in states.items()
    }


def parse_statechart(path: Path) -> tuple[Statechart | None, list[Problem]]:
    """Parse one definition file. Returns the records (if the YAML parsed) and every problem
    the schema finds; the semantic checks (`checks.py`) come after."""
    root, version, problems = compose_file(path, StatechartError)
    if root is None:
        return None, problems
    return _Parser(path).chart(root, version), schema_problems(root, path)
