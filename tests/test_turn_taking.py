"""The turn-taking machine, driven by event sequences on a manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.turn_taking import Command, Dismissal, TurnTaking, registry
from statecharts.clock import ManualClock
from statecharts.load import load_statechart
from statecharts.records import TransitionRecord

CHART = Path(__file__).resolve().parent.parent / "statecharts" / "definitions" / "turn_taking.yaml"
# The chart's end_of_turn settings: the waits after the end of speech, by the model's verdict.
FINISHED_S = 0.65
UNFINISHED_S = 1.5
QUESTION_S = 0.3
FINISHED = 0.93
UNFINISHED = 0.04


class Harness:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.commands: list[Command] = []
        self.transitions: list[TransitionRecord] = []
        self.dismissed: list[Dismissal] = []
        self.machine = TurnTaking(
            load_statechart(CHART, registry),
            clock=self.clock,
            on_command=self.commands.append,
            on_transition=self.transitions.append,
            on_dismissed=self.dismissed.append,
        )

    @property
    def state(self) -> str:
        return self.machine.state

    def predicted(self, probability: float | None) -> None:
        """The end-of-turn model answers for the current pause."""
        self.machine.on_end_of_turn_prediction(probability, self.machine.endpoint_seq)

    def caller_turn(self, text: str, probability: float = FINISHED) -> None:
        """A whole caller turn: speech, its end, the model's verdict, the words, the wait."""
        self.machine.on_speech_started()
        self.clock.advance(1.0)
        self.machine.on_speech_ended()
        self.predicted(probability)
        self.machine.on_transcript(text)
        self.clock.advance(FINISHED_S if probability > 0.5 else UNFINISHED_S)

    def agent_speaking(self) -> None:
        """Bring the machine to agent_speaking through a normal caller turn."""
        self.caller_turn("How much does it cost?")
        self.machine.on_agent_audio_started()
        self.commands.clear()


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_a_caller_turn_is_committed_after_its_wait_once_its_words_are_in(h: Harness) -> None:
    """Speech, end of speech, a finished-sounding turn and its transcript commit once the finished
    wait has passed since the end of speech; the reply plays; the floor reopens."""
    assert h.state == "listening"
    h.machine.on_speech_started()
    assert h.state == "user_speaking"
    h.machine.on_speech_ended()
    assert h.state == "endpointing"
    assert h.commands == [Command.PREDICT_END_OF_TURN]
    h.predicted(FINISHED)
    h.machine.on_transcript("Hi, this is Jordan from Northwind.")
    h.clock.advance(FINISHED_S - 0.01)
    assert h.state == "endpointing"
    h.clock.advance(0.02)
    assert h.state == "thinking"
    assert h.commands == [Command.PREDICT_END_OF_TURN, Command.COMMIT_TURN]
    h.machine.on_agent_audio_started()
    assert h.state == "agent_speaking"
    h.machine.on_agent_audio_ended()
    assert h.state == "listening"


def test_an_unfinished_sounding_turn_waits_longer(h: Harness) -> None:
    """When the model hears the turn as unfinished, endpointing waits the unfinished wait, not the
    finished one, before it commits the words it has."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("Hi Dana, this is")
    h.predicted(UNFINISHED)
    h.clock.advance(FINISHED_S + 0.1)
    assert h.state == "endpointing"
    h.clock.advance(UNFINISHED_S - FINISHED_S - 0.1 - 0.01)
    assert h.state == "endpointing"
    h.clock.advance(0.02)
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 1


def test_a_late_prediction_counts_from_the_end_of_speech(h: Harness) -> None:
    """The wait runs from the VAD's end of speech, not from when the model answered: a verdict
    that arrives after the finished wait commits at once."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("I have two minutes.")
    h.clock.advance(FINISHED_S + 0.05)
    assert h.state == "endpointing"
    h.predicted(FINISHED)
    assert h.state == "thinking"


def test_a_prediction_that_never_comes_still_lets_the_turn_close(h: Harness) -> None:
    """If the model fails to answer, endpointing's deadline decides: the words commit."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcript("I have two minutes.")
    h.clock.advance(1.99)
    assert h.state == "endpointing"
    h.clock.advance(0.02)
    assert h.state == "thinking"


def test_a_question_commits_once_its_words_land_whatever_the_model_heard(h: Harness) -> None:
    """A transcript ending in a question mark waits only the question wait from the end of
    speech, even when the end-of-turn model heard the turn as unfinished: the caller asked."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.predicted(UNFINISHED)
    h.clock.advance(QUESTION_S + 0.05)
    assert h.state == "endpointing"
    h.machine.on_transcript("How many hours do they lose on a bad day?")
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 1


def test_a_statement_heard_as_unfinished_still_waits_the_long_wait(h: Harness) -> None:
    """Without a question mark the model's verdict decides: an unfinished-sounding statement
    waits the long wait, so a caller who pauses mid-thought can go on."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.predicted(UNFINISHED)
    h.machine.on_transcript("Hi Dana, this is")
    h.clock.advance(FINISHED_S + 0.05)
    assert h.state == "endpointing"
    h.clock.advance(UNFINISHED_S - FINISHED_S)
    assert h.state == "thinking"


def test_a_transcript_before_the_end_of_speech_still_closes_the_turn(h: Harness) -> None:
    """A final transcript that beats the VAD's end-of-speech is kept and commits at endpointing."""
    h.machine.on_speech_started()
    h.machine.on_transcript("Hello there.")
    assert h.state == "user_speaking"
    h.machine.on_speech_ended()
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "thinking"
    assert h.commands == [Command.PREDICT_END_OF_TURN, Command.COMMIT_TURN]


def test_a_pause_then_more_words_is_one_turn(h: Harness) -> None:
    """ "Hi Dana," a 600 ms pause (the VAD reports the new speech ~400 ms after its end of speech),
    then more words: one turn committed once with both parts, and no barge-in, even though the
    model heard "Hi Dana," as finished."""
    h.machine.on_speech_started()
    h.clock.advance(0.7)
    h.machine.on_speech_ended()
    h.predicted(FINISHED)
    h.machine.on_transcript("Hi, Dana.")
    h.clock.advance(0.4)
    h.machine.on_speech_started()
    assert h.state == "user_speaking"
    h.clock.advance(FINISHED_S)  # the first pause's wait would have ended here
    assert h.state == "user_speaking"
    h.clock.advance(2.0)
    h.machine.on_speech_ended()
    h.machine.on_transcript("This is Sam from Routewise. Do you have two minutes?")
    assert h.machine.transcript_buffer == [
        "Hi, Dana.",
        "This is Sam from Routewise. Do you have two minutes?",
    ]
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 1
    assert not [r for r in h.transitions if r.dest in ("barge_in_candidate", "interrupted")]


def test_a_stale_prediction_decides_nothing(h: Harness) -> None:
    """The model's answer for a pause the caller already ended by speaking again is ignored."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    first_pause = h.machine.endpoint_seq
    h.machine.on_transcript("Hi, Dana.")
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_end_of_turn_prediction(FINISHED, first_pause)
    h.clock.advance(FINISHED_S)
    assert h.state == "endpointing"
    h.predicted(FINISHED)
    assert h.state == "thinking"


def test_a_turn_waits_for_words_still_being_transcribed(h: Harness) -> None:
    """Past the wait, with a transcription still in flight, nothing is discarded: the turn waits
    and commits the moment the words land, however late."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.predicted(FINISHED)
    h.clock.advance(10.0)
    assert h.state == "endpointing"
    assert h.dismissed == []
    h.machine.on_transcript("Sorry, the line is slow.")
    assert h.state == "thinking"
    assert h.commands[-1] == Command.COMMIT_TURN


def test_speech_with_no_words_is_dismissed_as_noise_once_nothing_is_in_flight(h: Harness) -> None:
    """A cough: its transcription ends empty; past the wait the machine listens again and records
    the decision. livekit's turn is not cleared (that would restart its STT)."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.predicted(UNFINISHED)
    h.clock.advance(UNFINISHED_S)
    assert h.state == "endpointing"
    h.machine.on_transcription_empty()
    assert h.state == "listening"
    assert h.dismissed == [Dismissal("noise", "")]
    assert Command.DISCARD_TURN not in h.commands


def test_words_that_arrive_after_a_turn_was_given_up_join_the_next_turn(h: Harness) -> None:
    """A streaming STT reports nothing in flight: a pause with no words yet is let go as noise; its
    transcript, arriving late, joins the next turn, which then commits with it even if its own
    speech brought no words."""
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "listening"
    h.machine.on_transcript("Tuesday works for me.")
    assert h.state == "listening"
    h.machine.on_speech_started()
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.machine.on_transcription_empty()
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 1


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
    # The words already heard close the caller's turn once the wait after their speech is over.
    assert h.state == "endpointing"
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "thinking"
    assert h.commands[-1] == Command.COMMIT_TURN


@pytest.mark.parametrize("backchannel", ["uh-huh", "Yeah.", "Right.", "Okay.", "mm-hmm"])
def test_a_backchannel_never_interrupts_and_is_recorded_with_its_words(h: Harness, backchannel: str) -> None:
    """A backchannel pauses the agent only until its transcript shows it; the agent resumes, and
    the decision is recorded with what the caller said."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.4)
    h.machine.on_speech_ended()
    h.machine.on_transcript(backchannel)
    assert h.state == "agent_speaking"
    assert h.commands == [Command.PAUSE_AGENT, Command.DISCARD_TURN, Command.RESUME_AGENT]
    assert h.dismissed == [Dismissal("backchannel", backchannel)]


def test_a_backchannel_with_more_speech_in_flight_waits_for_the_rest(h: Harness) -> None:
    """ "Yeah." lands while the next stretch is still being transcribed: nothing is dismissed yet;
    the rest carries real words and interrupts."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.3)
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.machine.on_speech_started()
    h.clock.advance(0.3)
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.machine.on_transcript("Yeah.")
    assert h.state == "barge_in_candidate"
    assert h.dismissed == []
    h.machine.on_transcript("but what does it cost?")
    assert h.state == "interrupted"
    assert h.machine.transcript_buffer == ["Yeah.", "but what does it cost?"]


def test_noise_without_words_is_a_false_alarm(h: Harness) -> None:
    """Speech with no transcript at all (a cough) resumes the agent after the candidate timeout,
    and the decision is recorded as noise."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.2)
    h.machine.on_speech_ended()
    h.clock.advance(2.7)
    assert h.state == "barge_in_candidate"
    h.clock.advance(0.2)
    assert h.state == "agent_speaking"
    assert h.commands == [Command.PAUSE_AGENT, Command.RESUME_AGENT]
    assert h.dismissed == [Dismissal("noise", "")]


def test_a_slow_transcription_over_the_agent_is_waited_for(h: Harness) -> None:
    """The candidate's noise timeout does not give up while the speech is still being
    transcribed: it decides when the transcription ends."""
    h.agent_speaking()
    h.machine.on_speech_started()
    h.clock.advance(0.2)
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.clock.advance(5.0)
    assert h.state == "barge_in_transcribing"
    assert Command.RESUME_AGENT not in h.commands
    h.machine.on_transcription_empty()
    assert h.state == "agent_speaking"
    assert h.dismissed == [Dismissal("noise", "")]


def test_thresholds_depend_on_what_the_agent_is_doing(h: Harness) -> None:
    """700 ms of speech interrupts a reply still being generated (600 ms) but not one being spoken."""
    h.caller_turn("Tell me about pricing.")
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
    h.caller_turn("What do you do?")
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
        ("endpointing", 2.0, "listening", None),
        ("agent_speaking", 120.0, "listening", Command.STOP_AGENT),
        ("user_speaking", 30.0, "endpointing", None),
    ],
)
def test_watchdogs_leave_every_stuck_state(
    h: Harness, setup: str, wait_s: float, state: str, command: Command | None
) -> None:
    """A lost event (no transcript, no audio, a hung LLM) cannot leave the agent stuck or silent."""
    if setup in ("thinking", "agent_speaking"):
        h.caller_turn("Hello.")
    else:
        h.machine.on_speech_started()
    if setup == "endpointing":
        h.machine.on_speech_ended()
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
        ("endpoint_timeout", "endpointing", "thinking"),
        ("agent_audio_started", "thinking", "agent_speaking"),
        ("hangup", "agent_speaking", "ended"),
    ]
    times = [r.at for r in h.transitions]
    assert times == sorted(times)
    assert times[-1] == pytest.approx(1.0 + FINISHED_S + 0.25)
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
    h.caller_turn("Sorry to jump in.")
    assert h.state == "thinking"
    h.machine.on_speech_started()
    h.clock.advance(0.7)
    assert h.state == "interrupted"
    h.machine.on_interrupt_done()
    h.machine.on_speech_ended()
    h.machine.on_transcription_started()
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "endpointing"
    assert h.commands.count(Command.COMMIT_TURN) == 1
    h.machine.on_transcript("But is fuel your biggest cost?")
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 2


def test_words_transcribed_while_the_agent_stops_are_kept_for_the_next_turn(h: Harness) -> None:
    """A final transcript that lands between the interruption and `interrupt_done` (a slow stop)
    is kept and commits at endpointing: the turn is not discarded for want of words."""
    h.caller_turn("Hi Dana.")
    h.machine.on_speech_started()
    h.clock.advance(0.7)
    assert h.state == "interrupted"
    h.machine.on_speech_ended()
    h.machine.on_transcript("This is Jordan from Northwind.")
    assert h.state == "interrupted"
    h.machine.on_interrupt_done()
    h.predicted(FINISHED)
    h.clock.advance(FINISHED_S)
    assert h.state == "thinking"
    assert h.commands.count(Command.COMMIT_TURN) == 2
    h.clock.advance(5.0)
    assert Command.DISCARD_TURN not in h.commands
    assert h.dismissed == []
