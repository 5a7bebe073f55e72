"""The read-model machinery (DESIGN invariant 4), on SQLite files and PostgreSQL.

Exactly once, rows and position in one transaction, rebuild from zero gives the
same digest, and a view follows the live log by subscription (PostgreSQL) or polling
(SQLite).
"""

from __future__ import annotations

import gc
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import Tracking

from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KEY_REGISTERED_TOPIC
from ledger.storage.urls import parse_storage_url
from projections.feed import collector_paused
from projections.keys import KeysView, current_keys
from projections.runner import catch_up, follow, open_view, position, rebuild, status
from projections.store import Tx, table_digest
from projections.view import on
from tests.helpers import Ledger, new_ledger


@pytest.fixture
def ledger(storage_url: str) -> Ledger:
    led = new_ledger(storage_url)
    led.note()
    led.app.revoke_key(led.department.key_id, "left", by=led.platform)
    return led


def test_a_view_catches_up_and_reports_no_lag(ledger: Ledger) -> None:
    view: Any = open_view(KeysView, parse_storage_url(ledger.url))
    assert catch_up(view, ledger.app) == 3  # two registrations, one revocation
    (st,) = status([view], ledger.app)
    assert st.lag == 0 and st.position == st.head
    keys = {k["actor"]: k for k in current_keys(view)}
    assert keys["dept:TEST"]["revoked_at"] is not None
    assert keys["platform"]["revoked_at"] is None


def test_a_repeated_delivery_is_refused_as_a_whole(ledger: Ledger) -> None:
    view: Any = open_view(KeysView, parse_storage_url(ledger.url))
    catch_up(view, ledger.app)
    before = table_digest(view.store, view.store.tables)
    first = ledger.app.recorder.select_notifications(start=1, limit=1)[0]
    view.process_event(
        ledger.app.mapper.to_domain_event(first), Tracking(ledger.app.name, first.id)
    )
    assert table_digest(view.store, view.store.tables) == before


class _CrashingKeysView(KeysView):
    name = "keys"
    crash = True

    @on(KEY_REGISTERED_TOPIC)
    def registered(self, tx: Tx, e: Any) -> None:
        super().registered(tx, e)
        if self.crash:
            raise RuntimeError("power cut after the rows, before the position")


def test_a_crash_between_rows_and_position_leaves_neither(ledger: Ledger) -> None:
    storage = parse_storage_url(ledger.url)
    view: Any = open_view(_CrashingKeysView, storage)
    with pytest.raises(RuntimeError, match="power cut"):
        catch_up(view, ledger.app)
    assert position(view, ledger.app) == 0
    assert current_keys(view) == []
    view.crash = False  # type: ignore[attr-defined]
    catch_up(view, ledger.app)
    assert rebuild(KeysView, storage, ledger.app).identical


class _CollectorWatchingKeysView(KeysView):
    name = "keys"
    seen: ClassVar[list[bool]] = []

    @on(KEY_REGISTERED_TOPIC)
    def registered(self, tx: Tx, e: Any) -> None:
        self.seen.append(gc.isenabled())
        super().registered(tx, e)


def test_a_page_is_applied_with_the_collector_paused_and_it_runs_again_after(
    ledger: Ledger,
) -> None:
    """The collector is off while a page is applied and on again after it, also when a
    handler fails; a caller that had turned it off finds it off."""
    storage = parse_storage_url(ledger.url)
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="power cut"):
        catch_up(open_view(_CrashingKeysView, storage), ledger.app)
    assert gc.isenabled()
    _CollectorWatchingKeysView.seen.clear()
    assert catch_up(open_view(_CollectorWatchingKeysView, storage), ledger.app) == 3
    assert _CollectorWatchingKeysView.seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_rebuild_from_zero_gives_the_live_digest(ledger: Ledger) -> None:
    storage = parse_storage_url(ledger.url)
    live = open_view(KeysView, storage)
    catch_up(live, ledger.app)
    for i in range(3):
        s = Ed25519Signer.generate()
        ledger.app.register_key(
            s.public_key, s.key_id, actor=f"kiosk:{i}", role=KeyRole.KIOSK, by=ledger.platform
        )
    result = rebuild(KeysView, storage, ledger.app)
    assert result.identical and result.events == 6
    assert result.live_digest == table_digest(live.store, live.store.tables)


def test_a_view_follows_the_live_log(ledger: Ledger) -> None:
    storage = parse_storage_url(ledger.url)
    view: Any = open_view(KeysView, storage)
    with follow(view, storage.event_store_env()) as runner:
        s = Ed25519Signer.generate()
        ledger.app.register_key(
            s.public_key, s.key_id, actor="kiosk:live", role=KeyRole.KIOSK, by=ledger.platform
        )
        runner.wait(ledger.app.recorder.max_notification_id(), timeout=10)
    assert "kiosk:live" in {k["actor"] for k in current_keys(view)}
    assert status([view], ledger.app)[0].lag == 0


from ledger.domain.keys import KeyRole  # noqa: E402


def test_the_batch_follower_wakes_on_new_events_on_both_backends(ledger: Ledger) -> None:
    import time

    from projections.follower import BatchFollower

    storage = parse_storage_url(ledger.url)
    view: Any = open_view(KeysView, storage)
    with BatchFollower([view], ledger.app, interval=0.05):
        s = Ed25519Signer.generate()
        ledger.app.register_key(
            s.public_key, s.key_id, actor="kiosk:batch", role=KeyRole.KIOSK, by=ledger.platform
        )
        head = ledger.app.recorder.max_notification_id()
        deadline = time.monotonic() + 10
        while position(view, ledger.app) < (head or 0) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "kiosk:batch" in {k["actor"] for k in current_keys(view)}


def test_unnamed_columns_of_the_same_name_keep_their_positions(ledger: Ledger) -> None:
    view: Any = open_view(KeysView, parse_storage_url(ledger.url))
    catch_up(view, ledger.app)
    with view.store.transaction(commit=False) as tx:
        tx.execute("SELECT COUNT(*), COUNT(*) + 1, MAX(actor), MAX(role) FROM view_keys")
        row = tx.fetchone()
    assert row is not None and len(row) == 4 and row[1] == row[0] + 1
