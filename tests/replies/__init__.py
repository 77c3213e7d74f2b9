"""Buyer replies with hand labels (`labelled.yaml`): a rep's line, the buyer's reply, and whether
the reply responds to the rep and stays in character as Dana, the sceptical buyer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from quality.checks import AgentTurn, CallerTurn, Turn

__all__ = ["HELD_OUT", "LABELLED", "LabelledReply", "load_replies"]

LABELLED = Path(__file__).resolve().parent / "labelled.yaml"
"""The replies the reply judge's thresholds were fitted on."""
HELD_OUT = LABELLED.with_name("held_out.yaml")
"""Replies labelled before the judge saw them: what it does on replies it was not tuned on."""


@dataclass(frozen=True)
class LabelledReply:
    rep: str
    buyer: str
    relevant: bool
    in_character: bool
    note: str
    before: str | None = None
    """The buyer's line before the rep's, when the rep's line answers it."""

    def turns(self) -> list[Turn]:
        """The exchange as a call's turns, the buyer's reply last."""
        rep = CallerTurn(said=(self.rep,), heard=self.rep)
        earlier = [AgentTurn(self.before)] if self.before else []
        return [*earlier, rep, AgentTurn(self.buyer)]


def load_replies(path: Path = LABELLED) -> list[LabelledReply]:
    """Every item of `path`; each labels both questions true or false and says why."""
    replies = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
        if not (
            isinstance(item["relevant"], bool) and isinstance(item["in_character"], bool) and item["note"]
        ):
            raise ValueError(
                f"{path}: {item['buyer']!r} needs relevant and in_character true/false and a note"
            )
        replies.append(LabelledReply(**item))
    return replies
