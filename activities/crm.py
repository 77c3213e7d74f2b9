"""The CRM lookup at the start of a call, behind an adapter any CRM can implement.

The built-in adapter reads PostgreSQL (`db.crm.PostgresCrm`); `HttpCrm` asks a CRM over HTTP.
The activity runs in the worker, never on the call's audio loop: the agent starts talking
without it, and the context joins the LLM's when it arrives.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp
from temporalio import activity
from temporalio.exceptions import ApplicationError

from rapport.logs import get_logger
from workflows.records import CrmContext, CrmLookup, CrmLookupInput

__all__ = ["CrmActivities", "CrmAdapter", "CrmUnavailable", "HttpCrm"]

log = get_logger(__name__)


class CrmUnavailable(RuntimeError):
    """The CRM did not answer usefully; the activity retries, then the call goes on without it."""


class CrmAdapter(Protocol):
    async def lookup(self, phone: str) -> CrmContext | None:
        """The caller's record by E.164 number, or None when the CRM has no such contact."""
        ...

    async def add_note(self, phone: str, note: str, *, key: str) -> bool:
        """Add a note to the contact with this number (once per `key`); False if there is none."""
        ...


# What an error says was asked: never the configured URL, which may hold credentials or internal
# host names, and which errors carry into the call's event log and the worker's logs.
_ASKED = "the HTTP CRM's GET /contacts"


class HttpCrm:
    """A CRM over HTTP: `GET {base_url}/contacts?phone=+15555550101`.

    200 with `{"name", "title", "account": {"name", "industry", "employees"}, "notes": [...]}`,
    or 404 when there is no such contact. Anything else, or no answer within `timeout_s`, is
    `CrmUnavailable`.
    """

    def __init__(self, base_url: str, *, timeout_s: float, token: str | None = None) -> None:
        self._url = base_url.rstrip("/") + "/contacts"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def lookup(self, phone: str) -> CrmContext | None:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout, headers=self._headers) as session,
                session.get(self._url, params={"phone": phone}) as response,
            ):
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise CrmUnavailable(f"{_ASKED} answered {response.status}")
                body = await response.json()
        except TimeoutError:
            raise CrmUnavailable(f"{_ASKED} timed out after {self._timeout.total} s") from None
        except aiohttp.ClientError as exc:
            raise CrmUnavailable(f"{_ASKED} failed: {type(exc).__name__}") from None
        return _context(body)

    async def add_note(self, phone: str, note: str, *, key: str) -> bool:
        # The HTTP protocol is read-only: the agent's notes need the built-in CRM. Retrying won't help.
        raise ApplicationError(
            "the HTTP CRM protocol takes no notes (RAPPORT_CRM=postgres does)", non_retryable=True
        )


def _context(body: Any) -> CrmContext:
    try:
        account = body["account"]
        return CrmContext(
            contact=str(body["name"]),
            title=body.get("title"),
            account=str(account["name"]),
            industry=account.get("industry"),
            employees=int(account["employees"]) if account.get("employees") else None,
            notes=[str(note) for note in body.get("notes", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Not the answer itself: it may hold the contact's data, and this goes to the event log.
        raise CrmUnavailable(f"{_ASKED}: the answer is not a contact record ({type(exc).__name__})") from None


class CrmActivities:
    def __init__(self, crm: CrmAdapter) -> None:
        self._crm = crm

    @activity.defn(name="crm_lookup")
    async def crm_lookup(self, request: CrmLookupInput) -> CrmLookup:
        context = await self._crm.lookup(request.caller_number)
        status = "found" if context is not None else "not_found"
        # The number and the record stay out of the logs.
        log.info("crm.looked_up", call_id=request.call_id, status=status)
        return CrmLookup(status, context)
