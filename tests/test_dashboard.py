"""The managers' dashboard over HTTP: sign-in, who sees what, filters, pages, exports, bad input.

Everything runs against a real migrated PostgreSQL; calls are stored through the real write path
(events appended and projected) and scored as the post-call workflow stores scorecards.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import aiohttp
import asyncpg
import pytest
import structlog
from aiohttp import web

from dashboard.api import CSV_COLUMNS
from dashboard.app import build_app, mount
from dashboard.first_run import FirstRun
from db.access import (
    CallFilters,
    OrgViewer,
    add_manager,
    create_api_token,
    each_call,
    has_managers,
    list_calls,
    revoke_api_tokens,
    session_manager,
    token_org,
    verify_manager,
)
from rapport.settings import Settings
from tests.conftest import fresh_database
from tests.dashboard_calls import RUBRIC, CallScript, make_org, sales_call, score, store, unique
from tests.loopback import serve_on_loopback

PASSWORD = "correct horse battery"
DAY = 86_400.0
NOW = time.time()


@pytest.fixture
async def dashboard(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[str]:
    """The dashboard alone, with the embedded defaults."""
    async with serve_on_loopback(build_app(pool, settings)) as url:
        yield url


@dataclass(frozen=True)
class World:
    """Two organisations: Northwind (teams east and west) and Globex (one team)."""

    org: str
    other_org: str
    east_manager: str
    east_call: str
    west_call: str
    other_org_call: str


async def _call(pool: asyncpg.Pool, rep_id: str, *, days_ago: float = 0, **scored: object) -> str:
    call_id = unique("call")
    events = sales_call(call_id, rep_id=rep_id, wall_time=NOW - days_ago * DAY)
    await store(pool, events)
    if scored:
        await score(pool, events, **scored)  # type: ignore[arg-type]
    return call_id


@pytest.fixture
async def world(pool: asyncpg.Pool) -> World:
    org, ids = await make_org(pool, {"east": ["jordan"], "west": ["sam"]})
    other_org, other = await make_org(pool, {"inside": ["priya"]})
    email = f"{unique('lee')}@northwind.example"
    await add_manager(pool, email, "Lee East", ids["east"], PASSWORD)
    return World(
        org=org,
        other_org=other_org,
        east_manager=email,
        east_call=await _call(pool, ids["jordan"], rubric=RUBRIC, overall=0.75),
        west_call=await _call(pool, ids["sam"], rubric=RUBRIC, overall=0.6),
        other_org_call=await _call(pool, other["priya"], rubric=RUBRIC, overall=0.9),
    )


@pytest.fixture
async def browser_session() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: keep cookies for an IP-address host (127.0.0.1), as a browser does.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield http


async def _sign_in(
    http: aiohttp.ClientSession, url: str, email: str, password: str, then: str | None = None
) -> aiohttp.ClientResponse:
    form = {"email": email, "password": password} | ({"next": then} if then is not None else {})
    async with http.post(f"{url}/signin", data=form, allow_redirects=False) as response:
        await response.read()
        return response


async def test_a_fresh_install_gets_its_first_manager_through_a_one_time_loopback_link(
    settings: Settings,
) -> None:
    """With no manager yet, the link `rapport up` prints opens a form on this machine: it creates
    the first manager of a team and signs them in. Used once, it works no more; a wrong token,
    or a client on another machine (through the trusted proxy), gets nothing."""
    async with fresh_database() as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        assert pool is not None and not await has_managers(pool)
        first_run, token = FirstRun.create()
        behind = replace(settings, trusted_proxies=("127.0.0.1",))
        app = build_app(pool, behind, first_run=first_run)
        async with (
            serve_on_loopback(app) as dashboard,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            async with http.get(f"{dashboard}/first-run?token=guess") as response:
                assert response.status == 404
            remote = {"X-Forwarded-For": "203.0.113.9"}
            async with http.get(f"{dashboard}/first-run?token={token}", headers=remote) as response:
                assert response.status == 403
            async with http.get(f"{dashboard}/first-run?token={token}") as response:
                form = await response.text()
                assert response.status == 200 and 'value="routewise-east"' in form
            short = {"token": token, "email": "lee@example.com", "name": "Lee", "team": "routewise-east"}
            async with http.post(f"{dashboard}/first-run", data=short | {"password": "short"}) as response:
                assert response.status == 400 and "at least 10 characters" in await response.text()
            good = short | {"password": PASSWORD}
            async with http.post(f"{dashboard}/first-run", data=good, allow_redirects=False) as response:
                assert response.status == 303 and "rapport_session" in response.cookies
            async with http.get(f"{dashboard}/") as response:
                assert response.status == 200 and "Lee" in await response.text()
            async with http.post(
                f"{dashboard}/first-run", data=good | {"email": "x@example.com"}
            ) as response:
                assert response.status == 404
        assert await verify_manager(pool, "lee@example.com", PASSWORD) is not None
        assert await verify_manager(pool, "x@example.com", PASSWORD) is None
        await pool.close()


async def test_signing_in_never_leads_off_the_dashboard(
    dashboard: str, world: World, browser_session: aiohttp.ClientSession
) -> None:
    """`next` after signing in goes to a page of the dashboard only: a target a browser reads as
    another site (`//host`, a tab or newline it drops, a backslash it takes for a slash, a scheme)
    lands on the dashboard's home instead."""
    for target in (
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
    ):
        response = await _sign_in(browser_session, dashboard, world.east_manager, PASSWORD, then=target)
        assert response.status == 303 and response.headers["Location"] == "/", target
    kept = await _sign_in(browser_session, dashboard, world.east_manager, PASSWORD, then="/statecharts")
    assert kept.headers["Location"] == "/statecharts"


def _listed(html: str) -> list[str]:
    return re.findall(r'data-call-id="([^"]+)"', html)


async def test_sign_in_works_with_the_password_and_not_without(
    dashboard: str, world: World, browser_session: aiohttp.ClientSession, pool: asyncpg.Pool
) -> None:
    """A wrong password or unknown email is refused (401, no cookie); the right one opens a session
    in an HttpOnly, SameSite=Lax cookie whose token is stored only as a hash; signing out ends it."""
    http = browser_session
    async with http.get(f"{dashboard}/", allow_redirects=False) as response:
        assert response.status == 303 and "/signin" in response.headers["Location"]
    for email, password in (
        (world.east_manager, "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("nul\x00@example.com", PASSWORD),
    ):
        refused = await _sign_in(http, dashboard, email, password)
        assert refused.status == 401 and "rapport_session" not in refused.cookies
    assert await verify_manager(pool, world.east_manager.upper(), PASSWORD) is not None

    accepted = await _sign_in(http, dashboard, world.east_manager, PASSWORD)
    assert accepted.status == 303
    cookie = accepted.cookies["rapport_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    stored = await pool.fetchval(
        "SELECT token_hash FROM manager_sessions WHERE token_hash = $1", cookie.value
    )
    assert stored is None, "the raw session token must not be stored"
    assert (await session_manager(pool, cookie.value)) is not None
    async with http.get(f"{dashboard}/") as response:
        assert response.status == 200 and "Lee East" in await response.text()

    async with http.post(f"{dashboard}/signout", allow_redirects=False) as response:
        assert response.status == 303
    assert await session_manager(pool, cookie.value) is None
    async with http.get(f"{dashboard}/", allow_redirects=False) as response:
        assert response.status == 303


async def test_failed_sign_ins_are_throttled_per_account_and_per_address(
    pool: asyncpg.Pool, settings: Settings, world: World
) -> None:
    """Past the failures allowed in 15 minutes an account, or an address, gets 429 and a
    Retry-After, and its password is not checked (the right one is refused too); a success does
    not count; the window passing lets the manager in again. Addresses arrive from a trusted proxy."""
    now = [0.0]
    limited = replace(settings, sign_in_per_account=3, sign_in_per_address=5, trusted_proxies=("127.0.0.1",))
    async with (
        serve_on_loopback(build_app(pool, limited, clock=lambda: now[0])) as url,
        aiohttp.ClientSession() as http,
    ):

        async def sign_in(email: str, password: str, address: str) -> aiohttp.ClientResponse:
            form = {"email": email, "password": password}
            headers = {"X-Forwarded-For": address}
            async with http.post(
                f"{url}/signin", data=form, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return response

        manager, other = world.east_manager, f"{unique('m')}@example.com"
        assert (await sign_in(manager, PASSWORD, "198.51.100.1")).status == 303
        for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
            assert (await sign_in(manager.upper(), "guess", address)).status == 401
        held = await sign_in(manager, PASSWORD, "198.51.100.4")
        assert held.status == 429 and int(held.headers["Retry-After"]) == 15 * 60
        for account in (other, f"x{other}"):  # the first address's 2nd to 5th failures
            for _ in range(2):
                assert (await sign_in(account, "guess", "198.51.100.1")).status == 401
        assert (await sign_in(f"y{other}", "guess", "198.51.100.1")).status == 429
        assert (await sign_in(f"y{other}", "guess", "198.51.100.9")).status == 401
        now[0] += 15 * 60 + 1
        assert (await sign_in(manager, PASSWORD, "198.51.100.1")).status == 303


async def test_behind_a_trusted_proxy_sessions_are_secure_and_pages_say_so(
    pool: asyncpg.Pool, settings: Settings, world: World
) -> None:
    """A TLS proxy named in RAPPORT_TRUSTED_PROXIES that says https gets a Secure session cookie and
    HSTS; the same header from anyone else changes nothing. Every page forbids framing and inline
    scripts."""
    forwarded = {"X-Forwarded-Proto": "https"}
    form = {"email": world.east_manager, "password": PASSWORD}
    for proxies, secure in (((), False), (("127.0.0.1",), True)):
        app = build_app(pool, replace(settings, trusted_proxies=proxies))
        async with serve_on_loopback(app) as url, aiohttp.ClientSession() as http:
            async with http.post(
                f"{url}/signin", data=form, headers=forwarded, allow_redirects=False
            ) as response:
                assert response.status == 303
                assert bool(response.cookies["rapport_session"]["secure"]) is secure
                assert ("Strict-Transport-Security" in response.headers) is secure
            async with http.get(f"{url}/signin", headers=forwarded) as response:
                policy = response.headers["Content-Security-Policy"]
                assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
                assert "unsafe-inline" not in policy and response.headers["X-Frame-Options"] == "DENY"


async def test_password_hashing_is_not_held_up_by_the_shared_thread_pool(
    pool: asyncpg.Pool, world: World
) -> None:
    """A sign-in's scrypt runs on its own thread: with every thread of the loop's default pool busy
    (as calls' work can keep them), a password is still checked."""
    loop = asyncio.get_running_loop()
    release = threading.Event()
    busy = [asyncio.to_thread(release.wait) for _ in range(64)]  # past any default pool's size
    try:
        checked = verify_manager(pool, world.east_manager, PASSWORD)
        assert await asyncio.wait_for(checked, 30) is not None
    finally:
        release.set()
        await asyncio.gather(*busy)
    assert loop.is_running()


async def test_the_statecharts_page_shows_only_the_charts_of_the_managers_calls(
    dashboard: str, pool: asyncpg.Pool, browser_session: aiohttp.ClientSession
) -> None:
    """A manager sees the definitions their team's calls ran, and the shared turn-taking machine;
    not the charts (the prompts) only another organisation's calls run."""
    _org, ids = await make_org(pool, {"team": ["gus"]})
    _other, other = await make_org(pool, {"rivals": ["hal"]})
    email = f"{unique('m')}@example.com"
    await add_manager(pool, email, "Chart Manager", ids["team"], PASSWORD)
    for rep, chart in ((ids["gus"], "sales_roleplay"), (other["hal"], "inbound_qualification")):
        await store(
            pool,
            CallScript(unique("call"), rep_id=rep, wall_time=NOW, statechart=chart).rep("Hi?", 1.0).end(),
        )
    await _sign_in(browser_session, dashboard, email, PASSWORD)
    async with browser_session.get(f"{dashboard}/statecharts") as response:
        shown = re.findall(r'id="chart-([a-z0-9_]+)"', await response.text())
    assert shown == ["sales_roleplay", "turn_taking"]


async def test_a_manager_sees_their_team_and_404_for_anything_else(
    dashboard: str, world: World, browser_session: aiohttp.ClientSession
) -> None:
    """The east manager lists and opens east's call; another team's call, another organisation's
    call and an unknown id all answer the same 404, in the pages and in the API."""
    http = browser_session
    await _sign_in(http, dashboard, world.east_manager, PASSWORD)
    async with http.get(f"{dashboard}/") as response:
        assert _listed(await response.text()) == [world.east_call]
    async with http.get(f"{dashboard}/calls/{world.east_call}") as response:
        assert response.status == 200
    async with http.get(f"{dashboard}/api/calls/{world.east_call}/scorecard") as response:
        assert response.status == 200 and (await response.json())["call_id"] == world.east_call

    answers = []
    for hidden in (world.other_org_call, world.west_call, "no-such-call"):
        async with http.get(f"{dashboard}/calls/{hidden}") as page:
            page_text = (await page.text()).replace(hidden, "")
        async with http.get(f"{dashboard}/api/calls/{hidden}/scorecard") as api:
            api_body = await api.json()
        assert page.status == 404 and api.status == 404
        assert hidden not in str(api_body)
        answers.append((page_text, api_body))
    # Nothing tells a hidden call from a missing one.
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1]["error"] == "unknown_call"
    # An id no database could hold is just as unknown, not a server error.
    for path, status in (
        ("/calls/bad%00id", 404),
        ("/api/calls/bad%00id/scorecard", 404),
        ("/?rep=x%00", 200),
    ):
        async with http.get(f"{dashboard}{path}") as response:
            assert response.status == status


async def test_an_api_token_sees_its_organisation_only(
    dashboard: str, world: World, pool: asyncpg.Pool
) -> None:
    """A bearer token reads every team's scorecards in its organisation, 404 for another
    organisation's call; no token or a wrong one is 401; a token does not open the pages."""
    token = await create_api_token(pool, "crm-sync", world.org)
    bearer = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        for call_id in (world.east_call, world.west_call):
            async with http.get(f"{dashboard}/api/calls/{call_id}/scorecard", headers=bearer) as response:
                card = await response.json()
                assert response.status == 200 and card["rubric_status"] == "scored"
                assert [c["criterion"] for c in card["rubric"]] == [c["criterion"] for c in RUBRIC]
        async with http.get(f"{dashboard}/api/calls/{world.other_org_call}/scorecard", headers=bearer) as r:
            assert r.status == 404
        for headers in ({}, {"Authorization": "Bearer rpt_not-a-token"}, {"Authorization": "Basic eDp5"}):
            async with http.get(f"{dashboard}/api/calls/{world.east_call}/scorecard", headers=headers) as r:
                assert r.status == 401 and (await r.json())["error"] == "unauthorized"
        async with http.get(f"{dashboard}/", headers=bearer, allow_redirects=False) as response:
            assert response.status == 303
    other = await create_api_token(pool, "globex", world.other_org)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{dashboard}/api/calls/{world.east_call}/scorecard", headers={"Authorization": f"Bearer {other}"}
        ) as response,
    ):
        assert response.status == 404


async def test_an_api_token_stops_working_when_it_expires_or_is_revoked(
    dashboard: str, world: World, pool: asyncpg.Pool
) -> None:
    """A token works until it expires or `rapport token revoke NAME --org ORG` revokes it (every
    live token of that name); then it is 401 like a wrong one. Others of the organisation go on."""
    expiring = await create_api_token(pool, "nightly-export", world.org, days=1)
    revoked = await create_api_token(pool, "crm-sync", world.org)
    kept = await create_api_token(pool, "bi", world.org)
    url = f"{dashboard}/api/calls/{world.east_call}/scorecard"

    async def status(token: str) -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": f"Bearer {token}"}) as r,
        ):
            return r.status

    assert [await status(t) for t in (expiring, revoked, kept)] == [200, 200, 200]
    await pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'nightly-export'"
    )
    assert await revoke_api_tokens(pool, "crm-sync", world.org) == 1
    assert await revoke_api_tokens(pool, "crm-sync", world.org) == 0
    assert [await status(t) for t in (expiring, revoked, kept)] == [401, 401, 200]


async def test_rapport_token_creates_and_revokes_tokens(pool: asyncpg.Pool, database_url: str) -> None:
    """`rapport token create` prints a token that works for its days; `rapport token revoke`
    revokes it, and says so (exit 2) when there is nothing of that name left to revoke."""
    org, _ids = await make_org(pool, {"team": ["ivy"]})

    async def rapport(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "rapport.cli", "token", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "DATABASE_URL": database_url},
            timeout=60,
        )

    created = await rapport("create", "reports", "--org", org, "--days", "7")
    assert created.returncode == 0 and "expires in 7 days" in created.stderr
    token = created.stdout.strip()
    assert await token_org(pool, token) == org
    revoked = await rapport("revoke", "reports", "--org", org)
    assert revoked.returncode == 0 and "revoked 1 token" in revoked.stdout
    assert await token_org(pool, token) is None
    again = await rapport("revoke", "reports", "--org", org)
    assert again.returncode == 2 and "no live token named 'reports'" in again.stderr


async def test_the_scorecard_api_says_why_there_is_none(dashboard: str, pool: asyncpg.Pool) -> None:
    """A visible call without a scorecard is 404 `no_scorecard`; a pending rubric and a failed one
    come back as they are, the failure with its reason."""
    org, ids = await make_org(pool, {"team": ["rep"]})
    bare = await _call(pool, ids["rep"])
    # Metrics stored, the rubric not yet judged.
    pending = await _call(pool, ids["rep"], rubric=None)
    failed = await _call(pool, ids["rep"], error="the model's answer was not JSON after 3 attempts")
    bearer = {"Authorization": f"Bearer {await create_api_token(pool, 'test', org)}"}
    async with aiohttp.ClientSession(headers=bearer) as http:
        async with http.get(f"{dashboard}/api/calls/{bare}/scorecard") as response:
            body = await response.json()
            assert response.status == 404 and body == {
                "error": "no_scorecard",
                "detail": "the call has no scorecard yet",
                "call_id": bare,
            }
        async with http.get(f"{dashboard}/api/calls/{pending}/scorecard") as response:
            card = await response.json()
            assert card["rubric_status"] == "pending" and card["metrics"]["questions"] >= 3
        async with http.get(f"{dashboard}/api/calls/{failed}/scorecard") as response:
            card = await response.json()
            assert card["rubric_status"] == "failed" and "not JSON" in card["rubric_error"]
            assert card["metrics"]["interruptions"]["caller"] == 1


async def test_filters_and_pagination(
    dashboard: str, pool: asyncpg.Pool, browser_session: aiohttp.ClientSession
) -> None:
    """The list is newest first, 25 a page with a total; rep, date, statechart and score filter it;
    a malformed filter is named and ignored."""
    _org, ids = await make_org(pool, {"team": ["ana", "ben"]})
    email = f"{unique('m')}@example.com"
    await add_manager(pool, email, "Filter Manager", ids["team"], PASSWORD)
    calls: dict[str, dict[str, object]] = {}
    for i in range(30):
        rep = ids["ana"] if i % 3 else ids["ben"]
        call_id = await _call(pool, rep, days_ago=i, rubric=RUBRIC, overall=round(i / 30, 3))
        calls[call_id] = {"rep": rep, "days_ago": i, "score": round(i / 30, 3)}
    other_chart = unique("call")
    await store(
        pool,
        CallScript(
            other_chart, rep_id=ids["ana"], wall_time=NOW - 40 * DAY, statechart="inbound_qualification"
        )
        .rep("Hello?", 1.0)
        .end(),
    )
    newest_first = sorted(calls, key=lambda c: calls[c]["days_ago"])  # type: ignore[arg-type, return-value]
    http = browser_session
    await _sign_in(http, dashboard, email, PASSWORD)

    async def listed(query: str) -> tuple[list[str], str]:
        async with http.get(f"{dashboard}/?{query}") as response:
            html = await response.text()
            return _listed(html), html

    first, html = await listed("")
    assert first == newest_first[:25] and "31 calls" in html and "page 1 of 2" in html
    second, _ = await listed("page=2")
    assert second == [*newest_first[25:], other_chart]
    ben, _ = await listed(f"rep={ids['ben']}")
    assert ben == [c for c in newest_first if calls[c]["rep"] == ids["ben"]]
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 5 * DAY))
    one_day, _ = await listed(f"from={day}&to={day}")
    assert one_day == [c for c in newest_first if calls[c]["days_ago"] == 5]
    charts, _ = await listed("statechart=inbound_qualification")
    assert charts == [other_chart]
    scored, _ = await listed("min_score=50&max_score=60")
    assert scored == [c for c in newest_first if 0.5 <= calls[c]["score"] <= 0.6]  # type: ignore[operator]
    assert len(scored) == 4
    ignored, html = await listed("min_score=lots&from=yesterday")
    assert ignored == first and "not a score from 0 to 100" in html and "not a date" in html
    # A page past the end (a huge one once overflowed PostgreSQL's OFFSET: a 500) is the last page.
    for page in ("3", "9" * 30):
        last, html = await listed(f"page={page}")
        assert last == second and "page 2 of 2" in html


async def test_csv_export_is_the_whole_filtered_list(
    dashboard: str, pool: asyncpg.Pool, browser_session: aiohttp.ClientSession
) -> None:
    """calls.csv has every matching call (not one page), newest first, with score and rubric
    status; it takes the session cookie or a token, and refuses a malformed filter."""
    org, ids = await make_org(pool, {"team": ["cy", "di"]})
    email = f"{unique('m')}@example.com"
    await add_manager(pool, email, "CSV Manager", ids["team"], PASSWORD)
    made = [await _call(pool, ids["cy"], days_ago=i, rubric=RUBRIC, overall=0.5) for i in range(27)]
    unscored = await _call(pool, ids["di"], days_ago=0.5)
    http = browser_session
    await _sign_in(http, dashboard, email, PASSWORD)
    async with http.get(f"{dashboard}/api/calls.csv?rep={ids['cy']}") as response:
        assert response.status == 200 and response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["call_id"] for r in rows] == made
    assert set(rows[0]) == set(CSV_COLUMNS)
    assert rows[0]["rubric_status"] == "scored" and float(rows[0]["score"]) == 0.5
    assert rows[0]["rep_name"] == "Cy" and rows[0]["statechart"] == "sales_roleplay"
    bearer = {"Authorization": f"Bearer {await create_api_token(pool, 'bi', org)}"}
    async with (
        aiohttp.ClientSession(headers=bearer) as api,
        api.get(f"{dashboard}/api/calls.csv") as response,
    ):
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == 28 and rows[1]["call_id"] == unscored and rows[1]["rubric_status"] == ""
    async with http.get(f"{dashboard}/api/calls.csv?max_score=200") as response:
        assert response.status == 400 and (await response.json())["error"] == "bad_filter"
    async with aiohttp.ClientSession() as anonymous, anonymous.get(f"{dashboard}/api/calls.csv") as response:
        assert response.status == 401


async def test_each_call_reads_the_whole_list_in_batches_in_list_order(pool: asyncpg.Pool) -> None:
    """The export's batches, each starting after the last call of the one before, give the list's
    calls in its order: ties on the start time and calls with no start time included."""
    org, ids = await make_org(pool, {"team": ["ed"]})
    made = [await _call(pool, ids["ed"], days_ago=i // 2) for i in range(7)]  # pairs share a start
    await pool.execute("UPDATE calls SET started_wall = NULL WHERE call_id = ANY($1)", made[2:4])
    viewer, every = OrgViewer(org), CallFilters()
    listed = await list_calls(pool, viewer, every, per_page=100)
    batches = [batch async for batch in each_call(pool, viewer, every, batch=2)]
    assert [len(b) for b in batches] == [2, 2, 2, 1]
    assert [c.call_id for b in batches for c in b] == [c.call_id for c in listed.calls]
    assert {c.call_id for c in listed.calls} == set(made)


async def test_the_csv_export_is_streamed(
    dashboard: str, pool: asyncpg.Pool, browser_session: aiohttp.ClientSession
) -> None:
    """calls.csv is sent in chunks as it is read, not built whole in memory first."""
    _org, ids = await make_org(pool, {"team": ["fay"]})
    email = f"{unique('m')}@example.com"
    await add_manager(pool, email, "Stream Manager", ids["team"], PASSWORD)
    made = [await _call(pool, ids["fay"], days_ago=i) for i in range(3)]
    await _sign_in(browser_session, dashboard, email, PASSWORD)
    async with browser_session.get(f"{dashboard}/api/calls.csv") as response:
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in response.headers
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["call_id"] for r in rows] == made


async def test_csv_cells_a_spreadsheet_would_run_are_exported_as_text(
    dashboard: str, pool: asyncpg.Pool, browser_session: aiohttp.ClientSession
) -> None:
    """A rep whose name starts with =, +, - or @ is exported with a leading apostrophe: a
    spreadsheet shows the name and runs nothing. Other names are exported as they are."""
    names = ['=hyperlink("http://evil.example";"x")', "+1", "-2", "@sum", "plain"]
    _org, ids = await make_org(pool, {"team": names})
    email = f"{unique('m')}@example.com"
    await add_manager(pool, email, "CSV Manager", ids["team"], PASSWORD)
    for name in names:
        await _call(pool, ids[name])
    await _sign_in(browser_session, dashboard, email, PASSWORD)
    async with browser_session.get(f"{dashboard}/api/calls.csv") as response:
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    exported = sorted(row["rep_name"] for row in rows)
    assert exported == sorted(["'" + n.title() for n in names[:4]] + ["Plain"]), exported


async def test_call_page_handles_odd_calls(
    dashboard: str, pool: asyncpg.Pool, browser_session: aiohttp.ClientSession
) -> None:
    """A call with no caller speech, one with no scorecard yet, and one whose rubric failed all
    render: the failure names its reason beside the exact metrics."""
    _org, ids = await make_org(pool, {"team": ["eve"]})
    email = f"{unique('m')}@example.com"
    await add_manager(pool, email, "Odd Manager", ids["team"], PASSWORD)
    silent_id = unique("call")
    silent = (
        CallScript(silent_id, rep_id=ids["eve"], wall_time=NOW)
        .agent("Northwind Freight, this is Dana.", 1.8)
        .end("timeout", after=20)
    )
    await store(pool, silent)
    await score(pool, silent, error="no caller speech to judge")
    unscored = await _call(pool, ids["eve"])
    failed = await _call(pool, ids["eve"], error="the model's answer was not JSON after 3 attempts")
    http = browser_session
    await _sign_in(http, dashboard, email, PASSWORD)
    async with http.get(f"{dashboard}/calls/{silent_id}") as response:
        html = await response.text()
        assert response.status == 200 and "no speech from the rep" in html
        assert "Rubric failed:" in html and "no caller speech to judge" in html
    async with http.get(f"{dashboard}/calls/{unscored}") as response:
        html = await response.text()
        assert response.status == 200 and 'id="no-scorecard"' in html and 'id="metrics"' not in html
    async with http.get(f"{dashboard}/calls/{failed}") as response:
        html = await response.text()
        assert 'id="rubric-failed"' in html and "not JSON after 3 attempts" in html
        assert 'id="metrics"' in html and "Questions asked by the rep" in html
    async with http.get(f"{dashboard}/") as response:
        html = await response.text()
        assert "no scorecard yet" in html and "failed" in html


async def test_the_dashboard_mounts_beside_the_playground(
    pool: asyncpg.Pool, settings: Settings, world: World, browser_session: aiohttp.ClientSession
) -> None:
    """Under /dashboard/ of another app (as `rapport up` serves it) sign-in, links and cookies
    keep the prefix; /dashboard redirects to /dashboard/."""
    parent = web.Application()
    mount(parent, pool, settings)
    runner = web.AppRunner(parent)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    root = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        http = browser_session
        async with http.get(f"{root}/dashboard") as response:
            assert str(response.url).endswith("/dashboard/signin?next=/dashboard/")
        signed = await _sign_in(http, f"{root}/dashboard", world.east_manager, PASSWORD)
        assert signed.headers["Location"] == "/dashboard/"
        assert signed.cookies["rapport_session"]["path"] == "/dashboard"
        async with http.get(f"{root}/dashboard/") as response:
            html = await response.text()
        assert f'href="/dashboard/calls/{world.east_call}"' in html and "/dashboard/static/" in html
    finally:
        await runner.cleanup()


async def test_no_transcript_or_phone_number_in_the_logs(
    dashboard: str, world: World, browser_session: aiohttp.ClientSession, pool: asyncpg.Pool
) -> None:
    """Serving pages, the API and CSV logs ids and counts only: no words said, no phone number."""
    token = await create_api_token(pool, "logs", world.org)
    with structlog.testing.capture_logs() as logs:
        await _sign_in(browser_session, dashboard, world.east_manager, PASSWORD)
        async with browser_session.get(f"{dashboard}/calls/{world.east_call}") as response:
            assert "Routewise" in await response.text()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as api:
            async with api.get(f"{dashboard}/api/calls/{world.east_call}/scorecard") as response:
                assert response.status == 200
            async with api.get(f"{dashboard}/api/calls.csv") as response:
                assert response.status == 200 and world.east_call in await response.text()
    assert {entry["event"] for entry in logs} >= {"dashboard.call_viewed", "dashboard.csv_exported"}
    logged = repr(logs)
    for secret in ("Routewise", "spreadsheets", "Dana", "+15555550101", "5555550101", PASSWORD):
        assert secret not in logged
