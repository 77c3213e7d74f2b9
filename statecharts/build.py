"""Records → a `transitions` hierarchical machine. Guards and actions are registry callables, never strings.

`transitions` would import any dotted-path string it is given as a callback, and accepts unknown
targets until an event fires; `checks` has already ruled both out, and here only callables
pass. Timers (`after`) are events scheduled on the injected clock when their state is entered and
cancelled when it is left; a compound state's timers run while any of its children is active.

Every chart, flat or nested, becomes a `HierarchicalMachine` whose states are joined by `.`
(transitions' default separator, `_`, would split our names). The model's `state` is the full
path of the atomic state it rests in: `listening`, or `billing.verify`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transitions import EventData
from transitions.extensions.nesting import HierarchicalMachine, NestedEvent, NestedState

from statecharts.clock import Cancellable, Clock
from statecharts.records import SEPARATOR, CallbackRef, State, Statechart, TransitionRecord
from statecharts.registry import Context, Registry

__all__ = ["ChartMachine", "build_machine", "stage_tools"]


class _State(NestedState):
    separator = SEPARATOR


class _Event(NestedEvent):
    """Lets callers fire an event as on a flat machine: `machine.events[name].trigger(model)`."""

    def trigger(self, model: object, *args: Any, **kwargs: Any) -> bool:
        result: bool = self.machine.trigger_event(model, self.name, *args, **kwargs)
        return result


class ChartMachine(HierarchicalMachine):  # type: ignore[misc]
    state_cls = _State
    event_cls = _Event


def _timer_event(path: str, ms: int) -> str:
    # One trigger per state and delay: a parent's timer must not fire a child's transition that
    # has the same delay. Records and callbacks see the definition's name, `after_{ms}ms`.
    return f"{path}:after_{ms}ms"


def build_machine(
    chart: Statechart,
    model: object,
    registry: Registry,
    *,
    clock: Clock,
    on_transition: Callable[[TransitionRecord], None],
) -> ChartMachine:
    """One machine for one model (one conversation): never share a machine between calls."""
    timers: dict[str, list[Cancellable]] = {}
    public_event: dict[str, str] = {}
    # The atomic state the model rested in when the event being processed arrived; for flat charts
    # it is always the transition's source.
    resting: list[str] = [""]
    machine: ChartMachine

    def event_name(ev: EventData) -> str:
        name = ev.event.name if ev.event else ""
        return public_event.get(name, name)

    def context(ev: EventData, ref: CallbackRef) -> Context:
        return Context(
            model=model,
            event=event_name(ev),
            source=resting[0] if ev.transition else "",
            dest=ev.transition.dest if ev.transition else None,
            params=ref.params,
            kwargs=ev.kwargs,
        )

    def action(ref: CallbackRef) -> Callable[[EventData], None]:
        fn = registry.get_action(ref.name)
        return lambda ev: fn(context(ev, ref))

    def guard(ref: CallbackRef) -> Callable[[EventData], bool]:
        fn = registry.get_guard(ref.name)
        return lambda ev: fn(context(ev, ref))

    def fire(event: str) -> Callable[[], None]:
        def trigger() -> None:
            machine.trigger_event(model, event)

        return trigger

    def arm(state: State) -> Callable[[EventData], None]:
        delays = sorted({t.after_ms for t in state.transitions if t.after_ms is not None})

        def schedule(_ev: EventData) -> None:
            timers[state.path] = [
                clock.call_later(ms / 1000, fire(_timer_event(state.path, ms))) for ms in delays
            ]

        return schedule

    def disarm(state: State) -> Callable[[EventData], None]:
        def cancel(_ev: EventData) -> None:
            for timer in timers.pop(state.path, []):
                timer.cancel()

        return cancel

    def remember_source(_ev: EventData) -> None:
        resting[0] = str(getattr(model, "state", ""))

    def record(ev: EventData) -> None:
        if ev.transition is not None and ev.transition.dest is not None:
            on_transition(
                TransitionRecord(
                    event=event_name(ev),
                    source=resting[0],
                    dest=str(getattr(model, "state", ev.transition.dest)),
                    at=clock.now(),
                )
            )

    def spec(state: State) -> dict[str, object]:
        out: dict[str, object] = {
            "name": state.name,
            "final": state.final,
            "on_enter": [*(action(ref) for ref in state.entry), arm(state)],
            "on_exit": [disarm(state), *(action(ref) for ref in state.exit)],
        }
        if state.states:
            out["children"] = [spec(child) for child in state.states.values()]
            out["initial"] = state.initial
        return out

    machine = ChartMachine(
        model=model,
        states=[spec(state) for state in chart.states.values()],
        initial=chart.initial,
        send_event=True,
        queued=True,
        auto_transitions=False,
        ignore_invalid_triggers=True,
        prepare_event=[remember_source],
        after_state_change=[record],
        model_override=False,
    )
    for state in chart.all_states.values():
        for t in state.transitions:
            trigger = t.event if t.after_ms is None else _timer_event(state.path, t.after_ms)
            public_event[trigger] = t.event
            machine.add_transition(
                trigger=trigger,
                source=state.path,
                dest=t.dest,
                conditions=[guard(ref) for ref in t.guards],
                before=[action(ref) for ref in t.actions],
            )
    _enter_initial(chart, machine, model)
    return machine


def _enter_initial(chart: Statechart, machine: ChartMachine, model: object) -> None:
    """The initial state (and, for a compound one, its initial descendants) runs its entry
    actions and starts its timers as if it had just been entered, outermost first."""
    leaf = chart.initial_leaf
    assert leaf is not None  # checked before building
    for state in chart.lineage(leaf):
        entered = machine.get_state(state.path)
        entered.enter(EventData(entered, None, machine, model, args=(), kwargs={}))


def stage_tools(chart: Statechart, state_name: str) -> list[tuple[str, str | None, str | None]]:
    """The events leaving a stage, as (event, description, target): the LLM's stage-move tools.

    In a nested stage, its own events come first, then each enclosing stage's; a child's event
    hides its parent's of the same name, as the machine tries the child first.
    """
    seen: dict[str, tuple[str, str | None, str | None]] = {}
    for state in reversed(chart.lineage(state_name)):
        for t in state.transitions:
            if t.after_ms is None and t.event not in seen:
                seen[t.event] = (t.event, t.description, t.target)
    return list(seen.values())
