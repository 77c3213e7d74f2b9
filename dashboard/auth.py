"""Who is asking: a manager's session cookie (pages and API) or an API token (API only)."""

from __future__ import annotations

from aiohttp import web

from dashboard.context import dashboard
from db.access import Manager, OrgViewer, Viewer, session_manager, token_org

__all__ = [
    "COOKIE",
    "MIN_PASSWORD",
    "api_viewer",
    "clear_session_cookie",
    "page_manager",
    "set_session_cookie",
]

COOKIE = "rapport_session"
MIN_PASSWORD = 10


async def page_manager(request: web.Request) -> Manager | None:
    """The signed-in manager, from the session cookie."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await session_manager(dashboard(request).pool, token)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def api_viewer(request: web.Request) -> Viewer | None:
    """An API token's organisation, else the signed-in manager. A wrong token is not a fallback."""
    token = _bearer(request)
    if token is not None:
        org_id = await token_org(dashboard(request).pool, token)
        return OrgViewer(org_id) if org_id is not None else None
    return await page_manager(request)


def _cookie_path(request: web.Request) -> str:
    return dashboard(request).base or "/"


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(dashboard(request).session_lifetime_s),
        path=_cookie_path(request),
        httponly=True,
        samesite="Lax",
        # Behind TLS (or a proxy saying so) the cookie never travels in the clear.
        secure=request.secure,
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path=_cookie_path(request))
