"""The dashboard's aiohttp application: its routes, and serving it alone or beside the playground."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Middleware

from dashboard import api, pages
from dashboard.context import DASHBOARD, Dashboard
from dashboard.first_run import FirstRun
from dashboard.throttle import SignInThrottle
from rapport.logs import get_logger
from rapport.settings import Settings
from statecharts.svg import STYLE_SHA256

__all__ = ["MOUNT", "build_app", "mount", "serve"]

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# Where `rapport up` mounts the dashboard beside the playground.
MOUNT = "/dashboard"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Only this origin's scripts, styles and fetches; the diagrams' one inline <style> by its hash; no
# plugins; never inside another site's frame (clickjacking the sign-in or sign-out forms).
_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src 'self' 'sha256-{STYLE_SHA256}'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
_SIGN_IN_WINDOW_S = 15 * 60


@web.middleware
async def _private(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Pages and answers are per manager: never cached by a shared proxy or the back button.
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as raised:  # a redirect or an error page is a response too
        _protect(request, raised)
        raise
    _protect(request, response)
    return response


def _protect(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for older browsers
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def _behind(proxies: tuple[str, ...]) -> Middleware:
    """A request relayed by one of `proxies` is taken as the proxy says it arrived: its scheme
    (X-Forwarded-Proto) and the client's address (the last X-Forwarded-For entry, the one the
    proxy added). Anyone else's forwarding headers are ignored."""

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.remote in proxies:
            scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
            client = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            request = request.clone(
                scheme=scheme if scheme in ("http", "https") else request.scheme,
                remote=client or request.remote,
            )
        return await handler(request)

    return forwarded


def build_app(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    base: str = "",
    clock: Callable[[], float] = time.monotonic,
    first_run: FirstRun | None = None,
) -> web.Application:
    """The dashboard on `pool`; `base` is the path it is mounted at ("" when served alone)."""
    app = web.Application(middlewares=[_behind(settings.trusted_proxies), _private])
    sign_ins = SignInThrottle.create(
        settings.sign_in_per_account, settings.sign_in_per_address, _SIGN_IN_WINDOW_S, clock
    )
    app[DASHBOARD] = Dashboard(
        pool,
        base,
        settings.session_hours * 3600,
        sign_ins,
        statechart_dir=settings.statechart_dir,
        first_run=first_run,
    )
    app.router.add_get("/", pages.calls_page)
    app.router.add_get("/signin", pages.sign_in_form)
    app.router.add_post("/signin", pages.sign_in)
    app.router.add_post("/signout", pages.sign_out)
    app.router.add_get("/first-run", pages.first_run_form)
    app.router.add_post("/first-run", pages.first_run)
    app.router.add_get("/calls/{call_id}", pages.call_page)
    app.router.add_get("/statecharts", pages.statecharts_page)
    app.router.add_get("/api/calls.csv", api.calls_csv)
    app.router.add_get("/api/stamp", api.list_stamp_json)
    app.router.add_get("/api/calls/{call_id}/scorecard", api.scorecard_json)
    app.router.add_get("/api/calls/{call_id}/stamp", api.call_stamp)
    app.router.add_static("/static", STATIC)
    return app


def mount(
    parent: web.Application, pool: asyncpg.Pool, settings: Settings, first_run: FirstRun | None = None
) -> None:
    """Serve the dashboard under /dashboard/ of another application (the playground's)."""

    async def to_slash(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(f"{MOUNT}/")

    parent.router.add_get(MOUNT, to_slash)
    parent.add_subapp(f"{MOUNT}/", build_app(pool, settings, base=MOUNT, first_run=first_run))


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
