"""A rebuild never shows a half-built view (issue 18): views are built in fresh stores and
swapped in, on SQLite files and PostgreSQL.

The live view is made to differ from the log (a row changed by hand, what ``projections
reset`` repairs), so its old content and the rebuilt content can be told apart; every read
during the rebuild — between its pages, and from a reader thread running throughout — must
be one or the other, whole.
"""

from __future__ import annotations

import threading
from typing import Any

from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.storage.urls import parse_storage_url
from projections.keys import KeysView, current_keys
from projections.replay import rebuild_all
from projections.runner import catch_up, open_view, position, reset
from projections.verify import check_seals, compare_with_rebuild
from tests.helpers import Ledger, new_ledger


def _ledger(url: str, kiosks: int) -> Ledger:
    led = new_ledger(url)
    for i in range(kiosks):
        s = Ed25519Signer.generate()
        led.app.register_key(
            s.public_key, s.key_id, actor=f"kiosk:{i}", role=KeyRole.KIOSK, by=led.platform
        )
    return led


def _content(view: Any) -> list[tuple[Any, ...]]:
    """Every row of the view with its sealed position: one statement, one snapshot."""
    return view.store.select(
        "SELECT k.*, (SELECT position FROM view_seals WHERE view = 'keys') "
        "FROM view_keys AS k ORDER BY k.key_id"
    )


def _actors(content: list[tuple[Any, ...]]) -> list[str]:
    return [str(row[2]) for row in content]


def test_readers_see_the_old_view_or_the_new_one_never_half(storage_url: str) -> None:
    ledger = _ledger(storage_url, kiosks=12)
    storage = parse_storage_url(storage_url)
    live: Any = open_view(KeysView, storage)
    catch_up(live, ledger.app)
    with live.store.transaction() as tx:  # the live view drifts from the log
        tx.execute("UPDATE view_keys SET actor = 'forged' WHERE actor = 'kiosk:3'")
    reader: Any = open_view(KeysView, storage)  # another pool: what serve reads through
    old = _content(reader)
    assert "forged" in _actors(old)

    seen_between: list[list[tuple[Any, ...]]] = []
    seen_by_thread: list[list[tuple[Any, ...]]] = []
    done = threading.Event()

    def keep_reading() -> None:
        while not done.is_set():
            seen_by_thread.append(_content(reader))

    thread = threading.Thread(target=keep_reading)
    thread.start()
    try:
        result = rebuild_all(
            [KeysView],
            storage,
            ledger.app,
            swap=True,
            page=2,  # many pages: many moments to look at the live view mid-build
            between=lambda: seen_between.append(_content(reader)),
        )
    finally:
        done.set()
        thread.join()

    new = _content(reader)
    assert "forged" not in _actors(new) and "kiosk:3" in _actors(new)
    assert result.swapped and result.views[0].events == 14  # platform, department, 12 kiosks
    assert len(seen_between) >= 7
    assert all(seen == old for seen in seen_between)  # mid-build: the old view, whole
    assert seen_by_thread and all(seen in (old, new) for seen in seen_by_thread)
    assert position(reader, ledger.app) == ledger.app.recorder.max_notification_id()
    assert check_seals([reader], ledger.app) == []
    (comparison,) = compare_with_rebuild([reader], storage, ledger.app, record=False)
    assert comparison.identical


def test_reset_swaps_in_a_rebuild_and_the_view_follows_on(storage_url: str) -> None:
    ledger = _ledger(storage_url, kiosks=2)
    storage = parse_storage_url(storage_url)
    live: Any = open_view(KeysView, storage)
    catch_up(live, ledger.app)
    with live.store.transaction() as tx:
        tx.execute("DELETE FROM view_keys WHERE actor = 'kiosk:1'")
    assert reset(KeysView, storage, ledger.app) == 4
    assert "kiosk:1" in {k["actor"] for k in current_keys(live)}
    s = Ed25519Signer.generate()
    ledger.app.register_key(
        s.public_key, s.key_id, actor="kiosk:late", role=KeyRole.KIOSK, by=ledger.platform
    )
    assert catch_up(live, ledger.app) == 1  # the same live handle carries on after the swap
    assert "kiosk:late" in {k["actor"] for k in current_keys(live)}
    assert check_seals([live], ledger.app) == []
    (comparison,) = compare_with_rebuild([live], storage, ledger.app, record=False)
    assert comparison.identical
