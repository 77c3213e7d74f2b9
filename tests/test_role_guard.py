"""A live reply stays in its persona's role: a later sentence that sounds like a seller or an
assistant is left out and the reply ends there; the first sentence is said as it streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit.agents import llm

from quality.roles import sounds_like
from realtime.persona import Persona
from realtime.role_guard import RoleGuard, in_role

BUYER = sounds_like(["seller", "assistant"])


def _said(pieces: list[str]) -> str:
    guard = RoleGuard(BUYER)
    return "".join(guard.push(piece) for piece in pieces) + guard.flush()


def test_a_later_sentence_out_of_role_is_left_out_and_the_reply_ends() -> None:
    """As heard in a priya_us call: the greeting back is said, the assistant's question is not,
    nor anything after it."""
    pieces = ["Morning", " Priya.", " How can", " I help", " you today?", " We run", " trucks."]
    assert _said(pieces) == "Morning Priya."
    assert _said(["Fine. ", "We could offer you a free trial."]) == "Fine."


def test_a_reply_in_role_is_said_whole_and_the_first_sentence_streams() -> None:
    """A buyer's reply passes unchanged; its first sentence is passed on piece by piece (its audio
    starts on the first words), a later one when it ends; a first sentence is said whatever it is."""
    guard = RoleGuard(BUYER)
    assert guard.push("Spreadsheets") == "Spreadsheets"
    assert guard.push(", mostly. Three") == ", mostly."
    assert guard.push(" dispatchers.") == " Three dispatchers."
    assert guard.flush() == ""
    assert _said(["A demo next Tuesday works. ", "Send me the invite"]) == (
        "A demo next Tuesday works. Send me the invite"
    )
    assert _said(["How can I help you?"]) == "How can I help you?"


async def test_the_llm_nodes_text_is_guarded_and_its_stream_closed() -> None:
    """Through `in_role`, as `StageAgent.llm_node` uses it: text chunks and strings are guarded,
    and the LLM's stream is closed when the reply ends early."""
    closed: list[bool] = []

    async def node() -> AsyncIterator[llm.ChatChunk | str]:
        try:
            yield llm.ChatChunk(id="r", delta=llm.ChoiceDelta(role="assistant", content="Morning Priya. "))
            yield "How can I help you today? "
            yield "Anything else?"
        finally:
            closed.append(True)

    out = [chunk async for chunk in in_role(node(), BUYER)]
    text = ""
    for chunk in out:
        if isinstance(chunk, str):
            text += chunk
        elif isinstance(chunk, llm.ChatChunk) and chunk.delta is not None:
            text += chunk.delta.content or ""
    assert text == "Morning Priya." and closed == [True]


def test_a_chart_names_only_kinds_the_code_knows() -> None:
    """An unknown kind is refused naming the known ones; a chart without the setting has none."""
    with pytest.raises(
        ValueError, match="never_sounds_like: unknown kind salesman: known are seller, assistant"
    ):
        Persona.from_settings({"never_sounds_like": ["salesman"]})
    assert Persona.from_settings({}).never_sounds_like == ()
    assert Persona.from_settings({"never_sounds_like": ["seller"]}).never_sounds_like == ("seller",)
