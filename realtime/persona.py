"""How a conversation chart's persona is put to the LLM: an earlier call it has seen, and each
caller turn framed with who speaks and who answers.

A small instruction-tuned model falls back to assistant talk ("How can I help you today?") and
copies the caller's words unless the prompt keeps telling it whose line comes next. Measured on
the sales persona with Qwen2.5 1.5B (docs/benchmarks.md): examples set out as chat turns, the
caller's lines labelled, and a one-line reminder with each of them, kept the buyer in character
where instructions alone did not. All of it is per request: the call's own chat, and so its
events and transcript, hold the caller's words alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from livekit.agents import llm

from quality.roles import KINDS, sounds_like

__all__ = ["EARLIER_CALL_ENDS", "Persona"]

EARLIER_CALL_ENDS = "(That was an earlier call. A new call starts now; you pick up the phone.)"
_MARKER_ID = "persona_earlier_call_ends"


@dataclass(frozen=True)
class Persona:
    """A conversation chart's `settings` on how its persona speaks; every part is optional."""

    caller_label: str | None = None
    reply_reminder: str | None = None
    example_replies: tuple[tuple[str, str], ...] = ()
    """(caller, agent) line pairs of an earlier call."""
    never_sounds_like: tuple[str, ...] = ()
    """Kinds of `quality.roles.KINDS` a reply's later sentences may not sound like."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> Persona:
        examples = settings.get("example_replies") or []
        if not isinstance(examples, list):
            raise ValueError("settings.example_replies must be a list of {caller, agent}")
        pairs = tuple((str(e["caller"]), str(e["agent"])) for e in examples)
        label, reminder = settings.get("caller_label"), settings.get("reply_reminder")
        never = settings.get("never_sounds_like") or []
        if not isinstance(never, list):
            raise ValueError(f"settings.never_sounds_like must be a list of {', '.join(KINDS)}")
        try:
            sounds_like(str(kind) for kind in never)
        except ValueError as error:
            raise ValueError(f"settings.never_sounds_like: {error}") from None
        return cls(
            caller_label=str(label) if label else None,
            reply_reminder=str(reminder) if reminder else None,
            example_replies=pairs,
            never_sounds_like=tuple(str(kind) for kind in never),
        )

    def earlier_call(self) -> llm.ChatContext:
        """The chat a call starts from: the example call's turns, then the line that ends it."""
        chat = llm.ChatContext.empty()
        for caller, agent in self.example_replies:
            chat.add_message(role="user", content=caller)
            chat.add_message(role="assistant", content=agent)
        if self.example_replies:
            chat.add_message(role="user", content=EARLIER_CALL_ENDS, id=_MARKER_ID)
        return chat

    def framed(self, chat: llm.ChatContext) -> llm.ChatContext:
        """`chat` with every caller line labelled with who speaks, after a system line reminding who
        answers; and when the agent spoke last, the reminder for the caller's next line (items
        copied, not changed).

        Every line gets the same frame, not only the last: the prompt then grows only at its end,
        and the model's cache keeps all of it but the newest turn. The reminder comes before the
        caller's words, so a local model evaluates it (with the reply before it) while the caller
        listens and speaks: once the words are in, only they are left to evaluate.
        """
        if self.caller_label is None and self.reply_reminder is None:
            return chat
        items: list[llm.ChatItem] = []
        for item in chat.items:
            if item.type == "message" and item.role == "user" and item.id != _MARKER_ID:
                items.extend(self._reminder())
                if self.caller_label:
                    text = f"{self.caller_label}: {item.text_content or ''}"
                    item = item.model_copy(update={"content": [text]})
            items.append(item)
        if items and items[-1].type == "message" and items[-1].role in ("assistant", "system"):
            items.extend(self._reminder())
        return llm.ChatContext(items)

    def _reminder(self) -> list[llm.ChatItem]:
        if not self.reply_reminder:
            return []
        return [llm.ChatMessage(role="system", content=[self.reply_reminder])]
