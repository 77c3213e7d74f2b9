"""What changed between two versions of a definition, in states and transitions.

A transition is known by its source state and event; among several for one event, an old and
a new one with the same target and guards are the same transition, and the rest pair up in the
order written, so a changed target or guard reads as a change, not as a removal and an addition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from statecharts.records import CallbackRef, State, Statechart, Transition

__all__ = ["Change", "diff_charts", "format_diff"]

Sign = Literal["+", "-", "~"]


@dataclass(frozen=True)
class Change:
    """One added (+), removed (-) or changed (~) part, with what changed in it."""

    sign: Sign
    subject: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join([f"{self.sign} {self.subject}", *(f"    {line}" for line in self.details)])


def _callback(ref: CallbackRef) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in ref.params.items())
    return f"{ref.name}({params})" if params else ref.name


def _callbacks(refs: tuple[CallbackRef, ...]) -> str:
    return "[" + ", ".join(_callback(r) for r in refs) + "]"


def _label(t: Transition) -> str:
    event = f"after {t.after_ms}ms" if t.after_ms is not None else t.event
    guards = " & ".join(_callback(g) for g in t.guards)
    return f"{event} [{guards}]" if guards else event


def _describe(source: str, t: Transition) -> str:
    target = t.dest or t.target or "(internal)"
    return f"{source} --{_label(t)}--> {target}"


def _groups(chart: Statechart) -> dict[tuple[str, str], list[Transition]]:
    """Each state's transitions by event, in the order written (the order guards are tried)."""
    out: dict[tuple[str, str], list[Transition]] = {}
    for path, state in chart.all_states.items():
        for t in state.transitions:
            out.setdefault((path, t.event), []).append(t)
    return out


def _route(t: Transition) -> tuple[str | None, str]:
    return t.dest or t.target, _callbacks(t.guards)


def _match(
    old: list[Transition], new: list[Transition]
) -> tuple[list[tuple[Transition, Transition]], list[Transition], list[Transition]]:
    """Pairs (same target and guards first, then by position), the added and the removed."""
    left, right = list(old), list(new)
    pairs: list[tuple[Transition, Transition]] = []
    for t in list(right):
        twin = next((o for o in left if _route(o) == _route(t)), None)
        if twin is not None:
            pairs.append((twin, t))
            left.remove(twin)
            right.remove(t)
    pairs += zip(left, right, strict=False)
    return pairs, right[len(left) :], left[len(right) :]


def _text_change(what: str, old: str | None, new: str | None) -> list[str]:
    if old == new:
        return []
    return [f"{what}:", f"  - {old or '(none)'}", f"  + {new or '(none)'}"]


def _value_change(what: str, old: object, new: object) -> list[str]:
    return [] if old == new else [f"{what}: {old} → {new}"]


def _state_details(old: State, new: State) -> list[str]:
    added = [t for t in new.tool_names if t not in old.tool_names]
    removed = [t for t in old.tool_names if t not in new.tool_names]
    tools = [f"tools: {' '.join([*(f'+{t}' for t in added), *(f'-{t}' for t in removed)])}"]
    return [
        *_value_change("type", old.type, new.type),
        *_value_change("initial", old.initial, new.initial),
        *_value_change("entry", _callbacks(old.entry), _callbacks(new.entry)),
        *_value_change("exit", _callbacks(old.exit), _callbacks(new.exit)),
        *(tools if added or removed else []),
        *_text_change("instructions", old.instructions, new.instructions),
        *_text_change("description", old.description, new.description),
    ]


def _transition_details(old: Transition, new: Transition) -> list[str]:
    return [
        *_value_change("target", old.dest or old.target, new.dest or new.target),
        *_value_change("guard", _callbacks(old.guards), _callbacks(new.guards)),
        *_value_change("actions", _callbacks(old.actions), _callbacks(new.actions)),
        *_text_change("description", old.description, new.description),
    ]


def _settings(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    keys = [*old, *(k for k in new if k not in old)]
    return [
        ("+" if k not in old else "-" if k not in new else "~") + k
        for k in keys
        if old.get(k) != new.get(k) or (k in old) != (k in new)
    ]


def diff_charts(old: Statechart, new: Statechart) -> list[Change]:
    """Chart-level changes, then states, then transitions, each in the order written."""
    changes: list[Change] = []
    for what in ("id", "kind", "initial"):
        before, after = getattr(old, what), getattr(new, what)
        if before != after:
            changes.append(Change("~", what, (f"{before} → {after}",)))
    if old.description != new.description:
        text = _text_change("description", old.description, new.description)
        changes.append(Change("~", "description", tuple(text[1:])))
    settings = _settings(old.settings, new.settings)
    if settings:
        changes.append(Change("~", "settings", (" ".join(settings),)))
    changes += _state_changes(old, new)
    changes += _transition_changes(old, new)
    return changes


def _state_changes(old: Statechart, new: Statechart) -> Iterator[Change]:
    for path, state in new.all_states.items():
        if path not in old.all_states:
            yield Change("+", f"state {path}" + (f" ({state.type})" if state.type != "atomic" else ""))
        elif details := _state_details(old.all_states[path], state):
            yield Change("~", f"state {path}", tuple(details))
    for path in old.all_states:
        if path not in new.all_states:
            yield Change("-", f"state {path}")


def _transition_changes(old: Statechart, new: Statechart) -> Iterator[Change]:
    before, after = _groups(old), _groups(new)
    for key in [*after, *(k for k in before if k not in after)]:
        source = key[0]
        pairs, added, removed = _match(before.get(key, []), after.get(key, []))
        for was, now in pairs:
            if details := _transition_details(was, now):
                yield Change("~", f"transition {_describe(source, was)}", tuple(details))
        yield from (Change("+", f"transition {_describe(source, t)}") for t in added)
        yield from (Change("-", f"transition {_describe(source, t)}") for t in removed)


def format_diff(old: Statechart, new: Statechart, changes: list[Change]) -> str:
    """The report `rapport statechart diff` prints."""
    head = [f"--- {old.path} (version {old.version})", f"+++ {new.path} (version {new.version})"]
    if not changes:
        same = "identical" if old.version == new.version else "only layout or comments differ"
        return "\n".join([*head, f"no changes to states or transitions ({same})"])
    counts = {sign: sum(c.sign == sign for c in changes) for sign in ("+", "-", "~")}
    summary = f"{counts['+']} added, {counts['-']} removed, {counts['~']} changed"
    return "\n".join([*head, *(str(c) for c in changes), summary])
