"""Schema migrations: numbered SQL files in `db/migrations/`, applied once each, in order.

Runs on start. Concurrent starters serialise on an advisory lock, so two processes never apply
the same migration twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["MIGRATIONS", "Migration", "MigrationError", "migrate", "pending_migrations"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every process migrating this database.
_LOCK_KEY = 0x5241_5050  # "RAPP"


class MigrationError(RuntimeError):
    """A migration file is misnamed or failed to apply; the message names the file."""


@dataclass(frozen=True)
class Migration:
    version: int
    path: Path


def pending_migrations(directory: Path = MIGRATIONS) -> list[Migration]:
    """Every migration file, by version; a misnamed file or a repeated number is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} is also {found[version].path.name}")
        found[version] = Migration(version, path)
    return [found[v] for v in sorted(found)]


async def migrate(conn: asyncpg.Connection | PoolConnectionProxy, directory: Path = MIGRATIONS) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied now."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in pending_migrations(directory):
            if migration.version in done:
                continue
            try:
                await conn.execute(migration.path.read_text(encoding="utf-8"))
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{migration.path}: {exc}") from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.path.name,
            )
            applied_now.append(migration.version)
    return applied_now
