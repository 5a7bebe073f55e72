"""Running read models: catch up once, follow the log, report status, rebuild from zero.

Layer: projections. PostgreSQL views follow the log by LISTEN/NOTIFY
subscription, SQLite views by polling (the chained recorder's subscription);
``catch_up`` reads the notification log directly, for commands and tests.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.projection import BaseProjectionRunner

from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.feed import PAGE, catch_up
from projections.replay import Rebuild, rebuild_all
from projections.view import View, open_replica_view, open_view, position

__all__ = [
    "PAGE",
    "Rebuild",
    "ViewStatus",
    "catch_up",
    "follow",
    "open_replica_view",
    "open_view",
    "position",
    "rebuild",
    "reset",
    "reset_views_ahead",
    "status",
    "status_of",
    "wait_level",
]


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
    """Rebuild a view from the log in a fresh store and swap it in for the live one — its
    rows, tracking and seal (clearing any alarm); returns the events applied. The repair for
    a view found different from the log (``projections.verify``): readers see the old view
    until the new one is complete, and a follower carries on from the swapped-in position."""
    return rebuild_all([view_cls], storage, app, swap=True, digests=False).views[0].events


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
    return rebuild_all([view_cls], storage, app).views[0]


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
