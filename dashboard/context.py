"""What every dashboard handler needs, held once by the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web

from dashboard.first_run import FirstRun
from dashboard.throttle import SignInThrottle

__all__ = ["DASHBOARD", "Dashboard", "dashboard"]


@dataclass(frozen=True)
class Dashboard:
    pool: asyncpg.Pool
    # The path the dashboard is mounted at: "" alone, "/dashboard" beside the playground.
    base: str
    session_lifetime_s: float
    sign_ins: SignInThrottle
    # How often open pages ask whether a new call or scorecard has appeared.
    poll_ms: int = 2000
    # The statechart definitions, drawn on the call page and the statecharts page.
    statechart_dir: Path | None = None
    # The one-time link `rapport up` printed for a dashboard without managers, if it did.
    first_run: FirstRun | None = None


DASHBOARD = web.AppKey("dashboard", Dashboard)


def dashboard(request: web.Request) -> Dashboard:
    return request.app[DASHBOARD]
