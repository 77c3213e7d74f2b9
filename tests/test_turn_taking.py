"""The turn-taking machine, driven by event sequences on a manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.turn_taking import Command, TurnTaking, registry
from statecharts.clock import ManualClock
from statecharts.load import load_statechart
from statecharts.records import TransitionRecord

CHART = Path(__file__).resolve().parent.parent / "statecharts" / "definitions" / "turn_taking.yaml"


class Harness:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.commands: list[Command] = []
        self.transitions: list[TransitionRecord] = []
        self.machine = TurnTaking(
            load_statechart(CHART, registry),
            clock=self.clock,
            on_command=self.commands.append,
            on_transition=self.transitions.append,
        )

    @property
    def state(self) -> str:
        return self.machine.state

    def agent_speaking(self) -> None:
        """Bring the machine to agent_speaking through a normal caller turn."""
        self.machine.on_speech_started()
        self.clock.advance(1.0)
        self.machine.on_speech_ended()
        self.machine.on_transcript("How much does it cost?")
        self.clock.advance(0.5)
        self.machine.on_agent_audio_started()
        self.commands.clear()


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_a_caller_turn_is_committed_once_its_transcript_arrives(h: Harness) -> None:
    """Speech, end of speech and a final transcript commit the turn; the reply plays; the floor reopens."""
    assert h.state == "listening"
    h.machine.on_speech_started()
    assert h.state == "user_speaking"
    h.machine.on_speech_ended()
    assert h.state == "endpointing"
    assert Command.COMMIT_TURN not in h.commands
    h.machine.on_transcript("Hi, this is Jordan from Northwind.")
    assert h.state == "thinking"
    assert h.commands == [Command.COMMIT_TURN]
    h.machine.on_agent_audio_started()
    assert h.state == "agent_speaking"
    h.machine.on_agent_audio_ended()
    assert h.state == "listening"


def test_a_transcript_before_the_end_of_speech_still_closes_the_turn(h: Harness) -> None:
    """A final transcript that beats the VAD's end-of-speech is kept and commits at endpointing."""
    h.machine.on_speech_started()
    h.machine.on_transcript("Hello there.")
    assert h.state == "user_speaking"
    h.machine.on_speech_ended()
    assert h.state == "thinking"
    assert h.commands == [Command.COMMIT_TURN]


def test_long_speech_over_the_agent_interrupts_it(h: Harness) -> None:
    """Caller speech held past the agent_speaking threshold (1 s) interrupts; audio pauses at once."""
    h.agent_speaking()
    h.machine.on_speech_started()
    assert h.state == "barge_in_candidate"
    assert h.commands == [Command.PAUSE_AGENT]
    h.clock.advance(0.99)
    assert h.state == "barge_in_candidate"
    h.clock.advance(0.02)
    assert h.state == "interrupted"
    assert h.commands == [Command.PAUSE_AGENT, Command.INTERRUPT_AGENT]
    h.machine.on_interrupt_done()
    assert h.state == "user_speaking"


def test_short_real_words_over_the_agent_interrupt_it(h: Harness) -> None:
    """A short "Wait, stop" is below the time threshold but carries real words: it interrupts."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.35)
    h.machine.on_speech_ended()
    assert h.state == "barge_in_candidate"
    h.machine.on_transcript("Wait, stop.")
    assert h.state == "interrupted"
    h.machine.on_interrupt_done()
    # The words already heard close the caller's turn without waiting for more speech.
    assert h.state == "thinking"
    assert h.commands[-1] == Command.COMMIT_TURN


@pytest.mark.parametrize("backchannel", ["uh-huh", "Yeah.", "Right.", "Okay.", "mm-hmm"])
def test_a_backchannel_never_interrupts(h: Harness, backchannel: str) -> None:
    """A backchannel pauses the agent only until its transcript shows it; the agent resumes."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.4)
    h.machine.on_speech_ended()
    h.machine.on_transcript(backchannel)
    assert h.state == "agent_speaking"
    assert h.commands == [Command.PAUSE_AGENT, Command.DISCARD_TURN, Command.RESUME_AGENT]
    assert Command.INTERRUPT_AGENT not in h.commands


def test_noise_without_words_is_a_false_alarm(h: Harness) -> None:
    """Speech with no transcript at all (a cough) resumes the agent after the candidate timeout."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.2)
    h.machine.on_speech_ended()
    h.clock.advance(2.7)
    assert h.state == "barge_in_candidate"
    h.clock.advance(0.2)
    assert h.state == "agent_speaking"
    assert h.commands == [Command.PAUSE_AGENT, Command.DISCARD_TURN, Command.RESUME_AGENT]


def test_thresholds_depend_on_what_the_agent_is_doing(h: Harness) -> None:
    """700 ms of speech interrupts a reply still being generated (600 ms) but not one being spoken."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("Tell me about pricing.")
    assert h.state == "thinking"
    h.machine.on_speech_started()
    h.clock.advance(0.7)
    assert h.state == "interrupted"

    spoken = Harness()
    spoken.agent_speaking()
    spoken.machine.on_speech_started()
    spoken.clock.advance(0.7)
    assert spoken.state == "barge_in_candidate"


def test_audio_starting_during_a_candidate_is_paused_and_resumes_as_speech(h: Harness) -> None:
    """If the reply's audio starts while a barge-in is pending, it is held; a false alarm resumes it."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("What do you do?")
    h.commands.clear()
    h.machine.on_speech_started()
    h.clock.advance(0.1)
    h.machine.on_speech_ended()
    h.machine.on_agent_audio_started()
    assert h.commands == [Command.PAUSE_AGENT, Command.PAUSE_AGENT]
    h.machine.on_transcript("okay")
    assert h.state == "agent_speaking"
    assert h.commands[-1] == Command.RESUME_AGENT


@pytest.mark.parametrize(
    ("setup", "wait_s", "state", "command"),
    [
        ("thinking", 10.0, "listening", Command.RECOVER),
        ("endpointing", 2.5, "listening", Command.DISCARD_TURN),
        ("agent_speaking", 120.0, "listening", Command.STOP_AGENT),
        ("user_speaking", 30.0, "endpointing", None),
    ],
)
def test_watchdogs_leave_every_stuck_state(
    h: Harness, setup: str, wait_s: float, state: str, command: Command | None
) -> None:
    """A lost event (no transcript, no audio, a hung LLM) cannot leave the agent stuck or silent."""
    h.machine.on_speech_started()
    if setup in ("endpointing", "thinking", "agent_speaking"):
        h.machine.on_speech_ended()
    if setup in ("thinking", "agent_speaking"):
        h.machine.on_transcript("Hello?")
    if setup == "agent_speaking":
        h.machine.on_agent_audio_started()
    assert h.state == setup
    h.commands.clear()
    h.clock.advance(wait_s - 0.01)
    assert h.state == setup
    h.clock.advance(0.02)
    assert h.state == state
    if command is not None:
        assert command in h.commands


def test_a_silent_caller_is_nudged(h: Harness) -> None:
    """Twenty seconds of silence in listening makes the agent say something, and stays listening."""
    h.clock.advance(20.01)
    assert h.commands == [Command.NUDGE_CALLER]
    assert h.state == "listening"


def test_every_transition_is_a_typed_record_with_a_monotonic_time(h: Harness) -> None:
    """Each state change yields a record (event, source, dest, at) in order, times from the clock."""
    h.agent_speaking()
    h.clock.advance(0.25)
    h.machine.on_hangup()
    path = [(r.event, r.source, r.dest) for r in h.transitions]
    assert path == [
        ("speech_started", "listening", "user_speaking"),
        ("speech_ended", "user_speaking", "endpointing"),
        ("transcript", "endpointing", "thinking"),
        ("agent_audio_started", "thinking", "agent_speaking"),
        ("hangup", "agent_speaking", "ended"),
    ]
    times = [r.at for r in h.transitions]
    assert times == sorted(times)
    assert times[-1] == pytest.approx(1.75)
    assert h.commands[-1] == Command.END_CALL


def test_events_after_hangup_are_ignored(h: Harness) -> None:
    """Late VAD or playback events after the call ended change nothing and raise nothing."""
    h.machine.on_hangup()
    h.machine.on_speech_started()
    h.machine.on_agent_audio_started()
    h.clock.advance(60)
    assert h.state == "ended"


def test_a_committed_transcript_never_closes_a_later_turn(h: Harness) -> None:
    """After a turn is committed, the caller's next speech waits for its own transcript."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("Sorry to jump in.")
    assert h.state == "thinking"
    h.machine.on_speech_started()
    h.clock.advance(0.7)
    assert h.state == "interrupted"
    h.machine.on_interrupt_done()
    h.machine.on_speech_ended()
    assert h.state == "endpointing"
    assert h.commands.count(Command.COMMIT_TURN) == 1
    h.machine.on_transcript("But is fuel your biggest cost?")
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 2


def test_words_transcribed_while_the_agent_stops_are_kept_for_the_next_turn(h: Harness) -> None:
    """A final transcript that lands between the interruption and `interrupt_done` (a slow stop)
    is kept and commits at endpointing: the turn is not discarded for want of words."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("Hi Dana.")
    h.machine.on_speech_started()
    h.clock.advance(0.7)
    assert h.state == "interrupted"
    h.machine.on_speech_ended()
    h.machine.on_transcript("This is Jordan from Northwind.")
    assert h.state == "interrupted"
    h.machine.on_interrupt_done()
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 2
    h.clock.advance(5.0)
    assert Command.DISCARD_TURN not in h.commands
