"""Jinja2 templates (autoescaped) and the few formatting filters they use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from dashboard.context import dashboard
from dashboard.plots import clock

__all__ = ["render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _wall(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _score(value: Any) -> str:
    """A rubric score: 0..1 as a percentage; anything else as given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return f"{value * 100:.0f}%" if 0 <= value <= 1 else f"{value:g}"


def _seconds(value: float | None) -> str:
    return "—" if value is None else clock(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(wall=_wall, score=_score, clock=_seconds)
    return env


_ENV = _environment()


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    board = dashboard(request)
    html = _ENV.get_template(template).render(base=board.base, poll_ms=board.poll_ms, **context)
    return web.Response(text=html, status=status, content_type="text/html")
