"""DESIGN invariants 4 and 5 for every registered view: exactly once under a crash between
rows and position, rebuild from zero gives the live digest on both backends, and no row of
any view holds a clear name, ID number, phone or address."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from ledger.storage.urls import parse_storage_url
from projections.follower import BatchFollower
from projections.progress import ProgressView, by_serial
from projections.registry import VIEWS, view_class
from projections.runner import catch_up, open_view, position, rebuild
from projections.store import Tx, table_digest
from projections.supervision import SupervisionView
from projections.view import on
from tests.projections.city import CLEAR_VALUES, City, build_city
from tests.projections.conftest import Views


class _CrashingProgress(ProgressView):
    """Progress that loses power after writing a case's rows, before the position."""

    crash = True

    @on(ProgressView.submitted._view_topics[0])  # type: ignore[attr-defined]
    def submitted(self, tx: Tx, e: Any) -> None:
        super().submitted(tx, e)
        if self.crash:
            raise RuntimeError("power cut after the rows, before the position")


def test_every_view_is_registered_once() -> None:
    names = [cls.name for cls in VIEWS]
    assert len(names) == len(set(names))
    for name in (
        "progress",
        "worklist",
        "supervision",
        "certificates",
        "ratings",
        "blacklist",
        "indicators",
    ):
        assert view_class(name).name == name


def test_a_crash_between_rows_and_position_leaves_neither(tmp_path: Path) -> None:
    city = build_city(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path, full=False)
    storage, app = city.storage, city.world.ledger
    view: Any = open_view(_CrashingProgress, storage)
    with pytest.raises(RuntimeError, match="power cut"):
        catch_up(view, app)
    assert position(view, app) == 0
    with view.store.transaction(commit=False) as tx:
        tx.execute("SELECT COUNT(*) FROM view_progress_cases")
        assert tx.fetchone() == (0,)
    view.crash = False
    catch_up(view, app)
    assert rebuild(ProgressView, storage, app).identical
    # A repeated delivery of an applied event is refused as a whole.
    before = table_digest(view.store, view.store.tables)
    first = app.recorder.select_notifications(start=1, limit=1000, topics=view.topics)[-1]
    view.process_event(app.mapper.to_domain_event(first), Tracking(app.name, first.id))
    assert table_digest(view.store, view.store.tables) == before


def test_rebuild_from_zero_gives_the_live_digest_on_both_backends(
    storage_url: str, tmp_path: Path
) -> None:
    city = build_city(storage_url, tmp_path, full=True)
    storage, app = parse_storage_url(storage_url), city.world.ledger
    try:
        for cls in VIEWS:
            live = open_view(cls, storage)
            catch_up(live, app)
            result = rebuild(cls, storage, app)
            assert result.identical, cls.name
            assert result.live_digest == table_digest(live.store, live.store.tables)
    finally:
        app.close()


def test_live_following_in_batches_equals_one_event_at_a_time(tmp_path: Path) -> None:
    """process_batch (catch_up) and process_event (a subscription) build the same rows."""
    city = build_city(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path, full=True)
    app = city.world.ledger
    batched: Any = open_view(SupervisionView, city.storage)
    catch_up(batched, app)
    single: Any = open_view(
        SupervisionView, parse_storage_url(f"sqlite:///{tmp_path / 'o.sqlite3'}")
    )
    from eventsourcing.persistence import Tracking

    for n in app.recorder.select_notifications(start=1, limit=10_000, topics=single.topics):
        single.process_event(app.mapper.to_domain_event(n), Tracking(app.name, n.id))
    assert table_digest(single.store, single.store.tables) == table_digest(
        batched.store, batched.store.tables
    )


def test_no_view_stores_a_clear_name_or_id_number(city: City, views: Views) -> None:
    needles = [v.encode() for v in CLEAR_VALUES]
    scanned = 0
    for view in views.values():
        with view.store.transaction(commit=False) as tx:
            for table in view.store.tables:
                tx.execute(f"SELECT * FROM {table.name}")
                for row in tx.fetchall():
                    scanned += 1
                    for value in row:
                        data = value if isinstance(value, bytes) else str(value).encode()
                        for needle in needles:
                            assert needle not in data, (table.name, needle.decode())
    assert scanned > 100


def test_the_batch_follower_keeps_views_up_with_the_live_log(tmp_path: Path) -> None:
    city = build_city(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path, full=False)
    w = city.world
    view: Any = open_view(ProgressView, city.storage)
    with BatchFollower([view], w.ledger, interval=0.01):
        serial = w.submit_card().serial
        head = w.ledger.recorder.max_notification_id() or 0
        deadline = time.monotonic() + 10
        while position(view, w.ledger) < head and time.monotonic() < deadline:
            time.sleep(0.01)
    assert position(view, w.ledger) == head
    assert by_serial(view, serial) is not None
