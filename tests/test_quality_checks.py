"""The checks on what a call said, on small fixed transcripts: issue 13's bad replies are caught,
in-character buyer replies pass."""

from __future__ import annotations

import pytest

from quality.checks import (
    AgentTurn,
    CallerTurn,
    Kind,
    Turn,
    answered_once,
    caller_wer,
    check_call,
    echoes,
    identifiers_spoken,
    missing_sentences,
    repeated_replies,
    run_together,
    selling,
    stray_words,
)
from quality.text import join_compounds, number_words, words

GREETING = AgentTurn("Northwind Freight, this is Dana.")
# Issue 13's reply in other voices: the rep's question said back, then words run together and stray.
ISSUE_REPLY = (
    "How are you planning the routes today?dollars Addressing a customer's pain is important. webpages"
)
IDENTIFIERS = {"rep_stated_purpose", "rep_pitched", "next_step_agreed", "end_call", "rep_lost_interest"}
NAMES = {"dana", "reyes", "northwind", "freight"}
# In-character replies of a sceptical buyer, to rep turns that fit them.
GOOD_CALL: list[Turn] = [
    GREETING,
    CallerTurn(
        ("Hi Dana,", "this is Sam from Routewise. Do you have two minutes?"),
        "Hi Dana, this is Sam from Routewise. Do you have two minutes?",
    ),
    AgentTurn("Two minutes, maybe. What's this about?"),
    CallerTurn(
        ("How do your drivers plan their routes today?",), "How do your drivers plan their routes today?"
    ),
    AgentTurn("Dispatch builds them in spreadsheets every morning. It works, mostly."),
    CallerTurn(("How much time do they lose on a bad day?",), "How much time do they lose on a bad day?"),
    AgentTurn("A couple of hours, some days. Fuel is up 18% too."),
    CallerTurn(
        ("Could we set up a demo with your dispatch lead next Tuesday?",),
        "Could we set up a demo with your dispatch lead next Tuesday?",
    ),
    AgentTurn("Tuesday at ten works. Send me an invite."),
]


def _reply(text: str, caller: str = "How are you planning the routes today?") -> list[Turn]:
    return [GREETING, CallerTurn((caller,), caller), AgentTurn(text)]


def test_words_are_compared_without_case_punctuation_or_digits() -> None:
    """ "$400", "18%" and "140" compare equal to the words a speaker says for them."""
    assert words("Fuel rose 18%, about $400.") == words(
        "fuel rose eighteen percent about four hundred dollars"
    )
    assert words("a hundred and forty trucks") == words("140 trucks") == ["one", "hundred", "forty", "trucks"]
    assert number_words(1_250_007) == ["one", "million", "two", "hundred", "fifty", "thousand", "seven"]
    assert words("OK, it's 2.5") == ["okay", "it's", "two", "point", "five"]


def test_a_name_split_by_the_transcriber_is_one_word() -> None:
    """ "route wise" heard for "Routewise" is a spelling, not a lost word; real words stay apart."""
    said = words("this is Sam from Routewise")
    assert join_compounds(words("this is sam from route wise"), said) == said
    assert join_compounds(words("the route is wise"), words("the routewise")) == [
        "the",
        "route",
        "is",
        "wise",
    ]


def test_caller_wer_counts_edits_over_the_whole_call() -> None:
    """WER is the edits summed over the caller's turns over the script's words."""
    turns: list[Turn] = [
        CallerTurn(("Hi Dana, this is Sam.",), "hi dana this is sam"),
        CallerTurn(("Do you have two minutes?",), "do you have to minutes"),
    ]
    assert caller_wer(turns) == pytest.approx(1 / 10)
    assert caller_wer(GOOD_CALL) == 0.0


def test_words_lost_after_a_pause_are_a_missing_sentence() -> None:
    """Issue 13's lost words: only "Hi Dana" arrived of a turn with a pause after it."""
    turns: list[Turn] = [
        CallerTurn(("Hi Dana,", "this is Sam from Routewise… do you have two minutes?"), "Hi Dana."),
    ]
    found = missing_sentences(turns)
    assert [f.detail for f in found] == ["this is Sam from Routewise… do you have two minutes?"]
    assert caller_wer(turns) > 0.75
    assert not missing_sentences(GOOD_CALL)


def test_a_few_misheard_words_are_not_a_missing_sentence() -> None:
    """A sentence with most of its words heard (a name misheard) is there."""
    turns: list[Turn] = [
        CallerTurn(
            ("Hello Dana, it's Oliver from Routewise.", "Is now a bad time?"),
            "Hello, it's Oliver from root wise, is now our bad time?",
        )
    ]
    assert not missing_sentences(turns)


def test_a_misheard_sentence_is_not_a_missing_one() -> None:
    """Whisper heard the RP caller's "Is now a bad time?" as "It's our bad time.": four words in
    place of five, two of them wrong. The words arrived (WER counts them); nothing was lost."""
    turns: list[Turn] = [
        CallerTurn(
            ("Hello Dana, it's Oliver from Routewise.", "Is now a bad time?"),
            "Hello Dana, it's Oliver from Routewise. It's our bad time.",
        )
    ]
    assert not missing_sentences(turns)
    assert caller_wer(turns) == pytest.approx(3 / 11)


def test_each_turn_answered_once() -> None:
    """Issue 13's lost turn (the watchdog dropped it: no reply) and a turn with two replies are
    found; greeting first and one reply a turn is right."""
    unanswered: list[Turn] = [
        GREETING,
        CallerTurn(("Hi Dana,", "this is Sam."), "Hi Dana."),
        CallerTurn(("How do you plan routes?",), "How do you plan routes?"),
        AgentTurn("Spreadsheets."),
    ]
    assert [(f.kind, f.turn) for f in answered_once(unanswered)] == [(Kind.UNANSWERED, 1)]
    twice = [*_reply("Yeah, right."), AgentTurn("Yeah,")]
    assert [f.kind for f in answered_once(twice)] == [Kind.ANSWERED_TWICE]
    assert not answered_once(GOOD_CALL)


def test_a_reply_that_says_the_callers_question_back_is_an_echo() -> None:
    """A reply half or more of whose trigrams are the rep's last words is an echo. Issue 13's
    "How are you planning the routes today?dollars Addressing …" has 5 of its 12 trigrams from the
    question, under half: it is caught as words run together and a stray word instead."""
    assert [f.kind for f in echoes(_reply("How are you planning the routes today? Why?"))] == [Kind.ECHO]
    assert [f.kind for f in echoes(_reply("How are you planning the routes today?"))] == [Kind.ECHO]
    issue = _reply(
        "How are you planning the routes today?dollars Addressing a customer's pain is important. webpages"
    )
    assert not echoes(issue)
    assert run_together(issue) and stray_words(issue, NAMES)
    assert not echoes(_reply("We plan them the night before, in spreadsheets. Why?"))
    assert not echoes(GOOD_CALL)


def test_words_run_together_are_found() -> None:
    """ "today?dollars" and CamelCase are found; abbreviations, decimals and names like McKay pass."""
    bad = _reply("How are you planning the routes today?dollars Addressing a customer's pain is important.")
    assert [f.detail for f in run_together(bad)] == ["today?dollars"]
    assert [f.detail for f in run_together(_reply("Our RouteWise account is fine."))] == ["RouteWise"]
    assert not run_together(_reply("Talk to Jim McKay, e.g. on Monday. It's 2.5 hours, i.e. too long."))
    assert not run_together(GOOD_CALL)


def test_tokens_that_are_not_english_are_stray() -> None:
    """Issue 13's stray "webpages" and invented tokens are found; the buyer's names, the caller's
    words (Routewise), numbers and contractions pass."""
    bad = _reply("Addressing a customer's pain is important. webpages")
    assert [f.detail for f in stray_words(bad, NAMES)] == ["webpages"]
    assert [f.detail for f in stray_words(_reply("Yeah, Hidena. Qxzv."), NAMES)] == ["Hidena", "Qxzv"]
    fine = _reply("Dana Reyes, Northwind Freight. We don't use Routewise; 140 trucks.", "I'm with Routewise.")
    assert not stray_words(fine, NAMES)
    assert not stray_words(GOOD_CALL, NAMES)


def test_identifiers_and_tool_names_spoken_are_found() -> None:
    """Issue 13's "Rep_stated_purpose: …" is found, as is a chart event read out as words; plain
    speech that contains "end" and "call" passes."""
    bad = _reply("Rep_stated_purpose: You're talking to the driver on this call.")
    assert [f.detail for f in identifiers_spoken(bad, IDENTIFIERS)] == ["Rep_stated_purpose"]
    spelled = _reply("Okay. Next step agreed. Goodbye.")
    assert [f.detail for f in identifiers_spoken(spelled, IDENTIFIERS)] == ["Next step agreed"]
    assert [f.detail for f in identifiers_spoken(_reply("Calling end_call now."), IDENTIFIERS)] == [
        "end_call"
    ]
    assert not identifiers_spoken(_reply("Let's end this call, I have a meeting."), IDENTIFIERS)
    assert not identifiers_spoken(GOOD_CALL, IDENTIFIERS)


def test_a_reply_said_again_is_a_repeat() -> None:
    """Issue 13's "Yeah, right." to two different turns is a repeat, as is a near-identical long
    reply; different replies pass."""
    same: list[Turn] = [
        *_reply("Yeah, right."),
        CallerTurn(("Tell me about dispatch.",), "Tell me about dispatch."),
        AgentTurn("Yeah, right."),
    ]
    assert [(f.kind, f.turn) for f in repeated_replies(same)] == [(Kind.REPEATED, 4)]
    near: list[Turn] = [
        *_reply("We use spreadsheets for dispatch every single morning."),
        CallerTurn(("And the drivers?",), "And the drivers?"),
        AgentTurn("We use spreadsheets for dispatch every morning."),
    ]
    assert [f.turn for f in repeated_replies(near)] == [4]
    assert not repeated_replies(GOOD_CALL)


@pytest.mark.parametrize(
    "reply",
    [
        "Our platform plans your routes automatically.",
        "I'd be happy to show you a demo of how it works.",
        "Would you like to schedule a demo?",
        "How can I help you today?",
        "Is there anything else I can help you with?",
        "I'm sorry, but I can't assist with that.",
        "We offer a free trial for thirty days.",
    ],
)
def test_the_buyer_acting_as_the_seller_is_found(reply: str) -> None:
    """Pitching, offering a demo and assistant talk are selling (a phrase-list heuristic)."""
    assert {f.kind for f in selling(_reply(reply))} == {Kind.SELLING}


@pytest.mark.parametrize(
    "reply",
    [
        "A demo next Tuesday works. Send me an invite.",
        "What does your platform cost?",
        "We tried a routing tool last year and the drivers hated it.",
        "I'm not sure we need anything. What's this about?",
    ],
)
def test_a_buyer_talking_about_a_demo_or_a_product_is_not_selling(reply: str) -> None:
    """Accepting a demo, asking about the seller's product or describing her own tools is the buyer."""
    assert not selling(_reply(reply))


def test_check_call_runs_every_check_and_a_good_call_passes() -> None:
    """A call in character has WER 0 and no findings; issue 13's bad call has one of each kind it shows."""
    good = check_call(GOOD_CALL, identifiers=IDENTIFIERS, known=NAMES)
    assert good.caller_wer == 0.0 and good.findings == ()
    bad: list[Turn] = [
        GREETING,
        CallerTurn(("How are you planning the routes today?",), "How are you planning the routes today?"),
        AgentTurn(ISSUE_REPLY),
        CallerTurn(("Why are you calling the driver?",), "Why are you calling the driver?"),
        AgentTurn("Rep_stated_purpose: You're talking to the driver on this call."),
        CallerTurn(("Tell me about dispatch.",), "Tell me about dispatch."),
        AgentTurn("Rep_stated_purpose: You're talking to the driver on this call."),
        CallerTurn(("Do you have a few minutes?",), "Do you have a few minutes?"),
        AgentTurn("Do you have a few minutes?"),
    ]
    kinds = {f.kind for f in check_call(bad, identifiers=IDENTIFIERS, known=NAMES).findings}
    assert kinds == {Kind.ECHO, Kind.RUN_TOGETHER, Kind.STRAY_WORD, Kind.IDENTIFIER, Kind.REPEATED}
