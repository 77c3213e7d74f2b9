"""The calls list's query string: filters and page in, problems named, links back out.

Dates are calendar days in UTC (`from` and `to` both inclusive); scores are percentages (0–100)
in the URL and 0..1 in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from db.access import CallFilters

__all__ = ["FILTER_FIELDS", "ListQuery", "parse_list_query"]

FILTER_FIELDS = ("rep", "statechart", "from", "to", "min_score", "max_score")
PER_PAGE = 25


@dataclass(frozen=True)
class ListQuery:
    filters: CallFilters
    page: int
    # The filter fields as given (echoed into the form and the page links).
    raw: Mapping[str, str]
    problems: tuple[str, ...]

    def link(self, page: int) -> str:
        """The query string of another page of the same filtered list."""
        return urlencode({**{k: v for k, v in self.raw.items() if v}, "page": page})

    def filter_string(self) -> str:
        return urlencode({k: v for k, v in self.raw.items() if v})


def _day(raw: str, name: str, problems: list[str]) -> float | None:
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC).timestamp()
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a date (YYYY-MM-DD); ignored")
        return None


def _percent(raw: str, name: str, problems: list[str]) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        problems.append(f"{name}: {raw!r} is not a score from 0 to 100; ignored")
        return None
    return value / 100


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    # NUL cannot be stored in PostgreSQL text, so it cannot match anything: drop it.
    raw = {name: query.get(name, "").replace("\x00", "").strip() for name in FILTER_FIELDS}
    problems: list[str] = []
    until = _day(raw["to"], "to", problems)
    filters = CallFilters(
        rep_id=raw["rep"] or None,
        statechart=raw["statechart"] or None,
        since=_day(raw["from"], "from", problems),
        # "to" is inclusive: calls up to the end of that day.
        until=until + timedelta(days=1).total_seconds() if until is not None else None,
        min_score=_percent(raw["min_score"], "min score", problems),
        max_score=_percent(raw["max_score"], "max score", problems),
    )
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    return ListQuery(filters, page, raw, tuple(problems))
