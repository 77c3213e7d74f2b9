"""Wires one `AgentSession` to its turn-taking machine.

Session callbacks (VAD speech start/end, final transcripts) and caller-side playback become
machine events; the machine's commands become session calls. livekit's own interruption and
endpointing are switched off (see `realtime.session`), so these decisions are the machine's alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from livekit.agents import AgentSession
from livekit.agents.voice.events import UserInputTranscribedEvent, UserStateChangedEvent
from livekit.agents.voice.io import AudioOutput, PlaybackFinishedEvent, PlaybackStartedEvent

from rapport.logs import get_logger
from realtime.turn_taking import Command, TurnTaking

__all__ = ["TurnTakingBridge"]

log = get_logger(__name__)

RECOVERY_LINE = "Sorry, I lost my train of thought. Could you say that again?"
NUDGE_LINE = "Are you still there?"


class TurnTakingBridge:
    """Carries events into the machine and its commands out to the session."""

    def __init__(self, session: AgentSession, *, on_hangup: Callable[[], None]) -> None:
        self._session = session
        self._on_hangup = on_hangup
        self.machine: TurnTaking | None = None
        self._output: AudioOutput | None = None
        self._pending: set[asyncio.Future[object]] = set()

    def attach(self, machine: TurnTaking, output: AudioOutput) -> None:
        """Start carrying events; call once the session's output is in place."""
        self.machine = machine
        self._output = output
        self._session.on("user_state_changed", self._on_user_state)
        self._session.on("user_input_transcribed", self._on_transcribed)
        # The output's own events: the caller-side output in scripted calls and the playground,
        # livekit's room output in production.
        self._output.on("playback_started", self._on_playback_started)
        self._output.on("playback_finished", self._on_playback_finished)

    # Session → machine.

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        assert self.machine is not None
        if ev.new_state == "speaking":
            self.machine.on_speech_started()
        elif ev.old_state == "speaking":
            self.machine.on_speech_ended()

    def _on_transcribed(self, ev: UserInputTranscribedEvent) -> None:
        assert self.machine is not None
        if ev.is_final:
            self.machine.on_transcript(ev.transcript)

    def _on_playback_started(self, _ev: PlaybackStartedEvent) -> None:
        assert self.machine is not None
        self.machine.on_agent_audio_started()

    def _on_playback_finished(self, ev: PlaybackFinishedEvent) -> None:
        assert self.machine is not None
        if not ev.interrupted:
            self.machine.on_agent_audio_ended()

    # Machine → session.

    def execute(self, command: Command) -> None:
        assert self._output is not None
        log.debug("turn_taking.command", command=command.value)
        match command:
            case Command.PAUSE_AGENT:
                self._output.pause()
            case Command.RESUME_AGENT:
                self._output.resume()
            case Command.INTERRUPT_AGENT:
                self._interrupt(then=self._interrupt_done)
            case Command.COMMIT_TURN:
                # The machine commits only once a final transcript is in. livekit would otherwise
                # wait up to 2 s for yet another final whenever the last one came more than 0.5 s
                # before the commit (a VAD slow to call the end of speech, under load).
                self._track(self._session.commit_user_turn(transcript_timeout=0.0))
            case Command.DISCARD_TURN:
                self._session.clear_user_turn()
            case Command.STOP_AGENT:
                self._interrupt(then=None)
            case Command.RECOVER:
                self._interrupt(then=lambda: self._session.say(RECOVERY_LINE))
            case Command.NUDGE_CALLER:
                self._session.say(NUDGE_LINE)
            case Command.END_CALL:
                self._on_hangup()

    def _interrupt(self, *, then: Callable[[], object] | None) -> None:
        # The caller already stopped hearing the agent (paused output); drop what is queued now.
        assert self._output is not None
        self._output.clear_buffer()
        self._output.resume()
        future = self._session.interrupt(force=True)
        if then is not None:
            future.add_done_callback(lambda _: then())
        self._track(future)

    def _interrupt_done(self) -> None:
        assert self.machine is not None
        self.machine.on_interrupt_done()

    def _track(self, future: asyncio.Future[object] | asyncio.Future[str] | asyncio.Future[None]) -> None:
        # Keep a reference until done, and surface failures in the log instead of losing them.
        self._pending.add(future)  # type: ignore[arg-type]

        def done(f: asyncio.Future[object]) -> None:
            self._pending.discard(f)
            if not f.cancelled() and f.exception() is not None:
                log.warning("turn_taking.session_call_failed", error=repr(f.exception()))

        future.add_done_callback(done)  # type: ignore[arg-type]
