"""Records → a `transitions` machine. Guards and actions are registry callables, never strings.

`transitions` would import any dotted-path string it is given as a callback, and accepts unknown
targets until an event fires; `checks` has already ruled both out, and here only callables
pass. Timers (`after`) are events scheduled on the injected clock and cancelled on exit.
"""

from __future__ import annotations

from collections.abc import Callable

from transitions import EventData, Machine

from statecharts.clock import Cancellable, Clock
from statecharts.records import CallbackRef, Statechart, TransitionRecord
from statecharts.registry import Context, Registry

__all__ = ["build_machine", "stage_tools"]


def _context(model: object, ev: EventData, ref: CallbackRef) -> Context:
    return Context(
        model=model,
        event=ev.event.name if ev.event else "",
        source=ev.transition.source if ev.transition else "",
        dest=ev.transition.dest if ev.transition else None,
        params=ref.params,
        kwargs=ev.kwargs,
    )


def build_machine(
    chart: Statechart,
    model: object,
    registry: Registry,
    *,
    clock: Clock,
    on_transition: Callable[[TransitionRecord], None],
) -> Machine:
    """One machine for one model (one conversation): never share a machine between calls."""
    timers: list[Cancellable] = []
    machine: Machine

    def action(ref: CallbackRef) -> Callable[[EventData], None]:
        fn = registry.get_action(ref.name)
        return lambda ev: fn(_context(model, ev, ref))

    def guard(ref: CallbackRef) -> Callable[[EventData], bool]:
        fn = registry.get_guard(ref.name)
        return lambda ev: fn(_context(model, ev, ref))

    def fire(event: str) -> Callable[[], None]:
        def trigger() -> None:
            machine.events[event].trigger(model)

        return trigger

    def arm(delays: list[int]) -> Callable[[EventData], None]:
        def schedule(_ev: EventData) -> None:
            timers.extend(clock.call_later(ms / 1000, fire(f"after_{ms}ms")) for ms in delays)

        return schedule

    def disarm(_ev: EventData) -> None:
        while timers:
            timers.pop().cancel()

    def record(ev: EventData) -> None:
        if ev.transition is not None and ev.transition.dest is not None:
            on_transition(
                TransitionRecord(
                    event=ev.event.name if ev.event else "",
                    source=ev.transition.source,
                    dest=ev.transition.dest,
                    at=clock.now(),
                )
            )

    states = []
    for state in chart.states.values():
        delays = sorted({t.after_ms for t in state.transitions if t.after_ms is not None})
        states.append(
            {
                "name": state.name,
                "final": state.final,
                "on_enter": [*(action(ref) for ref in state.entry), arm(delays)],
                "on_exit": [disarm, *(action(ref) for ref in state.exit)],
            }
        )
    machine = Machine(
        model=model,
        states=states,
        initial=chart.initial,
        send_event=True,
        queued=True,
        auto_transitions=False,
        ignore_invalid_triggers=True,
        after_state_change=[record],
        model_override=False,
    )
    for state in chart.states.values():
        for t in state.transitions:
            machine.add_transition(
                trigger=t.event,
                source=state.name,
                dest=t.target,
                conditions=[guard(ref) for ref in t.guards],
                before=[action(ref) for ref in t.actions],
            )
    # The initial state's entry actions and timers run as if it had just been entered.
    assert chart.initial is not None  # checked before building
    initial = machine.get_state(chart.initial)
    initial.enter(EventData(initial, None, machine, model, args=(), kwargs={}))
    return machine


def stage_tools(chart: Statechart, state_name: str) -> list[tuple[str, str | None, str | None]]:
    """The events leaving a stage, as (event, description, target): the LLM's stage-move tools."""
    seen: dict[str, tuple[str, str | None, str | None]] = {}
    for t in chart.states[state_name].transitions:
        if t.after_ms is None and t.event not in seen:
            seen[t.event] = (t.event, t.description, t.target)
    return list(seen.values())
