"""Who sees what: managers and their sessions, API tokens, and the calls each may see.

A manager sees a call iff the call's rep is on the manager's team (so, the same organisation);
an API token sees every call whose rep's team is in the token's organisation. Only hashes of
passwords (scrypt, salted) and of session and API tokens (sha256) are stored. A call someone
may not see is, to them, exactly like a call that does not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "CallFilters",
    "CallList",
    "DuplicateManager",
    "ListedCall",
    "Manager",
    "OrgViewer",
    "UnknownTeam",
    "Viewer",
    "add_manager",
    "all_teams",
    "close_session",
    "create_api_token",
    "each_call",
    "find_call",
    "has_managers",
    "list_calls",
    "list_stamp",
    "open_session",
    "revoke_api_tokens",
    "session_manager",
    "token_org",
    "verify_manager",
    "visible_call",
    "visible_reps",
    "visible_statecharts",
]

_T = TypeVar("_T")

# How long an API token lasts unless its creator says otherwise.
TOKEN_DAYS = 90

Executor = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool

# scrypt at n=2**14, r=8: about 16 MB and tens of milliseconds per guess, per OWASP's minimum.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAX_MEM = 64 * 1024 * 1024
# Password hashing has a thread of its own, not the loop's default pool that calls (and every other
# `to_thread`) share: a burst of sign-ins queues behind itself and holds up nothing else.
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapport-scrypt")


async def _hashing(work: Callable[..., _T], *args: str) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work, *args)


class UnknownTeam(LookupError):
    """A manager was added to a team that does not exist."""


class DuplicateManager(ValueError):
    """A manager with this email already exists."""


@dataclass(frozen=True)
class Manager:
    email: str
    name: str
    team_id: str
    org_id: str


@dataclass(frozen=True)
class OrgViewer:
    """An API token's holder: sees its whole organisation."""

    org_id: str


Viewer = Manager | OrgViewer


@dataclass(frozen=True)
class CallFilters:
    rep_id: str | None = None
    # Unix seconds on calls.started_wall: since inclusive, until exclusive.
    since: float | None = None
    until: float | None = None
    statechart: str | None = None
    # On the rubric's overall score, 0..1; a call without a score never matches a score filter.
    min_score: float | None = None
    max_score: float | None = None


@dataclass(frozen=True)
class ListedCall:
    call_id: str
    rep_id: str
    rep_name: str
    team_id: str
    statechart: str | None
    started_wall: float | None
    duration_s: float | None
    end_reason: str | None
    # None: no scorecard yet.
    rubric_status: str | None
    score: float | None
    talk_ratio: float | None
    questions: int | None


@dataclass(frozen=True)
class CallList:
    calls: tuple[ListedCall, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return _pages(self.total, self.per_page)


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


# --- passwords and managers ---------------------------------------------------------------------


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=_SCRYPT_MAX_MEM
    )


def _hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${_scrypt(password, salt).hex()}"


def _password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAX_MEM
    )
    return hmac.compare_digest(candidate, bytes.fromhex(digest))


# Checked against when the email is unknown, so a wrong email costs the same time as a wrong password.
_DUMMY_HASH = _hash_password(secrets.token_hex(16))

_MANAGER_SELECT = (
    "SELECT m.email, m.name, m.team_id, t.org_id, m.password_hash"
    " FROM managers m JOIN teams t USING (team_id)"
)


def _manager(row: asyncpg.Record) -> Manager:
    return Manager(row["email"], row["name"], row["team_id"], row["org_id"])


async def add_manager(conn: Executor, email: str, name: str, team_id: str, password: str) -> Manager:
    """A new manager of `team_id`; UnknownTeam or DuplicateManager if that cannot be."""
    password_hash = await _hashing(_hash_password, password)
    try:
        await conn.execute(
            "INSERT INTO managers (email, name, team_id, password_hash) VALUES ($1, $2, $3, $4)",
            email.strip().lower(),
            name,
            team_id,
            password_hash,
        )
    except asyncpg.ForeignKeyViolationError:
        raise UnknownTeam(f"no team {team_id!r}") from None
    except asyncpg.UniqueViolationError:
        raise DuplicateManager(f"a manager {email.strip().lower()!r} already exists") from None
    manager = await _load_manager(conn, email)
    assert manager is not None
    return manager


async def has_managers(conn: Executor) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM managers)"))


async def all_teams(conn: Executor) -> Sequence[tuple[str, str]]:
    """(team_id, "Organisation: Team") of every team, for choosing a first manager's."""
    rows = await conn.fetch(
        "SELECT t.team_id, o.name || ': ' || t.name AS label FROM teams t JOIN orgs o USING (org_id)"
        " ORDER BY o.name, t.name"
    )
    return [(row["team_id"], row["label"]) for row in rows]


async def _load_manager(conn: Executor, email: str) -> Manager | None:
    row = await conn.fetchrow(f"{_MANAGER_SELECT} WHERE m.email = $1", email.strip().lower())
    return _manager(row) if row is not None else None


async def verify_manager(conn: Executor, email: str, password: str) -> Manager | None:
    """The manager if the password is theirs; None for a wrong password or an unknown email alike."""
    wanted = email.strip().lower()
    # PostgreSQL text cannot hold NUL: such an email matches nobody (and must not be a server error).
    row = None if "\x00" in wanted else await conn.fetchrow(f"{_MANAGER_SELECT} WHERE m.email = $1", wanted)
    stored = row["password_hash"] if row is not None else _DUMMY_HASH
    matches = await _hashing(_password_matches, password, stored)
    return _manager(row) if row is not None and matches else None


# --- sessions and tokens ------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(conn: Executor, manager: Manager, lifetime_s: float) -> str:
    """A new session token for the manager's cookie; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO manager_sessions (token_hash, email, expires_at)"
        " VALUES ($1, $2, now() + make_interval(secs => $3))",
        _digest(token),
        manager.email,
        float(lifetime_s),
    )
    return token


async def session_manager(conn: Executor, token: str) -> Manager | None:
    """The signed-in manager of an unexpired session, else None."""
    row = await conn.fetchrow(
        f"{_MANAGER_SELECT} JOIN manager_sessions s USING (email)"
        " WHERE s.token_hash = $1 AND s.expires_at > now()",
        _digest(token),
    )
    return _manager(row) if row is not None else None


async def close_session(conn: Executor, token: str) -> None:
    # Expired sessions go too, so the table does not grow with every sign-in ever made.
    await conn.execute(
        "DELETE FROM manager_sessions WHERE token_hash = $1 OR expires_at <= now()", _digest(token)
    )


async def create_api_token(conn: Executor, name: str, org_id: str, days: int = TOKEN_DAYS) -> str:
    """A new API token for the organisation, valid for `days`, shown once; only its hash is stored."""
    token = f"rpt_{secrets.token_urlsafe(32)}"
    try:
        await conn.execute(
            "INSERT INTO api_tokens (token_hash, name, org_id, expires_at)"
            " VALUES ($1, $2, $3, now() + make_interval(days => $4))",
            _digest(token),
            name,
            org_id,
            days,
        )
    except asyncpg.ForeignKeyViolationError:
        raise LookupError(f"no organisation {org_id!r}") from None
    return token


async def revoke_api_tokens(conn: Executor, name: str, org_id: str) -> int:
    """Revoke the organisation's live tokens of this name; how many there were."""
    revoked = await conn.fetch(
        "UPDATE api_tokens SET revoked_at = now()"
        " WHERE name = $1 AND org_id = $2 AND revoked_at IS NULL RETURNING token_hash",
        name,
        org_id,
    )
    return len(revoked)


async def token_org(conn: Executor, token: str) -> str | None:
    """The organisation of a live token: not revoked, not expired."""
    value = await conn.fetchval(
        "SELECT org_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
        _digest(token),
    )
    return str(value) if value is not None else None


# --- visibility ---------------------------------------------------------------------------------

# Every visibility query starts from here: the calls whose rep is on a team the viewer may see.
# $1 is the viewer's organisation, $2 the manager's team (NULL for an organisation's token).
_VISIBLE = (
    " FROM calls c JOIN reps r ON r.rep_id = c.rep_id JOIN teams t ON t.team_id = r.team_id"
    " LEFT JOIN scorecards s ON s.call_id = c.call_id"
    " WHERE t.org_id = $1 AND ($2::text IS NULL OR r.team_id = $2)"
)


_LISTED = (
    "SELECT c.call_id, r.rep_id, r.name AS rep_name, r.team_id, c.statechart, c.started_wall,"
    " c.ended_at - c.started_at AS duration_s, c.end_reason, s.rubric_status, s.score,"
    " (s.metrics->>'talk_ratio')::float8 AS talk_ratio, (s.metrics->>'questions')::int AS questions"
)


_NEWEST_FIRST = " ORDER BY c.started_wall DESC NULLS LAST, c.call_id"


def _scope(viewer: Viewer) -> list[object]:
    return [viewer.org_id, viewer.team_id if isinstance(viewer, Manager) else None]


def _where(filters: CallFilters, args: list[object]) -> str:
    """The filters as SQL conditions, appending their values to `args`."""
    conditions = [
        ("r.rep_id = ${}", filters.rep_id),
        ("c.started_wall >= ${}", filters.since),
        ("c.started_wall < ${}", filters.until),
        ("c.statechart = ${}", filters.statechart),
        ("s.score >= ${}", filters.min_score),
        ("s.score <= ${}", filters.max_score),
    ]
    sql = ""
    for template, value in conditions:
        if value is not None:
            args.append(value)
            sql += " AND " + template.format(len(args))
    return sql


async def list_calls(
    conn: Executor, viewer: Viewer, filters: CallFilters, page: int = 1, per_page: int = 25
) -> CallList:
    """One page of the calls the viewer may see, newest first, and how many match in all."""
    per_page = max(1, per_page)
    args = _scope(viewer)
    where = _VISIBLE + _where(filters, args)
    total = int(await conn.fetchval(f"SELECT count(*){where}", *args))
    # A page past the end is the last one (a huge page once overflowed OFFSET: a 500).
    page = min(max(1, page), _pages(total, per_page))
    rows = await conn.fetch(
        f"{_LISTED}{where}{_NEWEST_FIRST} LIMIT {per_page} OFFSET {(page - 1) * per_page}", *args
    )
    return CallList(tuple(ListedCall(**dict(row)) for row in rows), total, page, per_page)


async def each_call(
    conn: Executor, viewer: Viewer, filters: CallFilters, batch: int = 1000
) -> AsyncIterator[tuple[ListedCall, ...]]:
    """Every call `list_calls` pages through, `batch` at a time, in its order.

    Each batch starts after the last call of the one before (not at an OFFSET, which reads and
    skips every earlier row again), and is its own query: a slow reader of an export holds no
    connection between batches.
    """
    after: tuple[float | None, str] | None = None
    while True:
        args = _scope(viewer)
        where = _VISIBLE + _where(filters, args)
        if after is not None:
            args += list(after)
            wall, call = f"${len(args) - 1}::float8", f"${len(args)}"
            # After (wall, call) in "newest first, no start time last, then by id".
            where += (
                f" AND CASE WHEN {wall} IS NULL THEN c.started_wall IS NULL AND c.call_id > {call}"
                f" ELSE c.started_wall < {wall} OR c.started_wall IS NULL"
                f" OR (c.started_wall = {wall} AND c.call_id > {call}) END"
            )
        rows = await conn.fetch(f"{_LISTED}{where}{_NEWEST_FIRST} LIMIT {batch}", *args)
        if not rows:
            return
        calls = tuple(ListedCall(**dict(row)) for row in rows)
        yield calls
        after = (calls[-1].started_wall, calls[-1].call_id)


async def find_call(conn: Executor, viewer: Viewer, call_id: str) -> ListedCall | None:
    """The call's list row if the viewer may see it; None for a hidden call and a missing one alike."""
    if "\x00" in call_id:
        return None  # PostgreSQL text cannot hold NUL, so no such call can exist
    row = await conn.fetchrow(f"{_LISTED}{_VISIBLE} AND c.call_id = $3", *_scope(viewer), call_id)
    return ListedCall(**dict(row)) if row is not None else None


async def visible_call(conn: Executor, viewer: Viewer, call_id: str) -> bool:
    return await find_call(conn, viewer, call_id) is not None


async def list_stamp(conn: Executor, viewer: Viewer, call_id: str | None = None) -> str:
    """Changes whenever a visible call starts or ends or its scorecard changes: live pages poll it."""
    args = _scope(viewer)
    only = ""
    if call_id is not None:
        args.append(call_id)
        only = " AND c.call_id = $3"
    row = await conn.fetchrow(
        "SELECT count(*) AS calls, count(s.call_id) AS cards, max(s.updated_at) AS changed,"
        f" count(c.ended_at) AS ended{_VISIBLE}{only}",
        *args,
    )
    assert row is not None
    changed = row["changed"].timestamp() if row["changed"] is not None else 0
    return f"{row['calls']}-{row['cards']}-{changed:.6f}-{row['ended']}"


async def visible_reps(conn: Executor, viewer: Viewer) -> Sequence[tuple[str, str]]:
    """(rep_id, name) of the reps whose calls the viewer may see, for the list's filter."""
    rows = await conn.fetch(
        "SELECT r.rep_id, r.name FROM reps r JOIN teams t USING (team_id)"
        " WHERE t.org_id = $1 AND ($2::text IS NULL OR r.team_id = $2) ORDER BY r.name",
        *_scope(viewer),
    )
    return [(row["rep_id"], row["name"]) for row in rows]


async def visible_statecharts(conn: Executor, viewer: Viewer) -> Sequence[str]:
    rows = await conn.fetch(
        f"SELECT DISTINCT c.statechart{_VISIBLE} AND c.statechart IS NOT NULL ORDER BY 1", *_scope(viewer)
    )
    return [row["statechart"] for row in rows]
