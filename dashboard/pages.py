"""The dashboard's HTML pages: sign-in and sign-out, the calls list, one call."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from dashboard.auth import COOKIE, clear_session_cookie, page_manager, set_session_cookie
from dashboard.context import dashboard
from dashboard.diagrams import list_diagrams
from dashboard.query import parse_list_query
from dashboard.render import render
from dashboard.views import load_call_view
from db.access import (
    Manager,
    close_session,
    find_call,
    list_calls,
    list_stamp,
    open_session,
    verify_manager,
    visible_reps,
    visible_statecharts,
)
from rapport.logs import get_logger

__all__ = ["call_page", "calls_page", "sign_in", "sign_in_form", "sign_out", "statecharts_page"]

log = get_logger(__name__)


# Browsers drop tabs and newlines inside a URL ("/\t/evil.example" is "//evil.example", another site)
# and treat a backslash as a slash: a target holding any of them is not taken as a path.
_NOT_IN_A_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


def _safe_next(request: web.Request, target: str) -> str:
    """Where to go after signing in: only a path inside the dashboard (no open redirect)."""
    base = dashboard(request).base
    parts = urlsplit(target)
    inside = (
        target.startswith(f"{base}/")
        and not target.startswith("//")
        and not _NOT_IN_A_PATH.search(target)
        and not (parts.scheme or parts.netloc)
    )
    return target if inside else f"{base}/"


async def _manager_or_redirect(request: web.Request) -> Manager:
    manager = await page_manager(request)
    if manager is None:
        back = urlencode({"next": request.rel_url.path_qs})
        raise web.HTTPSeeOther(f"{dashboard(request).base}/signin?{back}")
    return manager


async def sign_in_form(request: web.Request) -> web.Response:
    return render(request, "signin.html", error=None, email="", next=request.query.get("next", ""))


async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = _safe_next(request, str(form.get("next", "")))
    board = dashboard(request)
    manager = await verify_manager(board.pool, email, password) if email and password else None
    if manager is None:
        log.info("dashboard.sign_in_refused")
        return render(
            request,
            "signin.html",
            status=401,
            error="Wrong email or password.",
            email=email,
            next=target,
        )
    token = await open_session(board.pool, manager, board.session_lifetime_s)
    log.info("dashboard.signed_in", team_id=manager.team_id)
    response = web.HTTPSeeOther(target)
    set_session_cookie(request, response, token)
    raise response


async def sign_out(request: web.Request) -> web.Response:
    token = request.cookies.get(COOKIE)
    if token:
        await close_session(dashboard(request).pool, token)
    response = web.HTTPSeeOther(f"{dashboard(request).base}/signin")
    clear_session_cookie(request, response)
    raise response


async def calls_page(request: web.Request) -> web.Response:
    manager = await _manager_or_redirect(request)
    pool = dashboard(request).pool
    query = parse_list_query(request.query)
    listing = await list_calls(pool, manager, query.filters, query.page)
    return render(
        request,
        "calls.html",
        manager=manager,
        listing=listing,
        query=query,
        reps=await visible_reps(pool, manager),
        statecharts=await visible_statecharts(pool, manager),
        stamp=await list_stamp(pool, manager),
        poll_url=f"{dashboard(request).base}/api/stamp",
    )


async def call_page(request: web.Request) -> web.Response:
    manager = await _manager_or_redirect(request)
    pool = dashboard(request).pool
    call_id = request.match_info["call_id"]
    listed = await find_call(pool, manager, call_id)
    board = dashboard(request)
    view = await load_call_view(pool, listed, board.statechart_dir) if listed is not None else None
    if view is None:
        # Another team's call and a call that never existed answer alike.
        return render(request, "not_found.html", status=404, manager=manager)
    log.info("dashboard.call_viewed", call_id=call_id, turns=len(view.transcript))
    return render(
        request,
        "call.html",
        manager=manager,
        view=view,
        stamp=await list_stamp(pool, manager, call_id),
        poll_url=f"{dashboard(request).base}/api/calls/{call_id}/stamp",
    )


async def statecharts_page(request: web.Request) -> web.Response:
    """Every definition in the statechart folder, drawn: what the agents follow today."""
    manager = await _manager_or_redirect(request)
    directory = dashboard(request).statechart_dir
    diagrams = list_diagrams(directory) if directory is not None else []
    return render(request, "statecharts.html", manager=manager, diagrams=diagrams)
