"""Wires one `AgentSession` to its turn-taking machine.

Session callbacks (VAD speech start/end, final transcripts, what the STT is transcribing) and
caller-side playback become machine events; the machine's commands become session calls, and its
request for an end-of-turn prediction runs the model on the turn's audio. livekit's own
interruption and endpointing are switched off (see `realtime.session`), so these decisions are the
machine's alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from livekit.agents import AgentSession
from livekit.agents.voice.events import UserInputTranscribedEvent, UserStateChangedEvent
from livekit.agents.voice.io import AudioOutput, PlaybackFinishedEvent, PlaybackStartedEvent

from rapport.logs import get_logger
from realtime.end_of_turn import MAX_SECONDS, predict_soon
from realtime.transcription import TrackedSTT
from realtime.turn_audio import TurnAudio
from realtime.turn_taking import Command, TurnTaking

__all__ = ["TurnTakingBridge"]

log = get_logger(__name__)

RECOVERY_LINE = "Sorry, I lost my train of thought. Could you say that again?"
NUDGE_LINE = "Are you still there?"
# The VAD reports speech about 0.1 s after it starts; the model hears the turn from a little before.
PRE_ROLL_S = 0.3
# A transcription with words reaches the session's events within milliseconds; one that has not
# after this long was dropped on the way, and the machine must not wait for it forever.
TRANSCRIPT_DELIVERY_S = 2.0


class TurnTakingBridge:
    """Carries events into the machine and its commands out to the session."""

    def __init__(
        self, session: AgentSession, *, on_hangup: Callable[[], None], turn_audio: TurnAudio
    ) -> None:
        self._session = session
        self._on_hangup = on_hangup
        self._turn_audio = turn_audio
        self.machine: TurnTaking | None = None
        self._output: AudioOutput | None = None
        self._pending: set[asyncio.Future[object]] = set()
        self._transcripts_due = 0
        self._transcripts_seen = 0

    def attach(self, machine: TurnTaking, output: AudioOutput) -> None:
        """Start carrying events; call once the session's output is in place."""
        self.machine = machine
        self._output = output
        self._session.on("user_state_changed", self._on_user_state)
        self._session.on("user_input_transcribed", self._on_transcribed)
        if isinstance(self._session.stt, TrackedSTT):
            self._session.stt.on_started = machine.on_transcription_started
            self._session.stt.on_finished = self._on_transcription_finished
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
            self._transcripts_seen += 1
            self.machine.on_transcript(ev.transcript)

    def _on_transcription_finished(self, has_words: bool) -> None:
        assert self.machine is not None
        if not has_words:
            self.machine.on_transcription_empty()
            return
        self._transcripts_due += 1
        due = self._transcripts_due
        asyncio.get_running_loop().call_later(TRANSCRIPT_DELIVERY_S, self._check_delivered, due)

    def _check_delivered(self, due: int) -> None:
        assert self.machine is not None
        if self._transcripts_seen < due:
            log.warning("turn_taking.transcript_not_delivered")
            self._transcripts_seen += 1
            self.machine.on_transcription_empty()

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
                self._commit_after_previous_turn()
            case Command.PREDICT_END_OF_TURN:
                self._predict_end_of_turn()
            case Command.DISCARD_TURN:
                # The machine decides inside livekit's transcript hook, which adds the words to
                # the user turn only after it returns: cleared now, a backchannel's words stayed
                # and opened the next turn ("Yeah, right. Yeah, yeah, right, yeah. Hi Dana, …").
                asyncio.get_running_loop().call_soon(self._session.clear_user_turn)
            case Command.STOP_AGENT:
                self._interrupt(then=None)
            case Command.RECOVER:
                self._interrupt(then=lambda: self._session.say(RECOVERY_LINE))
            case Command.NUDGE_CALLER:
                self._session.say(NUDGE_LINE)
            case Command.END_CALL:
                self._on_hangup()

    def _commit(self) -> None:
        # The machine commits only once a final transcript is in. livekit would otherwise wait up
        # to 2 s for yet another final whenever the last one came more than 0.5 s before the
        # commit (a VAD slow to call the end of speech, under load).
        commit = self._session.commit_user_turn(transcript_timeout=0.0)
        commit.add_done_callback(lambda _: self._reopen_if_commit_lost())
        self._track(commit)

    def _commit_after_previous_turn(self) -> None:
        """Commit once the agent has taken in the previous turn, and answer both with one reply.

        livekit 1.8.9 runs the agent's `on_user_turn_completed` for a turn (the whole-turn re-hearing,
        triggers, knowledge: slow under load), then finds a newer turn committed meanwhile and
        interrupts the old turn's reply without force, which our session's speech does not allow
        (interruptions are the machine's). The RuntimeError fails that turn, and every later turn
        re-raises it (each waits on the one before): a silent agent for the rest of the call. So a
        commit waits for the previous turn's hook; then the reply it started is interrupted (its
        words stay in the chat), as livekit means to, and this turn's reply answers both.
        """
        activity = self._session._activity
        previous = activity._user_turn_completed_atask if activity is not None else None
        if previous is None or previous.done():
            self._commit()
            return
        log.info("turn_taking.commit_after_previous_turn")

        def taken_in(_: object) -> None:
            interrupted = self._session.interrupt(force=True)
            interrupted.add_done_callback(lambda _: self._commit())
            self._track(interrupted)

        previous.add_done_callback(taken_in)

    def _predict_end_of_turn(self) -> None:
        machine = self.machine
        assert machine is not None
        seq = machine.endpoint_seq
        started = machine.turn_started_at
        seconds = MAX_SECONDS if started is None else machine.now() - started + PRE_ROLL_S
        prediction = predict_soon(self._turn_audio.last(seconds))

        def done(f: asyncio.Future[float]) -> None:
            failed = f.cancelled() or f.exception() is not None
            if failed:
                log.warning(
                    "turn_taking.end_of_turn_failed", error=None if f.cancelled() else repr(f.exception())
                )
            machine.on_end_of_turn_prediction(None if failed else f.result(), seq)

        prediction.add_done_callback(done)

    def _reopen_if_commit_lost(self) -> None:
        """Keep the caller's next words flowing when a commit lost its race with their speech.

        livekit 1.8.9 (manual turn detection) marks the turn committed, then commits it in a task
        that a VAD start of speech cancels. Speech that starts before that task first runs cancels
        it unrun: no reply, and the turn stays marked committed, so livekit drops every later final
        transcript of the call's (the "Hi Dana" turn of issue 13: no transcript ever came for the
        rest, and a watchdog discarded it). Unmarked, the words stay in livekit's open turn and the
        machine's next commit sends them all, the first ones included.
        """
        activity = self._session._activity
        recognition = activity._audio_recognition if activity is not None else None
        if recognition is None or (task := recognition._end_of_turn_task) is None:
            return

        def check(t: asyncio.Task[None]) -> None:
            if t is recognition._end_of_turn_task and t.cancelled() and recognition._user_turn_committed:
                log.info("turn_taking.commit_overtaken_by_speech")
                recognition._user_turn_committed = False

        task.add_done_callback(check)

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
