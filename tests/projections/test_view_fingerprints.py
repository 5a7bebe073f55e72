"""A view whose table definitions changed is dropped and rebuilt from the log, on SQLite files
and PostgreSQL (``projections.store`` fingerprints)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KEY_REGISTERED_TOPIC, KeyRole
from ledger.storage.urls import parse_storage_url
from projections.keys import KEYS, KeysView, current_keys
from projections.runner import catch_up, open_view, position, rebuild
from projections.store import Table, Tx, fingerprint, table_digest
from projections.view import on
from tests.helpers import Ledger, new_ledger

NOTED = Table("view_keys", (*KEYS.columns, ("note", "TEXT")), KEYS.primary_key, KEYS.indexes)
EXTRA = Table("view_keys_extra", (("key_id", "BLOB"),), ("key_id",))


class _NotedKeysView(KeysView):
    """The keys view, a release later: one more column, and a second table."""

    name = "keys"
    tables = (NOTED, EXTRA)  # type: ignore[assignment]

    @on(KEY_REGISTERED_TOPIC)
    def registered(self, tx: Tx, e: Any) -> None:
        super().registered(tx, e)
        tx.execute("UPDATE view_keys SET note = ? WHERE key_id = ?", (f"noted {e.actor}", e.key_id))
        tx.execute("INSERT INTO view_keys_extra VALUES (?)", (e.key_id,))


@pytest.fixture
def ledger(storage_url: str) -> Ledger:
    return new_ledger(storage_url)


def _rows(view: Any, sql: str) -> list[tuple[Any, ...]]:
    with view.store.transaction(commit=False) as tx:
        tx.execute(sql)
        return tx.fetchall()


def _columns(view: Any, table: str) -> list[tuple[Any, ...]]:
    with view.store.transaction(commit=False) as tx:
        if tx.dialect == "sqlite":
            tx.execute(f"SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
        else:
            tx.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? "
                "ORDER BY ordinal_position",
                (table,),
            )
        return tx.fetchall()


def _add_key(ledger: Ledger, actor: str) -> None:
    s = Ed25519Signer.generate(actor)
    ledger.app.register_key(
        s.public_key, s.key_id, actor=actor, role=KeyRole.KIOSK, by=ledger.platform
    )


def _caught_up(view: type[Any], storage: Any, ledger: Ledger) -> Any:
    """``view`` opened on ``storage`` and caught up with the ledger's log."""
    opened = open_view(view, storage)
    catch_up(opened, ledger.app)
    return opened


def _open_logged(view: type[Any], storage: Any, caplog: pytest.LogCaptureFixture) -> Any:
    """``view`` opened on ``storage``, its warnings captured in ``caplog``."""
    with caplog.at_level(logging.WARNING, logger="caseledger.projections"):
        return open_view(view, storage)


def test_a_changed_table_definition_rebuilds_the_view_from_the_log(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    storage = parse_storage_url(ledger.url)
    old = _caught_up(KeysView, storage, ledger)
    assert len(current_keys(old)) == 2 and position(old, ledger.app) > 0
    with old.store.transaction() as tx:  # a stale row only the old tables hold
        tx.execute("UPDATE view_keys SET revocation_reason = 'stale'")

    new = _open_logged(_NotedKeysView, storage, caplog)
    assert "view keys: table definitions changed" in caplog.text
    assert position(new, ledger.app) == 0  # tracking went with the tables
    assert _rows(new, "SELECT COUNT(*) FROM view_keys") == [(0,)]

    _add_key(ledger, "kiosk:after")
    catch_up(new, ledger.app)
    noted = _rows(new, "SELECT actor, note, revocation_reason FROM view_keys ORDER BY actor")
    assert noted == [
        ("dept:TEST", "noted dept:TEST", None),
        ("kiosk:after", "noted kiosk:after", None),
        ("platform", "noted platform", None),
    ]
    assert _rows(new, "SELECT COUNT(*) FROM view_keys_extra") == [(3,)]
    assert rebuild(_NotedKeysView, storage, ledger.app).identical


def test_an_unchanged_definition_keeps_the_rows_and_position(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    storage = parse_storage_url(ledger.url)
    first = _caught_up(KeysView, storage, ledger)
    digest, at = table_digest(first.store, first.store.tables), position(first, ledger.app)
    again = _open_logged(KeysView, storage, caplog)
    assert caplog.text == ""
    assert (table_digest(again.store, again.store.tables), position(again, ledger.app)) == (
        digest,
        at,
    )
    recorded = _rows(again, "SELECT view, fingerprint, tables FROM view_fingerprints")
    assert recorded == [("keys", fingerprint(KeysView.tables, again.store.dialect), "view_keys")]


def test_going_back_drops_the_tables_the_old_definition_no_longer_has(ledger: Ledger) -> None:
    storage = parse_storage_url(ledger.url)
    _caught_up(_NotedKeysView, storage, ledger)
    back = _caught_up(KeysView, storage, ledger)
    with back.store.transaction(commit=False) as tx:
        if tx.dialect == "sqlite":
            tx.execute("SELECT name FROM sqlite_master WHERE name LIKE 'view_keys%'")
        else:
            tx.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = {r[0] for r in tx.fetchall()}
    assert "view_keys" in tables and "view_keys_extra" not in tables
    assert _columns(back, "view_keys") == [(c,) for c, _ in KEYS.columns]  # no extra column
    assert len(current_keys(back)) == 2


def test_tables_made_before_fingerprints_are_rebuilt_once(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    storage = parse_storage_url(ledger.url)
    old = _caught_up(KeysView, storage, ledger)
    with old.store.transaction() as tx:  # as a database from before this mechanism
        tx.execute("DROP TABLE view_fingerprints")
        tx.execute("UPDATE view_keys SET revocation_reason = 'stale'")
    reopened = _open_logged(KeysView, storage, caplog)
    assert "not fingerprinted" in caplog.text
    assert position(reopened, ledger.app) == 0
    catch_up(reopened, ledger.app)
    assert _rows(reopened, "SELECT DISTINCT revocation_reason FROM view_keys") == [(None,)]
    caplog.clear()
    _open_logged(KeysView, storage, caplog)
    assert caplog.text == ""
