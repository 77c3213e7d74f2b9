"""A child Python process that reports as JSON lines: run it, read its messages.

The load runs its parts in processes of their own (the load's callers, the agent processes); each
prints its messages as one JSON object a line after a marker and anything else (logs) as it is.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator
from typing import Any

__all__ = ["child_messages"]

# A result line may hold every timing of a run.
LINE_LIMIT = 1 << 28


async def child_messages(
    module: str, argument: str, mark: str, *, env: dict[str, str] | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """Run `python -m module argument`; yield each message it prints after `mark`, pass its other
    lines on to stderr. Close the iterator (`contextlib.aclosing`) to stop the child."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, argument, stdout=asyncio.subprocess.PIPE, env=env, limit=LINE_LIMIT
    )
    assert process.stdout is not None
    try:
        async for line in process.stdout:
            text = line.decode()
            if text.startswith(mark):
                yield json.loads(text[len(mark) :])
            else:
                sys.stderr.write(text)
        raise RuntimeError(f"{module} ended without a result (exit status {await process.wait()})")
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
