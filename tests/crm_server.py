"""A CRM that answers over HTTP on loopback, for the HttpCrm adapter and the slow-CRM call tests.

It is a real aiohttp server speaking the protocol `HttpCrm` documents, serving the records it is
given, after an optional delay (a slow CRM) or with a chosen failure status.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.loopback import serve_on_loopback

__all__ = ["JORDAN", "serve_crm"]

JORDAN: dict[str, Any] = {
    "name": "Jordan Avery",
    "title": "Account Executive",
    "account": {"name": "Routewise", "industry": "route-planning software", "employees": 85},
    "notes": ["Sent the Harbor Logistics case study; no reply yet."],
}


@asynccontextmanager
async def serve_crm(
    records: Mapping[str, Any],
    *,
    delay_s: float = 0.0,
    status: int = 200,
    gate: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """Serve `records` (phone → JSON body) at `GET /contacts?phone=`; yields the base URL.

    Each answer waits `delay_s`, and for `gate` when one is given: a CRM as slow as a test needs.
    """

    async def contacts(request: web.Request) -> web.StreamResponse:
        phone = request.query.get("phone", "")
        await asyncio.sleep(delay_s)
        if gate is not None:
            await gate.wait()
        if status != 200:
            return web.Response(status=status, text="CRM is down")
        if phone not in records:
            return web.Response(status=404)
        return web.json_response(records[phone])

    app = web.Application()
    app.router.add_get("/contacts", contacts)
    async with serve_on_loopback(app) as url:
        yield url
