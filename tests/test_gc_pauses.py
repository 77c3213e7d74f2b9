"""Start-up objects are kept out of the garbage collector's full passes."""

from __future__ import annotations

import gc

from realtime.gc_pauses import freeze_start_up


def test_what_start_up_loaded_is_no_longer_walked_by_full_collections() -> None:
    """After `freeze_start_up`, the objects the process already held sit in the permanent
    generation: a full collection during a call no longer walks them (the 100 ms pauses the load
    test found), and objects made later are collected as before."""
    loaded = [{"weight": i} for i in range(1_000)]
    try:
        freeze_start_up()
        assert gc.get_freeze_count() >= len(loaded)
        walked = {id(o) for o in gc.get_objects(generation=2)}
        assert not any(id(o) in walked for o in loaded)
        later: list[object] = []
        later.append(later)  # a cycle only the collector can free
        del later
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
