"""The dashboard's HTML pages: sign-in and sign-out, the calls list, one call."""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode, urlsplit

import asyncpg
from aiohttp import web

from dashboard.auth import COOKIE, MIN_PASSWORD, clear_session_cookie, page_manager, set_session_cookie
from dashboard.context import dashboard
from dashboard.diagrams import SHARED_CHARTS, list_diagrams
from dashboard.query import parse_list_query
from dashboard.render import render
from dashboard.views import load_call_view
from db.access import (
    DuplicateManager,
    Manager,
    UnknownTeam,
    add_manager,
    all_teams,
    close_session,
    find_call,
    has_managers,
    list_calls,
    list_stamp,
    open_session,
    verify_manager,
    visible_reps,
    visible_statecharts,
)
from rapport.logs import get_logger
from rapport.loopback import is_loopback

__all__ = [
    "call_page",
    "calls_page",
    "first_run",
    "first_run_form",
    "sign_in",
    "sign_in_form",
    "sign_out",
    "statecharts_page",
]

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
    address = request.remote or ""
    wait = board.sign_ins.attempt(email, address)
    if wait is not None:
        log.info("dashboard.sign_in_throttled")
        refused = render(
            request,
            "signin.html",
            status=429,
            error="Too many failed sign-ins. Try again in a few minutes.",
            email=email,
            next=target,
        )
        refused.headers["Retry-After"] = str(math.ceil(wait))
        return refused
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
    board.sign_ins.succeeded(email, address)
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
    """The definitions the manager's calls follow, drawn as they are today, and the turn-taking
    machine every call shares. Another organisation's charts (its prompts) are not shown."""
    manager = await _manager_or_redirect(request)
    board = dashboard(request)
    names = {*await visible_statecharts(board.pool, manager), *SHARED_CHARTS}
    diagrams = list_diagrams(board.statechart_dir, names) if board.statechart_dir is not None else []
    return render(request, "statecharts.html", manager=manager, diagrams=diagrams)


async def _first_run_refusal(request: web.Request, token: str) -> web.Response | None:
    """Why the first-run link may not be used here and now, as the page to answer; None if it may."""
    board = dashboard(request)
    if board.first_run is None or not board.first_run.admits(token):
        message = "This first-run link is not valid: it was used, it expired, or another run printed it."
        return render(request, "first_run.html", status=404, error=message, teams=[], token="")
    if not is_loopback(request.remote):
        message = "The first-run link works only on the machine that runs rapport up."
        return render(request, "first_run.html", status=403, error=message, teams=[], token="")
    if await has_managers(board.pool):
        return web.Response(status=303, headers={"Location": f"{board.base}/signin"})
    return None


async def first_run_form(request: web.Request) -> web.Response:
    """The form for the dashboard's first manager, behind the link `rapport up` printed."""
    token = request.query.get("token", "")
    if (refused := await _first_run_refusal(request, token)) is not None:
        return refused
    teams = await all_teams(dashboard(request).pool)
    return render(request, "first_run.html", error=None, teams=teams, token=token, email="", name="")


async def first_run(request: web.Request) -> web.Response:
    """Create the first manager and sign them in; the link is then used up."""
    form = await request.post()
    token = str(form.get("token", ""))
    if (refused := await _first_run_refusal(request, token)) is not None:
        return refused
    board = dashboard(request)
    email, name, team = (str(form.get(key, "")).strip() for key in ("email", "name", "team"))
    created = await _first_manager(board.pool, email, name, team, str(form.get("password", "")))
    if isinstance(created, str):
        teams = await all_teams(board.pool)
        page = {"teams": teams, "token": token, "email": email, "name": name}
        return render(request, "first_run.html", status=400, error=created, **page)
    assert board.first_run is not None
    board.first_run.used = True
    log.info("dashboard.first_manager_added", team_id=created.team_id)
    response = web.HTTPSeeOther(f"{board.base}/")
    set_session_cookie(request, response, await open_session(board.pool, created, board.session_lifetime_s))
    raise response


async def _first_manager(
    pool: asyncpg.Pool, email: str, name: str, team: str, password: str
) -> Manager | str:
    """The manager added, or what was wrong with the form."""
    if len(password) < MIN_PASSWORD:
        return f"The password needs at least {MIN_PASSWORD} characters."
    try:
        return await add_manager(pool, email, name, team, password)
    except (UnknownTeam, DuplicateManager) as exc:
        return str(exc)
