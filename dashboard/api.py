"""The dashboard's HTTP API: a scorecard as JSON, the calls list as CSV, and change stamps.

Each endpoint takes the manager's session cookie or `Authorization: Bearer <api token>`. A call
the caller may not see answers exactly as a call that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web

from dashboard.auth import api_viewer
from dashboard.context import dashboard
from dashboard.query import parse_list_query
from db.access import ListedCall, Viewer, each_call, find_call, list_stamp
from db.scorecards import load_scorecard
from rapport.logs import get_logger

__all__ = ["CSV_COLUMNS", "call_stamp", "calls_csv", "list_stamp_json", "scorecard_json"]

log = get_logger(__name__)

CSV_COLUMNS = (
    "call_id",
    "started_at",
    "rep_id",
    "rep_name",
    "team_id",
    "statechart",
    "duration_s",
    "end_reason",
    "rubric_status",
    "score",
    "talk_ratio",
    "questions",
)
_EXPORT_BATCH = 1000


_ERRORS: dict[int, type[web.HTTPError]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    404: web.HTTPNotFound,
}


def _error(status: int, error: str, detail: str, **extra: str) -> web.HTTPError:
    """A JSON error to raise: `error` is a stable code, `detail` says it for people."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = json.dumps({"error": error, "detail": detail, **extra})
    return _ERRORS[status](text=body, content_type="application/json", headers=headers)


async def _viewer(request: web.Request) -> Viewer:
    viewer = await api_viewer(request)
    if viewer is None:
        raise _error(401, "unauthorized", "sign in, or send Authorization: Bearer <api token>")
    return viewer


async def _visible(request: web.Request, viewer: Viewer) -> str:
    """The path's call id if the viewer may see that call; 404 alike for hidden and missing calls."""
    call_id = request.match_info["call_id"]
    if await find_call(dashboard(request).pool, viewer, call_id) is None:
        raise _error(404, "unknown_call", "no call with this id")
    return call_id


async def scorecard_json(request: web.Request) -> web.Response:
    call_id = await _visible(request, await _viewer(request))
    card = await load_scorecard(dashboard(request).pool, call_id)
    if card is None:
        raise _error(404, "no_scorecard", "the call has no scorecard yet", call_id=call_id)
    log.info("dashboard.scorecard_served", call_id=call_id, rubric_status=card.rubric_status)
    return web.json_response(card.as_json())


# A spreadsheet runs a cell that starts with one of these as a formula (`=HYPERLINK(...)` in a rep's
# name): such text is exported with a leading apostrophe, which shows as text and runs nothing.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    text = value or ""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _csv_row(call: ListedCall) -> list[object]:
    started = datetime.fromtimestamp(call.started_wall, UTC).isoformat() if call.started_wall else ""
    duration = round(call.duration_s, 2) if call.duration_s is not None else ""
    return [
        _text(call.call_id),
        started,
        _text(call.rep_id),
        _text(call.rep_name),
        _text(call.team_id),
        _text(call.statechart),
        duration,
        _text(call.end_reason),
        _text(call.rubric_status),
        "" if call.score is None else round(call.score, 4),
        "" if call.talk_ratio is None else call.talk_ratio,
        "" if call.questions is None else call.questions,
    ]


async def calls_csv(request: web.Request) -> web.StreamResponse:
    """Every call of the filtered list (not just one page), newest first, sent as it is read."""
    viewer = await _viewer(request)
    query = parse_list_query(request.query)
    if query.problems:
        raise _error(400, "bad_filter", "; ".join(query.problems))
    response = web.StreamResponse(
        headers={"Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="calls.csv"'}
    )
    await response.prepare(request)
    rows = 0
    try:
        await response.write(_csv_line(CSV_COLUMNS))
        async for batch in each_call(dashboard(request).pool, viewer, query.filters, _EXPORT_BATCH):
            await response.write(b"".join(_csv_line(_csv_row(call)) for call in batch))
            rows += len(batch)
        await response.write_eof()
    except ConnectionResetError:  # the client went away: nothing more to send, nothing broken
        log.info("dashboard.csv_export_abandoned", rows=rows)
        return response
    log.info("dashboard.csv_exported", rows=rows)
    return response


def _csv_line(row: Sequence[object]) -> bytes:
    """One CSV row as bytes, quoted as `csv.writer` quotes it."""
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().encode()


async def list_stamp_json(request: web.Request) -> web.Response:
    """Changes when a visible call or scorecard appears or changes: the calls list polls it."""
    viewer = await _viewer(request)
    return web.json_response({"stamp": await list_stamp(dashboard(request).pool, viewer)})


async def call_stamp(request: web.Request) -> web.Response:
    """Changes when this call ends or its scorecard appears or changes: the call page polls it."""
    viewer = await _viewer(request)
    call_id = await _visible(request, viewer)
    return web.json_response({"stamp": await list_stamp(dashboard(request).pool, viewer, call_id)})
