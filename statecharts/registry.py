"""Behaviour behind the names a definition uses: guards, actions, triggers and tools, registered in code.

A definition can only name what is registered here; it can never make `transitions` import a
dotted path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Action", "Context", "Guard", "Registry", "Trigger"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Context:
    """What a guard or action sees when it runs."""

    model: object
    event: str
    source: str
    dest: str | None
    params: Mapping[str, object]
    kwargs: Mapping[str, object] = field(default_factory=dict)


Guard = Callable[[Context], bool]
Action = Callable[[Context], None]
Trigger = Callable[[Mapping[str, object], str], bool]
"""(params, the caller's turn) → whether the turn fires the transition's event, with no LLM involved.

Given an empty turn, a trigger only checks its params (ValueError names what is wrong) and answers
False: the static checks call it so at load, so a bad definition fails there, not mid-call."""


class Registry:
    """Named guards, actions, triggers and tools. One registry per kind of machine."""

    def __init__(self) -> None:
        self._guards: dict[str, Guard] = {}
        self._actions: dict[str, Action] = {}
        self._triggers: dict[str, Trigger] = {}
        self._tools: dict[str, object] = {}

    def guard(self, name: str) -> Callable[[Guard], Guard]:
        def register(fn: Guard) -> Guard:
            self._add(self._guards, "guard", name, fn)
            return fn

        return register

    def action(self, name: str) -> Callable[[Action], Action]:
        def register(fn: Action) -> Action:
            self._add(self._actions, "action", name, fn)
            return fn

        return register

    def trigger(self, name: str) -> Callable[[Trigger], Trigger]:
        def register(fn: Trigger) -> Trigger:
            self._add(self._triggers, "trigger", name, fn)
            return fn

        return register

    def tool(self, name: str, spec: object) -> None:
        """Register a tool; `spec` is whatever the caller needs to build it (a factory)."""
        self._add(self._tools, "tool", name, spec)

    @staticmethod
    def _add(table: dict[str, _T], kind: str, name: str, value: _T) -> None:
        if not name.isidentifier():
            raise ValueError(f"{kind} name {name!r} must be a plain identifier")
        if name in table:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = value

    def has_guard(self, name: str) -> bool:
        return name in self._guards

    def has_action(self, name: str) -> bool:
        return name in self._actions

    def has_tool(self, name: str) -> bool:
        return name in self._tools

    def get_guard(self, name: str) -> Guard:
        return self._lookup(self._guards, "guard", name)

    def get_action(self, name: str) -> Action:
        return self._lookup(self._actions, "action", name)

    def get_trigger(self, name: str) -> Trigger:
        return self._lookup(self._triggers, "trigger", name)

    def tool_spec(self, name: str) -> object:
        return self._lookup(self._tools, "tool", name)

    @property
    def guard_names(self) -> frozenset[str]:
        return frozenset(self._guards)

    @property
    def action_names(self) -> frozenset[str]:
        return frozenset(self._actions)

    @property
    def trigger_names(self) -> frozenset[str]:
        return frozenset(self._triggers)

    @property
    def tool_names(self) -> frozenset[str]:
        return frozenset(self._tools)

    @staticmethod
    def _lookup(table: Mapping[str, _T], kind: str, name: str) -> _T:
        try:
            return table[name]
        except KeyError:
            known = ", ".join(sorted(table)) or "none"
            raise KeyError(f"unknown {kind} {name!r} (registered: {known})") from None
