"""`rapport statechart ...`: the commands a developer runs on definition files."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

from statecharts.coverage import Coverage
from statecharts.graph import FORMATS, render_graph
from statecharts.records import Statechart
from statecharts.registries import load_any, registry_for

__all__ = ["add_statechart_commands", "run_statechart_command"]


def add_statechart_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    statechart = commands.add_parser("statechart", help="validate, draw and test statechart definitions")
    sub = statechart.add_subparsers(dest="statechart_command", required=True)

    validate = sub.add_parser("validate", help="check definitions: every problem as FILE:LINE:COL")
    validate.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="definition files or folders")

    diff = sub.add_parser(
        "diff", help="what changed in states and transitions (exit 0 same, 1 different, 2 trouble)"
    )
    diff.add_argument("old", type=Path, help="the old definition file")
    diff.add_argument("new", type=Path, help="the new definition file")

    graph = sub.add_parser("graph", help="draw a definition (mermaid stateDiagram-v2 or SVG)")
    graph.add_argument("path", type=Path, help="a definition file")
    graph.add_argument("--format", choices=FORMATS, default="mermaid")
    graph.add_argument("--output", type=Path, help="write here instead of to stdout")

    test = sub.add_parser(
        "test", help="run conversations along paths covering every transition; report any never taken"
    )
    test.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="definition files or folders")
    test.add_argument(
        "--llm",
        choices=("scripted", "local"),
        default="scripted",
        help="conversation charts: the scripted LLM (default) or the local model",
    )
    test.add_argument("--json", action="store_true", help="the report as JSON")


def _files(paths: list[Path]) -> list[Path]:
    return [p for path in paths for p in (sorted(path.glob("*.yaml")) if path.is_dir() else [path])]


def _graph(args: argparse.Namespace) -> int:
    text = render_graph(load_any(args.path), args.format)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"rapport: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _cover(chart: Statechart, llm_choice: str) -> Coverage:
    from statecharts.path_test import cover_chart

    if chart.kind == "turn_taking":
        from statecharts.drive_turn_taking import TurnTakingDriver

        return await cover_chart(chart, TurnTakingDriver(chart))
    from statecharts.drive_conversation import ConversationDriver

    if llm_choice == "local":
        from rapport.settings import Settings
        from realtime.providers import build_llm

        local = build_llm(replace(Settings.from_env(), llm_provider="local"))
        return await cover_chart(chart, ConversationDriver(chart, registry_for(chart.kind), lambda: local))
    return await cover_chart(chart, ConversationDriver(chart, registry_for(chart.kind)))


def _test(args: argparse.Namespace) -> int:
    reports = [asyncio.run(_cover(load_any(path), args.llm)) for path in _files(args.paths)]
    if args.json:
        print(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        print("\n\n".join(r.report() for r in reports))
    # A real LLM's choices vary from run to run: its report informs, only the scripted one judges.
    judged = args.llm == "scripted"
    return 1 if judged and any(r.never_taken for r in reports) else 0


def _validate(args: argparse.Namespace) -> int:
    from statecharts.validate import NoDefinitions, definition_files, validate_files

    try:
        result = validate_files(definition_files(args.paths))
    except NoDefinitions as exc:
        print(f"rapport: {exc}", file=sys.stderr)
        return 2
    for problem in result.problems:
        print(problem)
    print(result.summary(), file=sys.stderr if result.problems else sys.stdout)
    return 1 if result.problems else 0


def _diff(args: argparse.Namespace) -> int:
    from statecharts.diff import diff_charts, format_diff
    from statecharts.errors import StatechartError
    from statecharts.parse import parse_statechart

    charts: list[Statechart] = []
    for path in (args.old, args.new):
        try:
            chart, problems = parse_statechart(path)
        except StatechartError as exc:  # unreadable
            chart, problems = None, list(exc.problems)
        if chart is None:
            for problem in problems:
                print(f"rapport: {problem}", file=sys.stderr)
            return 2
        charts.append(chart)
    old, new = charts
    changes = diff_charts(old, new)
    print(format_diff(old, new, changes))
    return 1 if changes else 0


def run_statechart_command(args: argparse.Namespace) -> int | None:
    """The exit status of a `statechart` command; None when `args` is another command."""
    if args.command != "statechart":
        return None
    handlers = {"graph": _graph, "test": _test, "validate": _validate, "diff": _diff}
    return handlers[args.statechart_command](args)
