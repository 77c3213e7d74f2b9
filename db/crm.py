"""The built-in CRM in PostgreSQL: a caller's contact, account and latest notes, by phone number."""

from __future__ import annotations

import asyncpg

from workflows.records import CrmContext

__all__ = ["NOTES_PER_LOOKUP", "PostgresCrm"]

NOTES_PER_LOOKUP = 3


class PostgresCrm:
    """A `CrmAdapter` over the `crm_*` tables, sharing the worker's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def lookup(self, phone: str) -> CrmContext | None:
        row = await self._pool.fetchrow(
            """
            SELECT c.name, c.title, a.name AS account, a.industry, a.employees,
                   ARRAY(SELECT n.note FROM crm_notes n WHERE n.contact_id = c.contact_id
                         ORDER BY n.noted_on DESC LIMIT $2) AS notes
            FROM crm_contacts c JOIN crm_accounts a USING (account_id)
            WHERE c.phone = $1
            """,
            phone,
            NOTES_PER_LOOKUP,
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
