"""Our chained recorders are still correct eventsourcing recorders.

Runs the library's own reusable recorder test cases (eventsourcing.tests.persistence)
against the chained SQLite and PostgreSQL recorders, and checks after each that
the chain the test wrote verifies.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)

from ledger.chain.recorders.postgres import (
    ChainedPostgresApplicationRecorder,
    ChainedPostgresProcessRecorder,
)
from ledger.chain.recorders.sqlite import (
    ChainedSQLiteApplicationRecorder,
    ChainedSQLiteProcessRecorder,
)
from ledger.chain.signing import Ed25519Signer
from tests.conftest import _pg_base, pg_conninfo_for, require_postgres

SIGNER = Ed25519Signer.generate("contract-tests")


def _chain_is_dense_and_linked(recorder: Any) -> None:
    """Library tests write arbitrary bytes as states, so check links and hashes, not keys."""
    head = recorder.chain_head()
    if head is None:
        return
    links = recorder.select_links(1, head.sequence + 1)
    assert [link.entry.sequence for link in links] == list(range(1, head.sequence + 1))
    prev = bytes(32)
    for link in links:
        assert link.entry.prev_hash == prev
        assert link.entry.compute_hash() == link.entry.entry_hash
        assert link.event is not None
        prev = link.entry.entry_hash
    nids = [link.notification_id for link in links]
    assert nids == sorted(nids)


class _SQLiteFile:
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.datastore = SQLiteDatastore(str(Path(self._tmp.name) / "contract.sqlite3"))
        self._recorders: list[Any] = []
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        for recorder in self._recorders:
            _chain_is_dense_and_linked(recorder)
        self.datastore.close()
        self._tmp.cleanup()
        super().tearDown()  # type: ignore[misc]

    def _make(self, cls: type) -> Any:
        recorder = cls(self.datastore)
        recorder.default_signer = SIGNER
        recorder.create_table()
        self._recorders.append(recorder)
        return recorder


class TestChainedSQLiteApplicationRecorder(_SQLiteFile, ApplicationRecorderTestCase):  # type: ignore[misc]
    def create_recorder(self) -> ChainedSQLiteApplicationRecorder:
        return self._make(ChainedSQLiteApplicationRecorder)  # type: ignore[no-any-return]


class TestChainedSQLiteProcessRecorder(_SQLiteFile, ProcessRecorderTestCase):
    def create_recorder(self) -> ChainedSQLiteProcessRecorder:
        return self._make(ChainedSQLiteProcessRecorder)  # type: ignore[no-any-return]


class TestSQLiteTrackingRecorderBesideTheChain(_SQLiteFile, TrackingRecorderTestCase):
    def create_recorder(self) -> SQLiteTrackingRecorder:
        recorder = SQLiteTrackingRecorder(self.datastore)
        recorder.create_table()
        return recorder


class _PostgresSchema:
    def setUp(self) -> None:
        require_postgres()
        self.schema = f"c_{uuid.uuid4().hex[:12]}"
        self.conninfo = pg_conninfo_for(_pg_base())
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        self.datastore = PostgresDatastore(
            dbname=str(info["dbname"]),
            host=str(info["host"]),
            port=int(info.get("port") or 5432),
            user=str(info["user"]),
            password=str(info.get("password", "")),
            schema=self.schema,
            pool_size=4,
            max_overflow=12,
        )
        self._recorders: list[Any] = []
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        for recorder in self._recorders:
            _chain_is_dense_and_linked(recorder)
        self.datastore.close()
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        super().tearDown()  # type: ignore[misc]

    def _make(self, cls: type) -> Any:
        recorder = cls(self.datastore)
        recorder.default_signer = SIGNER
        recorder.create_table()
        self._recorders.append(recorder)
        return recorder


class TestChainedPostgresApplicationRecorder(_PostgresSchema, ApplicationRecorderTestCase):  # type: ignore[misc]
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = False

    def create_recorder(self) -> ChainedPostgresApplicationRecorder:
        return self._make(ChainedPostgresApplicationRecorder)  # type: ignore[no-any-return]


class TestChainedPostgresProcessRecorder(_PostgresSchema, ProcessRecorderTestCase):
    def create_recorder(self) -> ChainedPostgresProcessRecorder:
        return self._make(ChainedPostgresProcessRecorder)  # type: ignore[no-any-return]


class TestPostgresTrackingRecorderBesideTheChain(_PostgresSchema, TrackingRecorderTestCase):
    def create_recorder(self) -> PostgresTrackingRecorder:
        recorder = PostgresTrackingRecorder(self.datastore)
        recorder.create_table()
        return recorder
