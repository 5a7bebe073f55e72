"""Fixtures for the ledger's case-lifecycle foundations: real SQLite files in ``tmp_path``,
the real PostgreSQL server (a schema per test, dropped afterwards), real keys and crypto.

PostgreSQL fixtures reuse ``pg_schema_url`` of ``tests/conftest.py``, which skips with a
reason when the server does not answer unless ``CASELEDGER_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.services.application import LedgerApplication
from ledger.storage.materials import BlobStore, DirectoryBlobStore, PostgresBlobStore
from ledger.storage.privacy import PersonalDataVault
from ledger.storage.subject_keys import (
    PostgresSubjectKeyStore,
    SQLiteSubjectKeyStore,
    SubjectKeyStore,
)
from ledger.storage.urls import parse_storage_url
from tests.helpers import bootstrapped, enrol
from tests.ledger.domain_world import World, world_at

DEPARTMENT_CODE = "11440100MB2C92400X"


@dataclass(frozen=True)
class PostgresTarget:
    """Where a PostgreSQL test writes: a libpq conninfo and its own schema."""

    conninfo: str
    schema: str


@pytest.fixture
def postgres(pg_schema_url: str) -> PostgresTarget:
    storage = parse_storage_url(pg_schema_url)
    return PostgresTarget(storage.conninfo, storage.schema)


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


@pytest.fixture
def index_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "l.sqlite3"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def key_store(request: pytest.FixtureRequest, ledger_path: Path) -> SubjectKeyStore:
    """The subject key store on each real backend (the contract tests run on both)."""
    store: SubjectKeyStore
    if request.param == "sqlite":
        store = SQLiteSubjectKeyStore(ledger_path)
    else:
        target: PostgresTarget = request.getfixturevalue("postgres")
        store = PostgresSubjectKeyStore(target.conninfo, target.schema)
    store.migrate()
    return store


@pytest.fixture(params=["directory", pytest.param("postgres", marks=pytest.mark.postgres)])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The content-addressed blob store on each real backend (a directory, PostgreSQL)."""
    if request.param == "directory":
        return DirectoryBlobStore(tmp_path / "blobs")
    target: PostgresTarget = request.getfixturevalue("postgres")
    store = PostgresBlobStore(target.conninfo, target.schema)
    store.migrate()
    store.migrate()  # repeatable
    return store


@pytest.fixture
def sqlite_key_store(ledger_path: Path) -> SQLiteSubjectKeyStore:
    store = SQLiteSubjectKeyStore(ledger_path)
    store.migrate()
    return store


@pytest.fixture
def vault(
    sqlite_key_store: SQLiteSubjectKeyStore, kek: bytes, index_key: bytes
) -> PersonalDataVault:
    """A vault whose subject keys live in the ledger's own SQLite file."""
    return PersonalDataVault(sqlite_key_store, kek=kek, index_key=index_key)


@dataclass
class SignedLedger:
    app: LedgerApplication
    platform: Ed25519Signer
    department: Ed25519Signer


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[SignedLedger]:
    """A migrated SQLite ledger with its genesis (platform key) and one department seal key."""
    app, platform = bootstrapped(f"sqlite:///{ledger_path}")
    department = enrol(
        app, platform, f"dept:{DEPARTMENT_CODE}", KeyRole.DEPARTMENT, DEPARTMENT_CODE
    )
    try:
        yield SignedLedger(app, platform, department)
    finally:
        app.close()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    """The domain world of ``domain_world`` on a SQLite file (a module may define its own)."""
    with world_at(sqlite_url) as w:
        yield w


@pytest.fixture
def both(storage_url: str) -> Iterator[World]:
    """The domain world on each real backend, SQLite and PostgreSQL."""
    with world_at(storage_url) as w:
        yield w
