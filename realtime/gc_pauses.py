"""Keeps the garbage collector's full passes short on an agent's event loop.

A full (generation 2) collection walks every object the process holds. With the models, livekit
and their modules loaded, one took 100-120 ms in an agent process of 20 calls (found by the load
test): a pause that every caller of the process heard as a late reply. What start-up loads lives
as long as the process, so once it is loaded it is moved out of the collector's sight
(`gc.freeze`); what the calls allocate is collected as before.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_start_up"]


def freeze_start_up() -> None:
    """Call once the process has loaded what it keeps for good, before the first call."""
    gc.collect()
    gc.freeze()
