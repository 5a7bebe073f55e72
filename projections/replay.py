"""Rebuild read models from zero, reading the log once, into fresh stores.

Layer: projections. DESIGN invariant 4: a view is a pure function of the log, so it can be
built again beside the live one and either compared with it (digests of every row, at the
same position) or put in its place. A rebuild never writes into the live view: each view is
built in a fresh store of its own (another SQLite file, another PostgreSQL schema) and then
swapped in, in one transaction of the live store (``projections.store.swap_in``), so a
reader sees the old complete view or the new one, never a view half built. Every view is
fed from one pass over the log (``projections.feed``): reading and decoding a notification
costs more than most handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.feed import catch_up, feed, track_to
from projections.store import drop_rebuild_schema, swap_in, table_digest
from projections.view import View, open_view, position

__all__ = ["REBUILD_PAGE", "Rebuild", "RebuildAll", "discard", "rebuild_all"]

REBUILD_PAGE: Final = 5000
"""Notifications per page (and per view transaction) of a rebuild: fewer, larger commits."""

SUFFIX: Final = "__rebuild"


@dataclass(frozen=True)
class Rebuild:
    """One view rebuilt from zero to ``position``: the digests of the live rows (before a
    swap, when swapped) and of the rebuilt ones, the events it applied and the time its
    handlers took."""

    name: str
    position: int
    live_digest: str
    rebuilt_digest: str
    events: int
    seconds: float

    @property
    def identical(self) -> bool:
        return self.live_digest == self.rebuilt_digest


@dataclass(frozen=True)
class RebuildAll:
    """Each view's rebuild, and the pass as a whole: log events read, decode and total time
    (the build and, when swapped, the swaps; not the digests)."""

    views: tuple[Rebuild, ...]
    log_events: int
    decode_seconds: float
    seconds: float
    swapped: bool = False

    @property
    def identical(self) -> bool:
        return all(r.identical for r in self.views)


def rebuild_all(
    classes: Sequence[type[View]],
    storage: StorageURL,
    app: LedgerApplication,
    *,
    swap: bool = False,
    digests: bool = True,
    page: int = REBUILD_PAGE,
    between: Callable[[], None] = lambda: None,
) -> RebuildAll:
    """Rebuild every view of ``classes`` from zero in fresh stores, reading the log once.

    Without ``swap``: the live views are caught up to the same position and compared (the
    fresh stores are thrown away). With ``swap``: each fresh view is caught up with what the
    log gained meanwhile and put in the live one's place (the repair of a view that differs
    from the log; ``serve`` may keep reading and following). ``digests`` (of the live rows
    before and the rebuilt rows) can be skipped when only the swap matters. ``between`` runs
    before each page of the log (a test's or a caller's hook)."""
    head = app.recorder.max_notification_id() or 0
    lives = [open_view(cls, storage) for cls in classes]
    if not swap:
        for live in lives:
            catch_up(live, app, until=head)
    fresh = [_fresh(cls, storage) for cls in classes]
    try:
        began = time.perf_counter()
        fed = feed(
            fresh,
            app,
            starts=[0] * len(fresh),
            stops=[head] * len(fresh),
            page=page,
            between=between,
        )
        for view in fresh:
            if head > position(view, app):
                track_to(view, app, head)
        seconds = time.perf_counter() - began
        old = [_digest(v) if digests else "" for v in lives]
        new = [_digest(v) if digests else "" for v in fresh]
        began = time.perf_counter()
        if swap:
            for live, view in zip(lives, fresh, strict=True):
                catch_up(view, app, page=page)  # what was written during the build
                swap_in(live.store, view.store, storage)
        seconds += time.perf_counter() - began
    finally:
        for view in fresh:
            discard(view, storage)
    results = tuple(
        Rebuild(cls.name, head, old[i], new[i], fed.events[i], fed.seconds[i])
        for i, cls in enumerate(classes)
    )
    return RebuildAll(results, fed.log_events, fed.decode_seconds, seconds, swap)


def _fresh(cls: type[View], storage: StorageURL) -> View:
    discard(open_view(cls, storage, suffix=SUFFIX), storage)  # one a killed run left
    return open_view(cls, storage, suffix=SUFFIX)


def _digest(view: View) -> str:
    return table_digest(view.store, view.store.tables)


def discard(view: View, storage: StorageURL) -> None:
    """Throw a rebuild's store away (its SQLite file, or its PostgreSQL schema); nothing
    happens when a swap used it up already."""
    store: Any = view.store
    if store.dialect == "sqlite":
        store.datastore.close()
        for suffix in ("", "-wal", "-shm"):
            Path(store.datastore.pool.db_name + suffix).unlink(missing_ok=True)
    else:
        drop_rebuild_schema(store, storage)
