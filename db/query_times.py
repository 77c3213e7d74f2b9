"""Every query a connection issues, timed by asyncpg's query logger and grouped by statement.

A pool made by `timed_pool` attaches the logger to each connection it opens, so whatever runs on
it (an activity added later, an internal query of asyncpg's) is timed without naming it anywhere.
A query's time is asyncpg's `LoggedQuery.elapsed`: from sending the statement to its result
decoded, including any wait for the event loop; `baseline` measures that floor with `SELECT 1`.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from asyncpg.connection import LoggedQuery

__all__ = ["BASELINE_EVERY_S", "QueryTimes", "TimedStatement", "baseline", "statement", "timed_pool"]

BASELINE_EVERY_S = 0.02

_COMMENT = re.compile(r"--[^\n]*")
_LITERAL = re.compile(r"'(?:[^']|'')*'|(?<![\w$])\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")


def statement(sql: str) -> str:
    """The query's shape: comments dropped, literals as `?`, whitespace collapsed."""
    return _SPACE.sub(" ", _LITERAL.sub("?", _COMMENT.sub("", sql))).strip()


@dataclass(frozen=True)
class TimedStatement:
    """One statement's timings, as one process hands them to another (JSON-ready)."""

    who: str
    statement: str
    ms: list[float]
    errors: int


@dataclass
class QueryTimes:
    """Each query's elapsed ms, keyed by who issued it and its shape; `on` is the window."""

    samples: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    on: bool = True

    def logger(self, who: str) -> Callable[[LoggedQuery], None]:
        def log(query: LoggedQuery) -> None:
            if not self.on:
                return
            key = (who, statement(query.query))
            self.samples[key].append(query.elapsed * 1000)
            if query.exception is not None:
                self.errors[key] += 1

        return log

    def attach(self, who: str) -> Callable[[asyncpg.Connection], Coroutine[Any, Any, None]]:
        """A pool's `init`: every connection it opens logs its queries as `who`'s."""

        async def init(conn: asyncpg.Connection) -> None:
            conn.add_query_logger(self.logger(who))

        return init

    def export(self) -> list[TimedStatement]:
        return [
            TimedStatement(who, s, ms, self.errors.get((who, s), 0)) for (who, s), ms in self.samples.items()
        ]

    def merge(self, timed: list[TimedStatement]) -> None:
        for t in timed:
            self.samples[(t.who, t.statement)].extend(t.ms)
            self.errors[(t.who, t.statement)] += t.errors


async def timed_pool(url: str, times: QueryTimes, who: str, size: int) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=size, init=times.attach(who))
    assert pool is not None
    return pool


async def baseline(url: str, times: QueryTimes, who: str) -> None:
    """`SELECT 1` on a connection of its own every BASELINE_EVERY_S, timed as `who`'s, until cancelled."""
    conn = await asyncpg.connect(url)
    conn.add_query_logger(times.logger(who))
    try:
        while True:
            await conn.fetchval("SELECT 1")
            await asyncio.sleep(BASELINE_EVERY_S)
    finally:
        await conn.close()
