"""A serving process's heap once it has started: frozen, so garbage collection skips it.

Layer: api (process set-up for ``caseledger serve``). A serve process holds a large heap of
long-lived objects made at start-up (modules, the FastAPI app and its pydantic models, the
views, the services); every request allocates, so CPython's cyclic collector runs often and
every few seconds makes a full (generation 2) pass over all of it. Measured in a ``serve
--workers 2`` worker at 500 progress GETs/s: one full collection per worker every ~5 s, each
holding the GIL for 150-320 ms (the whole event loop stops: the requests queued behind it
made the p99). Frozen (``gc.freeze``), the start-up heap is left out of every collection;
what requests make is still collected, and reference counting frees as before.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_start_up_heap"]


def freeze_start_up_heap() -> int:
    """Collect the garbage start-up left, then move every object alive now into the permanent
    generation, which the collector never scans. Call once, after start-up, in a process that
    serves until it exits. Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
