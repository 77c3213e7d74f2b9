"""`rapport up` stopped by SIGTERM (what kill, systemd and container runtimes send) or Ctrl-C stops
what it started: the Temporal dev server and the private PostgreSQL do not live on as orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT
from tests.loopback import free_port

_STARTED = "rapport: playground at"
_START_S = 300.0
_STOP_S = 60.0


def _postmaster(state: Path) -> psutil.Process | None:
    """The private PostgreSQL's server process, from its pid file."""
    pid_file = state / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    return psutil.Process(pid) if psutil.pid_exists(pid) else None


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_rapport_up_and_everything_it_started(tmp_path: Path, stop: signal.Signals) -> None:
    """Once `rapport up` serves, SIGTERM or SIGINT ends it (exit 130) within a minute, and its
    Temporal dev server and private PostgreSQL are gone with it. (SIGTERM left both running; SIGINT
    did nothing at all, since a library had replaced Python's handler.)"""
    state = tmp_path / "state"
    state.mkdir()
    # The embedded model is assembled (1 GB) once under the project's state folder: reuse it.
    shared = ROOT / ".state" / "models"
    shared.mkdir(parents=True, exist_ok=True)
    (state / "models").symlink_to(shared, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEMPORAL_ADDRESS")}
    env["RAPPORT_STATE_DIR"] = str(state)
    log = tmp_path / "up.log"  # a file, not a pipe: nobody reading must not block the server
    with log.open("w") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "rapport.cli", "up", "--port", str(free_port())],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + _START_S
        while _STARTED not in log.read_text() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _STARTED in log.read_text(), log.read_text()[-3000:]
        started = psutil.Process(up.pid).children(recursive=True)
        postgres = _postmaster(state)
        assert postgres is not None and any("temporal" in p.name() for p in started), started
        up.send_signal(stop)
        try:
            status = up.wait(_STOP_S)
        except subprocess.TimeoutExpired:
            status = None
        assert status == 130, f"exit status {status} after {stop.name}:\n{log.read_text()[-3000:]}"
        _gone, alive = psutil.wait_procs([*started, postgres], timeout=_STOP_S)
        assert not alive, [(p.pid, p.name()) for p in alive]
    finally:
        if up.poll() is None:
            up.kill()
