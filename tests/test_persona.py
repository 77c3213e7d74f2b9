"""A chart's persona settings: an earlier call as chat turns, caller lines framed per request."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from realtime.persona import EARLIER_CALL_ENDS, Persona

PERSONA = Persona.from_settings(
    {
        "caller_label": "Rep",
        "reply_reminder": "Answer as Dana.",
        "example_replies": [{"caller": "Hi, is this Dana?", "agent": "Speaking. Who's calling?"}],
    }
)


def _texts(chat: llm.ChatContext) -> list[tuple[str, str]]:
    return [(m.role, m.text_content or "") for m in chat.items if isinstance(m, llm.ChatMessage)]


def test_a_call_starts_from_the_example_call_and_the_line_that_ends_it() -> None:
    """The examples are real chat turns, then a line saying a new call starts."""
    assert _texts(PERSONA.earlier_call()) == [
        ("user", "Hi, is this Dana?"),
        ("assistant", "Speaking. Who's calling?"),
        ("user", EARLIER_CALL_ENDS),
    ]


def test_every_caller_line_is_labelled_and_reminded_but_the_chat_itself_is_untouched() -> None:
    """Each caller line (examples too, never the end-of-example line) gets the label, after a
    system line with the reminder, in the copy the LLM reads; the call's own chat keeps the
    caller's words alone."""
    chat = PERSONA.earlier_call()
    chat.add_message(role="assistant", content="Northwind Freight, this is Dana.")
    chat.add_message(role="user", content="This is Sam from Routewise.")
    framed = PERSONA.framed(chat)
    assert _texts(framed) == [
        ("system", "Answer as Dana."),
        ("user", "Rep: Hi, is this Dana?"),
        ("assistant", "Speaking. Who's calling?"),
        ("user", EARLIER_CALL_ENDS),
        ("assistant", "Northwind Freight, this is Dana."),
        ("system", "Answer as Dana."),
        ("user", "Rep: This is Sam from Routewise."),
    ]
    assert _texts(chat)[-1] == ("user", "This is Sam from Routewise.")


def test_after_the_agents_line_the_reminder_for_the_next_caller_line_ends_the_chat() -> None:
    """Once the agent has spoken, the framed chat ends with the reminder the caller's next line
    will follow: what a local model can evaluate before the caller's words are known."""
    chat = PERSONA.earlier_call()
    chat.add_message(role="assistant", content="Northwind Freight, this is Dana.")
    after_reply = _texts(PERSONA.framed(chat))
    chat.add_message(role="user", content="This is Sam from Routewise.")
    assert after_reply[-1] == ("system", "Answer as Dana.")
    assert _texts(PERSONA.framed(chat))[: len(after_reply)] == after_reply


def test_a_chart_without_persona_settings_sends_the_chat_as_it_is() -> None:
    """No label, reminder or examples: no earlier call, and the chat goes to the LLM unchanged."""
    persona = Persona.from_settings({"role": "Be helpful."})
    chat = llm.ChatContext.empty()
    chat.add_message(role="user", content="Hello?")
    assert persona.earlier_call().items == []
    assert persona.framed(chat) is chat


def test_examples_that_are_not_a_list_are_refused() -> None:
    """A mapping where a list of {caller, agent} belongs is a clear error, not a silent skip."""
    with pytest.raises(ValueError, match="example_replies must be a list"):
        Persona.from_settings({"example_replies": {"caller": "Hi"}})
