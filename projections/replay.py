"""Rebuild several read models from zero in one pass over the log.

Layer: projections. DESIGN invariant 4: a rebuilt view must equal the live one (digests are
compared, as ``projections.runner.rebuild`` does for one view). Reading and decoding a
notification costs more than most handlers, so when every view is rebuilt — after a
schema change, or to audit the read models — the log is read and decoded once and each
event handed to every view that handles its topic; each view still writes its rows and its
position in its own transactions (``View.process_batch``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.links import chain_link
from projections.runner import PAGE, Rebuild, catch_up, open_view, position
from projections.store import drop_rebuild_schema, table_digest
from projections.view import View

__all__ = ["RebuildAll", "rebuild_all"]


@dataclass(frozen=True)
class RebuildAll:
    """Each view's rebuild, and the pass as a whole: log events read, decode and total time."""

    views: tuple[Rebuild, ...]
    log_events: int
    decode_seconds: float
    seconds: float

    @property
    def identical(self) -> bool:
        return all(r.identical for r in self.views)


def rebuild_all(
    classes: Sequence[type[View]], storage: StorageURL, app: LedgerApplication
) -> RebuildAll:
    """Rebuild every view of ``classes`` from zero beside the live ones, reading the log
    once, and compare each with its live digest at the same position."""
    head = app.recorder.max_notification_id() or 0
    lives = [open_view(cls, storage) for cls in classes]
    for live in lives:
        catch_up(live, app, until=head)
    fresh = []
    for cls in classes:
        _discard(open_view(cls, storage, suffix="__rebuild"), storage)
        fresh.append(open_view(cls, storage, suffix="__rebuild"))
    topics = sorted({t for v in fresh for t in v.topics})
    spent = [0.0] * len(fresh)
    counts = [0] * len(fresh)
    decoding = 0.0
    read = 0
    began = time.perf_counter()
    start = 0
    while True:
        t0 = time.perf_counter()
        notifications = app.recorder.select_notifications(
            start=start, limit=PAGE, stop=head, topics=topics, inclusive_of_start=False
        )
        decoded = [
            (n.topic, app.mapper.to_domain_event(n), Tracking(app.name, n.id))
            for n in notifications
        ]
        decoding += time.perf_counter() - t0
        read += len(decoded)
        for i, view in enumerate(fresh):
            t1 = time.perf_counter()
            mine = [(e, t) for topic, e, t in decoded if topic in view.handlers]
            if mine:
                view.process_batch(mine, chain_link(app, mine[-1][1].notification_id))
            counts[i] += len(mine)
            spent[i] += time.perf_counter() - t1
        if len(notifications) < PAGE:
            break
        start = notifications[-1].id
    for view in fresh:
        if head > position(view, app):
            with view.store.transaction() as tx:
                view.store.track(tx, Tracking(app.name, head), chain_link(app, head))
    seconds = time.perf_counter() - began
    results = tuple(
        Rebuild(
            cls.name,
            head,
            table_digest(live.store, live.store.tables),
            table_digest(new.store, new.store.tables),
            counts[i],
            spent[i],
        )
        for i, (cls, live, new) in enumerate(zip(classes, lives, fresh, strict=True))
    )
    for view in fresh:
        _discard(view, storage)
    return RebuildAll(results, read, decoding, seconds)


def _discard(view: View, storage: StorageURL) -> None:
    """Throw a rebuild store away (its SQLite file, or its PostgreSQL schema)."""
    store: Any = view.store
    if store.dialect == "sqlite":
        store.datastore.close()
        for suffix in ("", "-wal", "-shm"):
            Path(store.datastore.pool.db_name + suffix).unlink(missing_ok=True)
    else:
        drop_rebuild_schema(store, storage)
