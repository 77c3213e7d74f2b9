"""The dashboard in headless Chromium: pages load, plots render, cut text shows, live updates.

Screenshots go to the test's tmp dir and to /tmp/rapport-dashboard-*.png for a person to look at.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from dashboard.app import build_app
from db.access import add_manager
from db.scorecards import save_rubric
from rapport.settings import Settings
from tests.chromium import CHROMIUM, DevTools, open_page
from tests.dashboard_calls import RUBRIC, CallScript, make_org, sales_call, score, store, unique

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="bin/test installs Debian's chromium")

PASSWORD = "correct horse battery"
SHOTS = Path(tempfile.gettempdir())


@pytest.fixture
async def dashboard(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[str]:
    runner = web.AppRunner(build_app(pool, settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
async def team(pool: asyncpg.Pool) -> tuple[str, str]:
    """A rep and their manager's email, in an organisation of their own."""
    _org, ids = await make_org(pool, {"team": ["jordan"]})
    email = f"{unique('lee')}@example.com"
    await add_manager(pool, email, "Lee Manager", ids["team"], PASSWORD)
    return ids["jordan"], email


async def _sign_in(page: DevTools, url: str, email: str) -> None:
    """Fill in and submit the sign-in form like a person would."""
    await page.goto(f"{url}/signin", "document.querySelector('input[name=email]') !== null")
    await page.evaluate(
        f"document.querySelector('input[name=email]').value = {email!r};"
        f"document.querySelector('input[name=password]').value = {PASSWORD!r};"
        "document.querySelector('.signin form').submit()"
    )
    await page.wait_for("location.pathname === '/' && document.querySelector('table.calls') !== null")


def _save(page_shot: Path, tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / page_shot.name, SHOTS / page_shot.name


async def test_the_call_page_in_chromium(
    dashboard: str, pool: asyncpg.Pool, team: tuple[str, str], tmp_path: Path
) -> None:
    """The call page shows the scorecard against its ranges, the rubric with evidence, both SVG
    plots with content (a barge-in marked), the cut-off words struck through, and the path."""
    rep, email = team
    call_id = unique("call")
    events = sales_call(call_id, rep_id=rep, wall_time=time.time())
    await store(pool, events)
    await score(pool, events, rubric=RUBRIC, overall=0.75)
    async with open_page("about:blank", tmp_path) as page:
        await _sign_in(page, dashboard, email)
        await page.screenshot(*_save(Path("rapport-dashboard-calls.png"), tmp_path))
        await page.goto(f"{dashboard}/calls/{call_id}", "document.querySelector('#timeline svg') !== null")
        seen = await page.evaluate(
            """({
            segments: document.querySelectorAll('svg.timeline rect.seg').length,
            repSegments: document.querySelectorAll('svg.timeline rect.seg.caller').length,
            cutSegments: document.querySelectorAll('svg.timeline rect.seg.cut').length,
            bargeIns: document.querySelectorAll('svg.timeline .barge-in').length,
            timelineWidth: document.querySelector('svg.timeline').getBoundingClientRect().width,
            bars: [...document.querySelectorAll('svg.latency rect.bar')].map(r => r.getBBox().height),
            cut: [...document.querySelectorAll('.turn.interrupted del.cut')].map(d => d.textContent),
            cutStyle: getComputedStyle(document.querySelector('del.cut')).textDecorationLine,
            heard: document.querySelector('.turn.interrupted .said').firstChild.textContent.trim(),
            path: [...document.querySelectorAll('ol.path .stage')].map(s => s.textContent),
            metrics: document.querySelectorAll('#metrics tbody tr').length,
            criteria: [...document.querySelectorAll('.criterion h4')].map(h => h.textContent),
            evidence: document.querySelectorAll('.criterion .evidence').length,
            diagramStates: [...document.querySelectorAll('#diagram g.sc-state')].map(g => g.dataset.state),
            takenEdges: [...document.querySelectorAll('#diagram g.sc-transition.sc-taken')]
                .map(g => [...g.querySelectorAll('text.sc-taken')].map(t => t.textContent).join('|')),
            visited: [...document.querySelectorAll('#diagram rect.sc-visited')]
                .map(r => r.parentNode.dataset.state),
            diagramWidth: document.querySelector('#diagram svg').getBoundingClientRect().width,
            versionNote: document.getElementById('diagram-version')?.textContent ?? null,
            })"""
        )
        await page.screenshot(*_save(Path("rapport-dashboard-call.png"), tmp_path))
        await page.screenshot(*_save(Path("rapport-statechart-call.png"), tmp_path), selector="#path")
    assert seen["segments"] >= 10 and seen["repSegments"] == 5 and seen["cutSegments"] == 1
    assert seen["bargeIns"] == 1 and seen["timelineWidth"] > 500
    # One bar per reply that answered the rep (the greeting answers nobody), each with a height.
    assert len(seen["bars"]) == 5 and all(h > 0 for h in seen["bars"])
    assert seen["heard"] == "Mostly spreadsheets, and honestly"
    assert seen["cut"] == ["our dispatchers spend half the morning on it."]
    assert seen["cutStyle"] == "line-through"
    assert seen["path"] == ["opening", "discovery", "objections", "closing", "wrap_up"]
    assert seen["metrics"] == 8 and seen["criteria"] == [c["criterion"] for c in RUBRIC]
    assert seen["evidence"] == 3
    # The chart the call ran, drawn with its path: four moves, numbered in order, over five stages.
    assert seen["diagramStates"] == ["opening", "discovery", "objections", "closing", "wrap_up", "done"]
    assert seen["takenEdges"] == [
        "#1 rep_stated_purpose",
        "#2 rep_pitched",
        "#3 objections_handled",
        "#4 next_step_agreed",
    ]
    assert set(seen["visited"]) == {"opening", "discovery", "objections", "closing", "wrap_up"}
    assert seen["diagramWidth"] > 300
    # The stored call says it ran version "test": not the file's hash today.
    assert "ran version test of sales_roleplay" in " ".join(seen["versionNote"].split())


async def test_a_new_scorecard_appears_without_a_reload(
    dashboard: str, pool: asyncpg.Pool, team: tuple[str, str], tmp_path: Path
) -> None:
    """With the call page open, the metrics appear when stored and then the rubric when judged;
    the open calls list shows the new status too. Nobody presses reload."""
    rep, email = team
    call_id = unique("call")
    events = sales_call(call_id, rep_id=rep, wall_time=time.time())
    await store(pool, events)
    async with open_page("about:blank", tmp_path) as page:
        await _sign_in(page, dashboard, email)
        await page.goto(f"{dashboard}/calls/{call_id}", "document.getElementById('no-scorecard') !== null")
        await score(pool, events)
        await page.wait_for(
            "document.getElementById('metrics') !== null"
            " && document.getElementById('rubric-pending') !== null"
        )
        await page.screenshot(*_save(Path("rapport-dashboard-pending.png"), tmp_path))
        await save_rubric(pool, call_id, rubric_name="sales_discovery", criteria=RUBRIC, score=0.8)
        await page.wait_for("document.querySelectorAll('#rubric .criterion').length === 3")
        assert await page.evaluate("document.getElementById('score').textContent") == "80%"

        second = unique("call")
        later = sales_call(second, rep_id=rep, wall_time=time.time() + 60)
        await page.goto(f"{dashboard}/", "document.querySelector('table.calls') !== null")
        await store(pool, later)
        row = f"document.querySelector('tr[data-call-id=\"{second}\"] .status')"
        await page.wait_for(f"{row} !== null && {row}.textContent === 'no scorecard yet'")
        await score(pool, later, error="the model timed out")
        await page.wait_for(f"{row}.textContent === 'failed'")
        await page.screenshot(*_save(Path("rapport-dashboard-live-list.png"), tmp_path))


async def test_the_statecharts_page_draws_every_definition(
    dashboard: str, pool: asyncpg.Pool, team: tuple[str, str], settings: Settings, tmp_path: Path
) -> None:
    """Signed-in managers only; one diagram per definition file (here the team's calls have run
    every chart), each naming all its states and styled by its own <style>, which the page's
    Content-Security-Policy allows by hash."""
    rep, email = team
    for path in settings.statechart_dir.glob("*.yaml"):
        script = CallScript(unique("call"), rep_id=rep, wall_time=time.time(), statechart=path.stem)
        await store(pool, script.rep("Hello?", 1.0).end())
    async with open_page("about:blank", tmp_path) as page:
        await page.goto(f"{dashboard}/statecharts", "location.pathname === '/signin'")
        await _sign_in(page, dashboard, email)
        await page.goto(f"{dashboard}/statecharts", "document.querySelector('.diagram svg') !== null")
        charts = await page.evaluate(
            """Object.fromEntries([...document.querySelectorAll('section.card')].map(s => [
                s.id, [...s.querySelectorAll('g.sc-state')].map(g => g.dataset.state)]))"""
        )
        # The diagram's own <style> applies under the page's Content-Security-Policy (by its hash).
        initial_fill = await page.evaluate(
            "getComputedStyle(document.querySelector('#chart-sales_roleplay .sc-box.sc-initial')).fill"
        )
        await page.screenshot(*_save(Path("rapport-statechart-list.png"), tmp_path))
        await page.screenshot(
            *_save(Path("rapport-statechart-turn-taking.png"), tmp_path), selector="#chart-turn_taking"
        )
    names = sorted(p.stem for p in settings.statechart_dir.glob("*.yaml"))
    assert sorted(charts) == [f"chart-{name}" for name in names]
    assert len(charts["chart-turn_taking"]) == 9
    assert initial_fill == "rgb(241, 245, 249)"
    assert charts["chart-sales_roleplay"] == [
        "opening",
        "discovery",
        "objections",
        "closing",
        "wrap_up",
        "done",
    ]
