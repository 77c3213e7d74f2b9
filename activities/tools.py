"""The agent's tools that touch data, as activities its call's workflow runs.

Each acts on the call and caller its workflow names (`ToolActivityInput`): the LLM chooses the
tool and its schema-checked arguments, never whose record or meeting it touches. Answers are text
for the LLM to speak from; ids it must pass back (a slot) are marked as not for the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from activities.crm import CrmAdapter
from db.calendar import PostgresCalendar, Slot
from rapport.logs import get_logger
from workflows.records import NOTE_MAX_CHARS, ToolActivityInput, ToolResult

__all__ = ["PROPOSED_SLOTS", "ToolActivities"]

log = get_logger(__name__)

PROPOSED_SLOTS = 3
# Enough candidates to reach a third distinct day: a day has about two dozen slots.
_CANDIDATES = 120

NO_RECORD = "The CRM has no record of this caller. Ask for their name and company instead."


def _spread(slots: list[Slot], count: int) -> list[Slot]:
    """The earliest slot of each of the first `count` days: choices a caller can tell apart."""
    chosen: dict[object, Slot] = {}
    for slot in slots:
        chosen.setdefault(slot.local.date(), slot)
        if len(chosen) == count:
            break
    return list(chosen.values())


def _offer(slots: list[Slot]) -> str:
    if not slots:
        return (
            "The account executives have no free time in the next two weeks. "
            "Offer to have one of them email the caller."
        )
    listed = "; ".join(f"{slot.spoken()} (id {slot.slot_id})" for slot in slots)
    return (
        f"Free {slots[0].minutes}-minute slots: {listed}. Offer them in words, never the ids; "
        "to book the one the caller picks, call book_meeting with its id."
    )


class ToolActivities:
    def __init__(self, crm: CrmAdapter, calendar: PostgresCalendar) -> None:
        self._crm = crm
        self._calendar = calendar

    @activity.defn(name="tool_crm_lookup")
    async def crm_lookup(self, request: ToolActivityInput) -> ToolResult:
        context = await self._crm.lookup(request.caller_number) if request.caller_number else None
        # Whether there was a record, never the record or the number.
        log.info("tool.crm_lookup", call_id=request.call_id, found=context is not None)
        if context is None:
            return ToolResult("no_record", NO_RECORD)
        return ToolResult("ok", context.as_prompt())

    @activity.defn(name="tool_crm_note")
    async def crm_note(self, request: ToolActivityInput) -> ToolResult:
        note = str(request.arguments.get("text", "")).strip()
        # The call checked the schema; the store still refuses what it was not built for.
        if not note or len(note) > NOTE_MAX_CHARS:
            return ToolResult("invalid", f"A note is 1 to {NOTE_MAX_CHARS} characters. Nothing was saved.")
        saved = request.caller_number is not None and await self._crm.add_note(
            request.caller_number, note, key=request.request_key
        )
        log.info("tool.crm_note", call_id=request.call_id, saved=saved, chars=len(note))
        if not saved:
            return ToolResult("no_record", "The CRM has no record of this caller, so the note was not saved.")
        return ToolResult("ok", "The note is saved on the caller's CRM record.")

    @activity.defn(name="tool_propose_meeting_slots")
    async def propose_meeting_slots(self, request: ToolActivityInput) -> ToolResult:
        slots = await self._proposal(datetime.now(UTC))
        log.info("tool.propose_meeting_slots", call_id=request.call_id, slots=len(slots))
        return ToolResult("ok", _offer(slots), offered=[slot.slot_id for slot in slots])

    @activity.defn(name="tool_book_meeting")
    async def book_meeting(self, request: ToolActivityInput) -> ToolResult:
        now = datetime.now(UTC)
        wanted = str(request.arguments.get("slot", ""))
        if wanted not in request.offered:
            # Only what this call offered: not any free time a model (or a caller) names.
            log.info("tool.book_meeting", call_id=request.call_id, status="not_offered")
            return await self._refused("That slot was not offered in this call, so nothing was booked.", now)
        booking = await self._calendar.book(
            wanted,
            now=now,
            call_id=request.call_id,
            caller_number=request.caller_number,
            request_key=request.request_key,
        )
        log.info("tool.book_meeting", call_id=request.call_id, status=booking.status)
        slot = booking.slot
        if booking.status == "booked" and slot is not None:
            return ToolResult("ok", f"Booked for the caller: {slot.spoken()}. Repeat the time to them.")
        if booking.status == "already_yours" and slot is not None:
            return ToolResult("ok", f"This caller already has that meeting: {slot.spoken()}.")
        if booking.status == "call_has_one":
            return ToolResult(
                "invalid", "This call has booked its one meeting already; nothing more was booked."
            )
        if booking.status == "taken" and slot is not None:
            return await self._refused(f"{slot.spoken()} has just been taken by someone else.", now, "taken")
        return await self._refused("That is not a free slot, so nothing was booked.", now)

    async def _proposal(self, now: datetime) -> list[Slot]:
        return _spread(await self._calendar.free_slots(now, _CANDIDATES), PROPOSED_SLOTS)

    async def _refused(self, why: str, now: datetime, status: str = "invalid") -> ToolResult:
        """A booking refused with `why`, and other slots offered in its place."""
        others = await self._proposal(now)
        return ToolResult(status, f"{why} {_offer(others)}", offered=[slot.slot_id for slot in others])
