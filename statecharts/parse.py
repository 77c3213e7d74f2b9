"""YAML → typed records, keeping the line and column of everything, reporting every problem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from statecharts.errors import Problem, StatechartError
from statecharts.records import CallbackRef, Kind, Location, State, Statechart, Transition
from statecharts.yaml_nodes import NodeReader, compose_file

__all__ = ["parse_statechart"]

CHART_KEYS = ("id", "kind", "description", "initial", "settings", "states")
STATE_KEYS = ("description", "type", "entry", "exit", "on", "after", "instructions", "tools")
TRANSITION_KEYS = ("target", "guard", "actions", "description")
CALLBACK_KEYS = ("type", "params")
KINDS: tuple[Kind, ...] = ("turn_taking", "conversation")
STATE_TYPES = ("atomic", "final")


class _Parser(NodeReader):
    def callbacks(self, node: Node | None, what: str) -> tuple[CallbackRef, ...]:
        if node is None:
            return ()
        items = node.value if isinstance(node, SequenceNode) else [node]
        refs: list[CallbackRef] = []
        for item in items:
            if isinstance(item, ScalarNode):
                name = self.name(item, f"{what} name")
                if name is not None:
                    refs.append(CallbackRef(name, {}, self.loc(item)))
                continue
            entries = self.mapping(item, what, CALLBACK_KEYS)
            if not entries:
                continue
            if "type" not in entries:
                self.problem(item, f"{what} needs a 'type' naming it")
                continue
            name = self.name(entries["type"], f"{what} name")
            params = self.value(entries["params"]) if "params" in entries else {}
            if not isinstance(params, Mapping):
                self.problem(entries["params"], f"{what} params must be a mapping")
                continue
            if name is not None:
                refs.append(CallbackRef(name, dict(params), self.loc(entries["type"])))
        return tuple(refs)

    def transitions(self, event: str, node: Node, *, after_ms: int | None, key: Node) -> list[Transition]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        if isinstance(node, SequenceNode) and not items:
            self.problem(node, f"{event!r} has an empty list of transitions")
        out: list[Transition] = []
        for item in items:
            if isinstance(item, ScalarNode):
                target = self.name(item, "target state")
                out.append(Transition(event, target, (), (), None, after_ms, self.loc(item)))
                continue
            entries = self.mapping(item, f"transition {event!r}", TRANSITION_KEYS)
            target_node = entries.get("target")
            target = self.name(target_node, "target state") if target_node is not None else None
            out.append(
                Transition(
                    event=event,
                    target=target,
                    guards=self.callbacks(entries.get("guard"), "guard"),
                    actions=self.callbacks(entries.get("actions"), "action"),
                    description=self.text(entries.get("description"), "description"),
                    after_ms=after_ms,
                    loc=self.loc(target_node if target_node is not None else item),
                )
            )
        return out

    def state(self, name: str, node: Node, key: Node) -> State:
        entries = self.mapping(node, f"state {name!r}", STATE_KEYS)
        transitions: list[Transition] = []
        if "on" in entries:
            for event_node, spec in self.mapping(entries["on"], f"'on' of {name!r}", ()).items():
                event = self.name(self.key_node(entries["on"], event_node), "event")
                if event is not None:
                    transitions += self.transitions(
                        event, spec, after_ms=None, key=self.key_node(entries["on"], event_node)
                    )
        if "after" in entries:
            after = entries["after"]
            if not isinstance(after, MappingNode):
                self.problem(after, f"'after' of {name!r} must map delays in ms to transitions")
            else:
                for key_node, spec in after.value:
                    if not (isinstance(key_node, ScalarNode) and key_node.tag.endswith(":int")):
                        self.problem(key_node, f"'after' delay {key_node.value!r} must be whole ms")
                        continue
                    ms = int(key_node.value)
                    if ms <= 0:
                        self.problem(key_node, f"'after' delay must be positive, not {ms}")
                        continue
                    transitions += self.transitions(f"after_{ms}ms", spec, after_ms=ms, key=key_node)
        kind = self.text(entries.get("type"), "state type") or "atomic"
        if kind not in STATE_TYPES:
            self.problem(entries["type"], f"state type {kind!r} is not one of {', '.join(STATE_TYPES)}")
        tools: list[tuple[str, Location]] = []
        if "tools" in entries:
            tools_node = entries["tools"]
            if not isinstance(tools_node, SequenceNode):
                self.problem(tools_node, f"'tools' of {name!r} must be a list of tool names")
            else:
                for item in tools_node.value:
                    tool = self.name(item, "tool")
                    if tool is not None:
                        tools.append((tool, self.loc(item)))
        return State(
            name=name,
            final=kind == "final",
            entry=self.callbacks(entries.get("entry"), "action"),
            exit=self.callbacks(entries.get("exit"), "action"),
            transitions=tuple(transitions),
            description=self.text(entries.get("description"), "description"),
            instructions=self.text(entries.get("instructions"), "instructions"),
            tools=tuple(tools),
            loc=self.loc(key),
        )

    def chart(self, root: Node, version: str) -> Statechart | None:
        entries = self.mapping(root, "the statechart", CHART_KEYS)
        for required in ("id", "kind", "states"):
            if required not in entries and isinstance(root, MappingNode):
                self.problem(root, f"missing required key {required!r}")
        kind = self.text(entries.get("kind"), "kind")
        if kind is not None and kind not in KINDS:
            self.problem(entries["kind"], f"kind {kind!r} is not one of {', '.join(KINDS)}")
        states: dict[str, State] = {}
        if "states" in entries:
            states_node = entries["states"]
            if isinstance(states_node, MappingNode) and not states_node.value:
                self.problem(states_node, "states must not be empty")
            for key_node, node in states_node.value if isinstance(states_node, MappingNode) else []:
                name = self.name(key_node, "state name")
                if name is None:
                    continue
                if name in states:
                    self.problem(key_node, f"duplicate state {name!r}")
                    continue
                states[name] = self.state(name, node, key_node)
            if not isinstance(states_node, MappingNode):
                self.problem(states_node, "states must be a mapping of state names")
        settings = self.value(entries["settings"]) if "settings" in entries else {}
        if not isinstance(settings, Mapping):
            self.problem(entries["settings"], "settings must be a mapping")
            settings = {}
        chart_id = self.name(entries.get("id"), "id")
        initial_node = entries.get("initial", root)
        return Statechart(
            id=chart_id or "",
            kind=kind if kind in KINDS else "conversation",  # type: ignore[arg-type]
            description=self.text(entries.get("description"), "description"),
            initial=self.name(entries["initial"], "initial state") if "initial" in entries else None,
            initial_loc=self.loc(initial_node),
            states=states,
            settings=dict(settings),
            path=self.path,
            version=version,
            loc=self.loc(root),
        )


def parse_statechart(path: Path) -> tuple[Statechart | None, list[Problem]]:
    """Parse one definition file. Returns the records (if the YAML parsed) and every problem."""
    root, version, problems = compose_file(path, StatechartError)
    if root is None:
        return None, problems
    parser = _Parser(path)
    chart = parser.chart(root, version)
    return chart, parser.problems
