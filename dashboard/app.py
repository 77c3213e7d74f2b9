"""The dashboard's aiohttp application: its routes, and serving it alone or beside the playground."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from aiohttp import web

from dashboard import api, pages
from dashboard.context import DASHBOARD, Dashboard
from rapport.logs import get_logger
from rapport.settings import Settings

__all__ = ["MOUNT", "build_app", "mount", "serve"]

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# Where `rapport up` mounts the dashboard beside the playground.
MOUNT = "/dashboard"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _private(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Pages and answers are per manager: never cached by a shared proxy or the back button.
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def build_app(pool: asyncpg.Pool, settings: Settings, *, base: str = "") -> web.Application:
    """The dashboard on `pool`; `base` is the path it is mounted at ("" when served alone)."""
    app = web.Application(middlewares=[_private])
    app[DASHBOARD] = Dashboard(
        pool, base, settings.session_hours * 3600, statechart_dir=settings.statechart_dir
    )
    app.router.add_get("/", pages.calls_page)
    app.router.add_get("/signin", pages.sign_in_form)
    app.router.add_post("/signin", pages.sign_in)
    app.router.add_post("/signout", pages.sign_out)
    app.router.add_get("/calls/{call_id}", pages.call_page)
    app.router.add_get("/statecharts", pages.statecharts_page)
    app.router.add_get("/api/calls.csv", api.calls_csv)
    app.router.add_get("/api/stamp", api.list_stamp_json)
    app.router.add_get("/api/calls/{call_id}/scorecard", api.scorecard_json)
    app.router.add_get("/api/calls/{call_id}/stamp", api.call_stamp)
    app.router.add_static("/static", STATIC)
    return app


def mount(parent: web.Application, pool: asyncpg.Pool, settings: Settings) -> None:
    """Serve the dashboard under /dashboard/ of another application (the playground's)."""

    async def to_slash(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(f"{MOUNT}/")

    parent.router.add_get(MOUNT, to_slash)
    parent.add_subapp(f"{MOUNT}/", build_app(pool, settings, base=MOUNT))


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """The dashboard alone (the production service) until interrupted."""
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    runner = web.AppRunner(build_app(pool, settings))
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("dashboard.serving", host=host, port=port)
        print(f"rapport: dashboard at http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await pool.close()
