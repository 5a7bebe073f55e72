"""Running read models: catch up once, follow the log, report status, rebuild from zero.

Layer: projections. PostgreSQL views follow the log by LISTEN/NOTIFY
subscription, SQLite views by polling (the chained recorder's subscription);
``catch_up`` reads the notification log directly, for commands and tests.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import BaseProjectionRunner

from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.links import chain_link
from projections.store import drop_rebuild_schema, open_view_recorder, table_digest
from projections.view import View

PAGE = 500


def open_view(view_cls: type[View], storage: StorageURL, *, suffix: str = "") -> View:
    recorder = open_view_recorder(storage, view_cls.name, view_cls.tables, suffix=suffix)
    recorder.create_table()
    return view_cls(view=recorder)


def open_replica_view(view_cls: type[View], storage: StorageURL) -> View:
    """``view_cls`` read on a hot standby of its database (only read, never caught up): its
    rows and tracking replicate from the primary with the log, and a standby refuses the
    writes that opening a view for the follower makes."""
    return view_cls(view=open_view_recorder(storage, view_cls.name, view_cls.tables))


def position(view: View, app: LedgerApplication) -> int:
    return view.store.max_tracking_id(app.name) or 0


def catch_up(view: View, app: LedgerApplication, *, until: int | None = None) -> int:
    """Process every notification after the view's position (up to ``until``); returns count.
    Raises :class:`~projections.store.ViewTampered` when the view's tracking was changed
    outside it."""
    done = 0
    start = position(view, app)
    while True:
        notifications = app.recorder.select_notifications(
            start=start, limit=PAGE, stop=until, topics=view.topics, inclusive_of_start=False
        )
        view.process_batch(
            [(app.mapper.to_domain_event(n), Tracking(app.name, n.id)) for n in notifications],
            chain_link(app, notifications[-1].id) if notifications else None,
        )
        done += len(notifications)
        if len(notifications) < PAGE:
            break
        start = notifications[-1].id
    head = app.recorder.max_notification_id() or 0
    if until is not None:
        head = min(head, until)
    if head > position(view, app) and view.topics:
        # Events of other topics moved the log on: record how far this view has read.
        _advance(view, app, head)
    return done


def _advance(view: View, app: LedgerApplication, head: int) -> None:
    with view.store.transaction() as tx:
        view.store.track(tx, Tracking(app.name, head), chain_link(app, head))


@dataclass(frozen=True)
class ViewStatus:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


def status(views: Sequence[View], app: LedgerApplication) -> list[ViewStatus]:
    head = app.recorder.max_notification_id() or 0
    return [ViewStatus(v.name, position(v, app), head) for v in views]


def status_of(view: View, app: LedgerApplication) -> ViewStatus:
    """One view's position and the log head, read together: one round trip on PostgreSQL,
    where the view's tracking and the log share the database (what a read that must see
    its caller's writes checks first)."""
    store: Any = view.store
    head_statement = getattr(app.recorder, "max_notification_id_statement", None)
    if store.dialect == "postgres" and head_statement is not None:
        at, head = store.position_and_head(app.name, head_statement)
        return ViewStatus(view.name, at, head)
    head = app.recorder.max_notification_id() or 0
    return ViewStatus(view.name, position(view, app), head)


def reset(view_cls: type[View], storage: StorageURL, app: LedgerApplication) -> int:
    """Drop a view — its rows, tracking and seal (with any alarm) — and rebuild it from the
    log; returns the events applied. The repair for a view found different from the log
    (``projections.verify``); no other process may hold the view open meanwhile."""
    view = open_view(view_cls, storage)
    with view.store.transaction() as tx:
        tx.execute("DELETE FROM view_fingerprints WHERE view = ?", (view_cls.name,))
    return catch_up(open_view(view_cls, storage), app)  # opening drops what is unrecorded


@dataclass(frozen=True)
class Rebuild:
    name: str
    position: int
    live_digest: str
    rebuilt_digest: str
    events: int
    seconds: float

    @property
    def identical(self) -> bool:
        return self.live_digest == self.rebuilt_digest


def wait_level(view: View, app: LedgerApplication, timeout: float = 2.0) -> bool:
    """Wait (at most ``timeout`` seconds) until ``view`` has processed the log up to the head
    seen now — a client reads its own writes. ``True`` if it is level. A level view costs
    one query (position and head together on PostgreSQL)."""
    seen = status_of(view, app)
    if seen.lag == 0:
        return True
    deadline = time.monotonic() + timeout
    while position(view, app) < seen.head:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def reset_views_ahead(
    views: Sequence[type[View]], storage: StorageURL, app: LedgerApplication, head: int
) -> list[str]:
    """Reset every view of ``views`` whose position is past notification ``head`` (it read
    history an accepted restore lost): its fingerprint is forgotten, so reopening drops its
    tables and tracking (``projections.store``) and the next catch-up rebuilds it from the
    log. The names of the views reset. Precondition: no process follows the log meanwhile."""
    reset: list[str] = []
    for view_cls in views:
        view = open_view(view_cls, storage)
        if position(view, app) <= head:
            continue
        store: Any = view.store
        with store.transaction() as tx:
            tx.execute("DELETE FROM view_fingerprints WHERE view = ?", (view_cls.name,))
        store.create_table()
        reset.append(view_cls.name)
    return reset


def rebuild(view_cls: type[View], storage: StorageURL, app: LedgerApplication) -> Rebuild:
    """Rebuild a view from zero beside the live one and compare digests at the same position."""
    head = app.recorder.max_notification_id() or 0
    live = open_view(view_cls, storage)
    catch_up(live, app, until=head)
    fresh = open_view(view_cls, storage, suffix="__rebuild")
    _discard(fresh, storage)
    fresh = open_view(view_cls, storage, suffix="__rebuild")
    began = time.perf_counter()
    events = catch_up(fresh, app, until=head)
    seconds = time.perf_counter() - began
    result = Rebuild(
        view_cls.name,
        head,
        table_digest(live.store, live.store.tables),
        table_digest(fresh.store, fresh.store.tables),
        events,
        seconds,
    )
    _discard(fresh, storage)
    return result


def _discard(view: View, storage: StorageURL) -> None:
    """Throw a rebuild store away (its file, or its schema)."""
    store: Any = view.store
    if store.dialect == "sqlite":
        store.datastore.close()
        for suffix in ("", "-wal", "-shm"):
            Path(store.datastore.pool.db_name + suffix).unlink(missing_ok=True)
    else:
        drop_rebuild_schema(store, storage)


def follow(view: View, app_env: dict[str, str]) -> BaseProjectionRunner[LedgerApplication]:
    """A running subscription that keeps ``view`` up to date (stop() or use as a context).

    It follows every topic, so the view's position is the log's and its lag is true.
    """
    return BaseProjectionRunner(
        projection=view,
        application_class=LedgerApplication,
        tracking_recorder=view.store,  # type: ignore[arg-type]
        topics=(),
        env=app_env,
    )
