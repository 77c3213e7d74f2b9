"""Long-running commands stop on SIGINT (Ctrl-C) and SIGTERM (kill, systemd, a container runtime)
alike, through every `finally` and `async with` below them: the Temporal dev server and the private
PostgreSQL stop with the process instead of living on.

asyncio's own Ctrl-C handling is not enough: it applies only while SIGINT has Python's default
handler, and a library `rapport up` imports replaces it (Ctrl-C then did nothing), and SIGTERM
ends a process without any cleanup at all.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_until_stopped"]


def run_until_stopped(main: Coroutine[Any, Any, None]) -> None:
    """Run `main`; SIGINT or SIGTERM cancels it, and once it has unwound, KeyboardInterrupt."""

    async def stoppable() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await main
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None

    asyncio.run(stoppable())
