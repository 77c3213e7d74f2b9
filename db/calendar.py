"""The account executives' calendar in PostgreSQL: free slots, and booking one for a call's caller.

Slots are not rows: they are computed from each rep's weekly hours (`calendar_hours`, in the rep's
time zone) over the next days, minus the meetings booked. A meeting is unique per rep and start
time, so two calls can never book the same slot, however close together they try.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg

from workflows.records import SLOT_ID_PATTERN

__all__ = ["Booking", "PostgresCalendar", "Slot", "parse_slot_id"]

# Every candidate slot of the horizon, booked or not. $1 now, $2 days ahead, $3 the least notice.
_CANDIDATES = """
SELECT r.rep_id, r.name, r.zone_name, h.slot_minutes AS minutes, s.starts_at,
       s.starts_at AT TIME ZONE r.timezone AS local,
       EXISTS (SELECT 1 FROM calendar_meetings m
               WHERE m.rep_id = r.rep_id AND m.starts_at = s.starts_at) AS booked
FROM calendar_reps r
JOIN calendar_hours h USING (rep_id)
CROSS JOIN LATERAL generate_series(0, $2::int) AS ahead(days)
CROSS JOIN LATERAL (SELECT ($1::timestamptz AT TIME ZONE r.timezone)::date + ahead.days AS day) AS d
CROSS JOIN LATERAL generate_series(
    (d.day + h.opens) AT TIME ZONE r.timezone,
    (d.day + h.closes - make_interval(mins => h.slot_minutes)) AT TIME ZONE r.timezone,
    make_interval(mins => h.slot_minutes)
) AS s(starts_at)
WHERE extract(isodow FROM d.day) = h.weekday
  AND s.starts_at >= $1::timestamptz + $3::interval
"""


def parse_slot_id(slot_id: str) -> tuple[str, datetime] | None:
    """`maya@2026-11-10T15:00Z` → ("maya", 2026-11-10 15:00 UTC); None if it is not of that form."""
    if re.fullmatch(SLOT_ID_PATTERN, slot_id) is None:
        return None
    rep_id, starts = slot_id.split("@")
    try:
        return rep_id, datetime.strptime(starts, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    except ValueError:  # well formed, but no such day or hour (2026-02-30T25:00)
        return None


@dataclass(frozen=True)
class Slot:
    rep_id: str
    rep: str
    starts_at: datetime
    local: datetime
    """The start on the rep's wall clock (naive), which is how the agent says it."""
    zone_name: str
    minutes: int

    @property
    def slot_id(self) -> str:
        return f"{self.rep_id}@{self.starts_at.astimezone(UTC):%Y-%m-%dT%H:%M}Z"

    def spoken(self) -> str:
        """`Tuesday, November 10 at 10 AM Eastern with Maya Chen`: words a caller can follow."""
        hour = self.local.hour % 12 or 12
        minute = f":{self.local.minute:02d}" if self.local.minute else ""
        half = "AM" if self.local.hour < 12 else "PM"
        day = f"{self.local:%A, %B} {self.local.day}"
        return f"{day} at {hour}{minute} {half} {self.zone_name} with {self.rep}"


def _slot(row: asyncpg.Record) -> Slot:
    return Slot(
        rep_id=row["rep_id"],
        rep=row["name"],
        starts_at=row["starts_at"],
        local=row["local"],
        zone_name=row["zone_name"],
        minutes=row["minutes"],
    )


@dataclass(frozen=True)
class Booking:
    """`booked` (now, or by an earlier attempt of the same request), `already_yours` (this call
    booked the slot before), `call_has_one` (this call booked another slot: one meeting per call),
    `taken` (another call has it) or `not_a_slot` (no such free time)."""

    status: Literal["booked", "already_yours", "call_has_one", "taken", "not_a_slot"]
    slot: Slot | None


class PostgresCalendar:
    """Free slots and bookings over the `calendar_*` tables, sharing the worker's pool."""

    def __init__(
        self, pool: asyncpg.Pool, *, horizon_days: int = 14, notice: timedelta = timedelta(hours=2)
    ) -> None:
        self._pool = pool
        self._horizon_days = horizon_days
        self._notice = notice

    async def free_slots(self, now: datetime, limit: int) -> list[Slot]:
        """The earliest free slots from `now` on (with the least notice), soonest first."""
        rows = await self._pool.fetch(
            f"SELECT * FROM ({_CANDIDATES}) AS c WHERE NOT c.booked ORDER BY c.starts_at, c.rep_id LIMIT $4",
            now,
            self._horizon_days,
            self._notice,
            limit,
        )
        return [_slot(row) for row in rows]

    async def book(
        self, slot_id: str, *, now: datetime, call_id: str, caller_number: str | None, request_key: str
    ) -> Booking:
        """Book `slot_id` for the call's caller; `request_key` makes a retried request a no-op."""
        parsed = parse_slot_id(slot_id)
        if parsed is None:
            return Booking("not_a_slot", None)
        rep_id, starts_at = parsed
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT * FROM ({_CANDIDATES}) AS c WHERE c.rep_id = $4 AND c.starts_at = $5",
                now,
                self._horizon_days,
                self._notice,
                rep_id,
                starts_at,
            )
            if row is None:
                return Booking("not_a_slot", None)
            slot = _slot(row)
            # One meeting per call: a caller (or a model) asking for every slot gets the first.
            other = await conn.fetchval(
                "SELECT 1 FROM calendar_meetings WHERE call_id = $1 AND (rep_id, starts_at) <> ($2, $3)",
                call_id,
                rep_id,
                starts_at,
            )
            if other is not None:
                return Booking("call_has_one", slot)
            booked = await conn.fetchval(
                """
                INSERT INTO calendar_meetings
                    (rep_id, starts_at, minutes, call_id, caller_number, contact_id, request_key)
                VALUES ($1, $2, $3, $4, $5, (SELECT contact_id FROM crm_contacts WHERE phone = $5), $6)
                ON CONFLICT DO NOTHING
                RETURNING meeting_id
                """,
                rep_id,
                starts_at,
                slot.minutes,
                call_id,
                caller_number,
                request_key,
            )
            if booked is not None:
                return Booking("booked", slot)
            holder = await conn.fetchrow(
                "SELECT call_id, request_key FROM calendar_meetings WHERE rep_id = $1 AND starts_at = $2",
                rep_id,
                starts_at,
            )
        if holder is not None and holder["request_key"] == request_key:
            return Booking("booked", slot)
        if holder is not None and holder["call_id"] == call_id:
            return Booking("already_yours", slot)
        return Booking("taken", slot)
