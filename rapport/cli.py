"""The `rapport` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dashboard.commands import add_commands as add_dashboard_commands
from dashboard.commands import run as run_dashboard_command
from db.event_store import UnknownCall
from knowledge.commands import add_commands as add_knowledge_commands
from knowledge.commands import run as run_knowledge_command
from loadtest.command import add_load_command
from rapport.logs import configure_logging, get_logger
from rapport.settings import ConfigError, Settings
from rapport.stopping import run_until_stopped
from realtime.transports.scenario import ScenarioError
from statecharts.cli import add_statechart_commands, run_statechart_command
from statecharts.errors import StatechartError
from statecharts.load import UnknownStatechart

__all__ = ["main"]

log = get_logger(__name__)


class UserError(Exception):
    """Bad input from the person at the keyboard: printed plainly, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapport", description="Rapport voice agents.")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the local stack and the browser playground")
    up.add_argument("--host", help="address to listen on (default RAPPORT_HOST or 127.0.0.1)")
    up.add_argument("--port", type=int, help="port to listen on (default RAPPORT_PORT or 8080)")

    call = commands.add_parser("call", help="run a scripted call headless and write a report")
    call.add_argument("scenario", type=Path, help="scenario YAML file")
    call.add_argument("--report", type=Path, required=True, help="where to write the JSON report")

    events = commands.add_parser("events", help="print a call's stored event log")
    events.add_argument("call_id", help="the call id (from the report or the playground)")
    events.add_argument("--json", action="store_true", help="a JSON array of {seq, type, at, data}")

    replay = commands.add_parser("replay", help="rebuild a call from its events and check the projections")
    replay.add_argument("call_id")

    scorecard = commands.add_parser("scorecard", help="print a call's scorecard")
    scorecard.add_argument("call_id")
    scorecard.add_argument("--json", action="store_true", help="the scorecard as one JSON object")
    scorecard.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for one still being made"
    )
    add_dashboard_commands(commands)
    add_statechart_commands(commands)
    add_load_command(commands)
    add_knowledge_commands(commands)
    return parser


async def _call(settings: Settings, scenario_path: Path, report_path: Path) -> dict[str, object]:
    from rapport.stack import local_stack
    from realtime.call import CallFactory
    from realtime.session import Models
    from realtime.transports.scenario import load_scenario
    from realtime.transports.scripted import run_scripted_call

    scenario = load_scenario(scenario_path)
    calls = CallFactory.create(settings, Models.load(settings))
    # A wrong statechart name fails here, before services start and models warm up.
    calls.conversations.get(scenario.statechart)
    async with local_stack(settings) as stack:
        await calls.warm_up(scenario.statechart)
        report = await run_scripted_call(scenario, replace(calls, recorder_client=stack.client))
        await asyncio.to_thread(_write_report, report_path, report.data)
        if stack.runs_worker:
            # This process is the worker: the scorecard and summary are made before it exits.
            print("rapport: scoring the call...", file=sys.stderr, flush=True)
            await stack.finish_post_call(str(report.data["call_id"]))
    return report.data


async def _events(settings: Settings, call_id: str, as_json: bool) -> str:
    from db.event_store import read_events
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    try:
        stored = await read_events(pool, call_id)
    finally:
        await pool.close()
    if as_json:
        return json.dumps(
            [{"seq": e.seq, "type": e.type, "at": e.at, "data": dict(e.data)} for e in stored], indent=2
        )
    start = stored[0].at
    return "\n".join(
        f"{e.seq:>6}  +{e.at - start:>8.3f}s  {e.type:<20} {json.dumps(dict(e.data), separators=(', ', '='))}"
        for e in stored
    )


async def _replay(settings: Settings, call_id: str) -> list[str]:
    """Differences between the projections and the call rebuilt from its events alone."""
    from db.event_store import read_events
    from db.projections import load_projection, project
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    try:
        rebuilt = project(call_id, await read_events(pool, call_id))
        stored = await load_projection(pool, call_id)
    finally:
        await pool.close()
    if stored is None:
        return [f"call {call_id!r} has events but no projection"]
    problems = [
        f"calls.{name}: stored {getattr(stored.call, name)!r}, events say {getattr(rebuilt.call, name)!r}"
        for name in rebuilt.call.__dataclass_fields__
        if getattr(stored.call, name) != getattr(rebuilt.call, name)
    ]
    stored_turns = {t.seq: t for t in stored.turns}
    for turn in rebuilt.turns:
        if stored_turns.pop(turn.seq, None) != turn:
            problems.append(
                f"turns[seq={turn.seq}]: stored row differs from the events ({turn.speaker} turn)"
            )
    problems += [f"turns[seq={seq}]: stored but not in the events" for seq in stored_turns]
    return problems


class NotReady(Exception):
    """The call exists, its scorecard is not (fully) made yet: exit status 1."""


async def _scorecard(settings: Settings, call_id: str, wait_s: float) -> dict[str, object]:
    """The call's scorecard once its rubric is judged (or failed), waiting up to `wait_s`."""
    from db.projections import load_projection
    from db.scorecards import load_scorecard
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    try:
        if await load_projection(pool, call_id) is None:
            raise UnknownCall(f"no call {call_id!r} in the store")
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            card = await load_scorecard(pool, call_id)
            if card is not None and card.rubric_status != "pending":
                return card.as_json()
            if asyncio.get_running_loop().time() >= deadline:
                state = "has no scorecard yet" if card is None else "is still being scored"
                raise NotReady(f"call {call_id!r} {state} (waited {wait_s:g} s; try --wait)")
            await asyncio.sleep(0.25)
    finally:
        await pool.close()


def _write_report(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "call":
            data = asyncio.run(_call(settings, args.scenario, args.report))
            latency = data["latency"]
            assert isinstance(latency, dict)
            print(
                f"call {data['call_id']}: {len(data['turns'])} turns "  # type: ignore[arg-type]
                f"voice-to-voice ms {latency['voice_to_voice_ms']} "
                f"barge-in stop ms {latency['barge_in_stop_ms']}; report: {args.report}"
            )
            return 0
        if args.command == "load":
            from loadtest.command import load, load_args

            summary = asyncio.run(load(settings, load_args(args)))["summary"]
            print(
                f"{summary['calls']} calls, {summary['concurrency']} at a time: "
                f"overhead p50 {summary['overhead_ms_p50']} ms, p95 {summary['overhead_ms_p95']} ms; "
                f"events lost {summary['events_lost']}; errors {summary['errors']}; report: {args.report}"
            )
            return 1 if summary["errors"] or summary["events_lost"] else 0
        if args.command == "events":
            print(asyncio.run(_events(settings, args.call_id, args.json)))
            return 0
        if args.command == "replay":
            problems = asyncio.run(_replay(settings, args.call_id))
            for problem in problems:
                print(f"rapport replay: {problem}", file=sys.stderr)
            print(
                f"call {args.call_id}: "
                + ("projections differ" if problems else "projections match the events")
            )
            return 1 if problems else 0
        if args.command == "scorecard":
            try:
                card = asyncio.run(_scorecard(settings, args.call_id, args.wait))
            except NotReady as exc:
                print(f"rapport: {exc}", file=sys.stderr)
                return 1
            from scoring.report import scorecard_text

            print(json.dumps(card, indent=2) if args.json else scorecard_text(card))
            return 0
        statechart_status = run_statechart_command(args)
        if statechart_status is not None:
            return statechart_status
        dashboard_status = run_dashboard_command(settings, args)
        if dashboard_status is not None:
            return dashboard_status
        knowledge_status = run_knowledge_command(settings, args)
        if knowledge_status is not None:
            return knowledge_status
        if args.command == "up":
            from playground.server import serve

            host = args.host or settings.host
            port = args.port or settings.port
            run_until_stopped(serve(settings, host=host, port=port))
            return 0
    except KeyboardInterrupt:
        return 130
    except (ConfigError, UserError, ScenarioError, StatechartError, UnknownStatechart, UnknownCall) as exc:
        # The user's input is wrong: say what and where, without a traceback.
        print(f"rapport: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
