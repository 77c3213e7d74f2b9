"""The dashboard's `rapport` subcommands: `dashboard`, `manager add`, `token create`, `token revoke`.

Kept here so `rapport/cli.py` only registers and dispatches them. Heavy imports wait until a
command runs, so `rapport --help` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from dashboard.auth import MIN_PASSWORD
from rapport.settings import Settings
from rapport.stopping import run_until_stopped

__all__ = ["add_commands", "run"]


class _Refused(Exception):
    """Bad input for a dashboard command: printed plainly, exit status 2."""


def add_commands(commands: Any) -> None:
    """Register the subcommands on the `rapport` parser's subparsers."""
    board = commands.add_parser("dashboard", help="serve the managers' dashboard alone")
    board.add_argument("--host", help="address to listen on (default RAPPORT_HOST or 127.0.0.1)")
    board.add_argument("--port", type=int, help="port to listen on (default RAPPORT_PORT or 8080)")

    manager = commands.add_parser("manager", help="dashboard sign-ins").add_subparsers(
        dest="manager_command", required=True
    )
    add = manager.add_parser("add", help="add a manager who sees one team's calls")
    add.add_argument("email")
    add.add_argument("--name", required=True, help="shown on the dashboard")
    add.add_argument("--team", required=True, help="the team id whose calls they see")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )

    token = commands.add_parser("token", help="API tokens for workers and agents").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="create a token for one organisation's calls (shown once)")
    create.add_argument("name", help="what the token is for")
    create.add_argument("--org", required=True, help="the organisation id")
    create.add_argument("--days", type=int, default=90, help="how long it is valid (default 90)")
    revoke = token.add_parser("revoke", help="revoke an organisation's tokens of this name")
    revoke.add_argument("name")
    revoke.add_argument("--org", required=True, help="the organisation id")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise _Refused("the passwords differ")
    if len(password) < MIN_PASSWORD:
        raise _Refused(f"the password needs at least {MIN_PASSWORD} characters")
    return password


async def _add_manager(settings: Settings, args: argparse.Namespace, password: str) -> str:
    from db.access import DuplicateManager, UnknownTeam, add_manager
    from rapport.stack import connect_database

    pool = await connect_database(settings)
    try:
        manager = await add_manager(pool, args.email, args.name, args.team, password)
    except (UnknownTeam, DuplicateManager) as exc:
        raise _Refused(str(exc)) from None
    finally:
        await pool.close()
    return f"manager {manager.email} added: sees team {manager.team_id} ({manager.org_id})"


async def _token(settings: Settings, args: argparse.Namespace) -> str:
    """The new token (create), or what was revoked (revoke)."""
    from db.access import create_api_token, revoke_api_tokens
    from rapport.stack import connect_database

    if args.token_command == "create" and args.days < 1:
        raise _Refused("--days must be at least 1")
    pool = await connect_database(settings)
    try:
        if args.token_command == "create":
            return await create_api_token(pool, args.name, args.org, args.days)
        revoked = await revoke_api_tokens(pool, args.name, args.org)
    except LookupError as exc:
        raise _Refused(str(exc)) from None
    finally:
        await pool.close()
    if not revoked:
        raise _Refused(f"no live token named {args.name!r} in organisation {args.org!r}")
    return f"revoked {revoked} token(s) named {args.name!r} of organisation {args.org!r}"


def run(settings: Settings, args: argparse.Namespace) -> int | None:
    """Run the command if it is one of these (its exit status); None if it is not."""
    try:
        if args.command == "dashboard":
            from dashboard.app import serve

            host, port = args.host or settings.host, args.port or settings.port
            run_until_stopped(serve(settings, host=host, port=port))
            return 0
        if args.command == "manager":
            print(asyncio.run(_add_manager(settings, args, _password(args.password_stdin))))
            return 0
        if args.command == "token":
            print(asyncio.run(_token(settings, args)))
            if args.token_command == "create":
                print(
                    f"rapport: keep it now; only its hash is stored. It expires in {args.days} days.",
                    file=sys.stderr,
                )
            return 0
    except _Refused as exc:
        print(f"rapport: {exc}", file=sys.stderr)
        return 2
    return None
