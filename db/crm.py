"""The built-in CRM in PostgreSQL: a caller's contact, account and latest notes, by phone number;
and notes the agent takes during a call."""

from __future__ import annotations

import asyncpg

from workflows.records import NOTES_IN_PROMPT, CrmContext

__all__ = ["PostgresCrm"]


class PostgresCrm:
    """A `CrmAdapter` over the `crm_*` tables, sharing the worker's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def lookup(self, phone: str) -> CrmContext | None:
        row = await self._pool.fetchrow(
            """
            SELECT c.name, c.title, a.name AS account, a.industry, a.employees,
                   ARRAY(SELECT n.note FROM crm_notes n WHERE n.contact_id = c.contact_id
                         ORDER BY n.noted_on DESC, n.noted_at DESC LIMIT $2) AS notes
            FROM crm_contacts c JOIN crm_accounts a USING (account_id)
            WHERE c.phone = $1
            """,
            phone,
            NOTES_IN_PROMPT,
        )
        if row is None:
            return None
        return CrmContext(
            contact=row["name"],
            title=row["title"],
            account=row["account"],
            industry=row["industry"],
            employees=row["employees"],
            notes=list(row["notes"]),
        )

    async def add_note(self, phone: str, note: str, *, key: str) -> bool:
        """Add `note` to the contact with this number; False if there is none.

        `key` identifies the request: the same key twice adds the note once (a retried activity).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            contact = await conn.fetchval("SELECT contact_id FROM crm_contacts WHERE phone = $1", phone)
            if contact is None:
                return False
            await conn.execute(
                """
                INSERT INTO crm_notes (contact_id, noted_on, note, source_key)
                VALUES ($1, current_date, $2, $3)
                ON CONFLICT (source_key) DO NOTHING
                """,
                contact,
                note,
                key,
            )
        return True
