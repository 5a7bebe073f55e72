"""Storage of per-subject data keys, outside the chain (DESIGN invariant 5).

Layer: ledger storage (database). Each subject (申请人) has one data key, kept wrapped
under a key-encryption key that never enters the database (``ledger.storage.privacy``
wraps and unwraps; this module only stores bytes). The ``subject_keys`` table lives
in the ledger's database but has no chain link: erasure overwrites the wrapped
key with NULL (and keeps a tombstone, so an erased subject is never given a new
key), and the chain still verifies because no chained byte changes.

SQLite runs with ``PRAGMA secure_delete=ON`` so the overwritten key is zeroed in
the file. PostgreSQL keeps dead row versions until VACUUM: operators should run
``VACUUM subject_keys`` after erasures.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from uuid import UUID

import psycopg
from psycopg import sql

from ledger.errors import ConfigurationError, LedgerError
from ledger.storage import pg_pool
from ledger.storage.sqlite_tx import sqlite_transaction

__all__ = [
    "SUBJECT_KEYS_TABLE",
    "PostgresSubjectKeyStore",
    "SQLiteSubjectKeyStore",
    "SubjectKeyRecord",
    "SubjectKeyStore",
    "SubjectKeyStoreError",
]

SUBJECT_KEYS_TABLE: Final = "subject_keys"
SQLITE_TIMEOUT_SECONDS: Final = 60
_SCHEMA_PATTERN: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class SubjectKeyStoreError(LedgerError):
    """The subject key table could not be read or written (database error at the edge)."""


@dataclass(frozen=True)
class SubjectKeyRecord:
    """One row: the subject's wrapped data key, or ``None`` once erased."""

    subject_id: UUID
    kek_id: bytes
    wrapped_key: bytes | None
    created_at: int  # microseconds since the Unix epoch, UTC
    erased_at: int | None

    @property
    def erased(self) -> bool:
        return self.wrapped_key is None


class SubjectKeyStore(Protocol):
    """Where wrapped subject data keys live (a port with SQLite and PostgreSQL adapters)."""

    def migrate(self) -> None:
        """Create the table if it does not exist."""

    def get(self, subject_id: UUID) -> SubjectKeyRecord | None:
        """The subject's row, or ``None`` if the subject never had a key."""

    def insert(self, subject_id: UUID, kek_id: bytes, wrapped_key: bytes) -> SubjectKeyRecord:
        """Store a key unless the subject has a row already; returns the row that is stored
        (another writer's, if it won the race, or the tombstone of an erased subject)."""

    def destroy(self, subject_id: UUID) -> bool:
        """Overwrite the subject's key with NULL (leaving a tombstone); ``True`` if a key
        existed and is now destroyed, ``False`` if it was already erased or never existed."""


def _now_micros() -> int:
    return time.time_ns() // 1000


def _record(row: tuple[Any, ...] | None) -> SubjectKeyRecord | None:
    if row is None:
        return None
    subject, kek_id, wrapped, created_at, erased_at = row
    return SubjectKeyRecord(
        subject_id=subject if isinstance(subject, UUID) else UUID(str(subject)),
        kek_id=bytes(kek_id),
        wrapped_key=None if wrapped is None else bytes(wrapped),
        created_at=int(created_at),
        erased_at=None if erased_at is None else int(erased_at),
    )


class SQLiteSubjectKeyStore:
    """Subject keys in a SQLite file (normally the ledger's own file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise SubjectKeyStoreError(f"subject keys: cannot open {self.path}: {exc}") from exc
        try:
            conn.execute("PRAGMA secure_delete=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise SubjectKeyStoreError(f"subject keys: {exc}") from exc
        try:
            with sqlite_transaction(conn, SubjectKeyStoreError, "subject keys"):
                yield conn
        finally:
            conn.close()

    def migrate(self) -> None:
        with self._transaction() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SUBJECT_KEYS_TABLE} ("
                " subject_id TEXT PRIMARY KEY,"
                " kek_id BLOB NOT NULL,"
                " wrapped_key BLOB,"
                " created_at INTEGER NOT NULL,"
                " erased_at INTEGER)"
            )

    def get(self, subject_id: UUID) -> SubjectKeyRecord | None:
        with self._transaction() as conn:
            row = conn.execute(
                f"SELECT subject_id, kek_id, wrapped_key, created_at, erased_at "
                f"FROM {SUBJECT_KEYS_TABLE} WHERE subject_id = ?",
                (str(subject_id),),
            ).fetchone()
        return _record(row)

    def insert(self, subject_id: UUID, kek_id: bytes, wrapped_key: bytes) -> SubjectKeyRecord:
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO {SUBJECT_KEYS_TABLE} "
                "(subject_id, kek_id, wrapped_key, created_at, erased_at) "
                "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (subject_id) DO NOTHING",
                (str(subject_id), kek_id, wrapped_key, _now_micros()),
            )
            row = conn.execute(
                f"SELECT subject_id, kek_id, wrapped_key, created_at, erased_at "
                f"FROM {SUBJECT_KEYS_TABLE} WHERE subject_id = ?",
                (str(subject_id),),
            ).fetchone()
        record = _record(row)
        assert record is not None  # inserted or already there, inside one transaction
        return record

    def destroy(self, subject_id: UUID) -> bool:
        now = _now_micros()
        with self._transaction() as conn:
            cursor = conn.execute(
                f"UPDATE {SUBJECT_KEYS_TABLE} SET wrapped_key = NULL, erased_at = ? "
                "WHERE subject_id = ? AND wrapped_key IS NOT NULL",
                (now, str(subject_id)),
            )
            destroyed = cursor.rowcount == 1
            conn.execute(
                f"INSERT INTO {SUBJECT_KEYS_TABLE} "
                "(subject_id, kek_id, wrapped_key, created_at, erased_at) "
                "VALUES (?, X'', NULL, ?, ?) ON CONFLICT (subject_id) DO NOTHING",
                (str(subject_id), now, now),
            )
        return destroyed


class PostgresSubjectKeyStore:
    """Subject keys in PostgreSQL (psycopg 3), in ``schema`` (the ledger's schema).

    Each call is one transaction on a connection borrowed from :mod:`ledger.storage.pg_pool`
    (the vault reads a key on every request that shows personal data).
    """

    def __init__(self, conninfo: str, schema: str = "public") -> None:
        if not _SCHEMA_PATTERN.fullmatch(schema):
            raise ConfigurationError(f"schema: {schema!r} is not a plain lower-case identifier")
        self.conninfo = conninfo
        self.schema = schema

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with pg_pool.transaction(self.conninfo) as conn:
                yield conn
        except psycopg.Error as exc:
            raise SubjectKeyStoreError(f"subject keys: {exc}") from exc

    @property
    def _table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, SUBJECT_KEYS_TABLE)

    def _select(self, conn: psycopg.Connection[Any], subject_id: UUID) -> SubjectKeyRecord | None:
        row = conn.execute(
            sql.SQL(
                "SELECT subject_id, kek_id, wrapped_key, created_at, erased_at "
                "FROM {} WHERE subject_id = %s"
            ).format(self._table),
            (subject_id,),
        ).fetchone()
        return _record(row)

    def migrate(self) -> None:
        with self._transaction() as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " subject_id uuid PRIMARY KEY,"
                    " kek_id bytea NOT NULL,"
                    " wrapped_key bytea,"
                    " created_at bigint NOT NULL,"
                    " erased_at bigint)"
                ).format(self._table)
            )

    def get(self, subject_id: UUID) -> SubjectKeyRecord | None:
        with self._transaction() as conn:
            return self._select(conn, subject_id)

    def insert(self, subject_id: UUID, kek_id: bytes, wrapped_key: bytes) -> SubjectKeyRecord:
        with self._transaction() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (subject_id, kek_id, wrapped_key, created_at, erased_at) "
                    "VALUES (%s, %s, %s, %s, NULL) ON CONFLICT (subject_id) DO NOTHING"
                ).format(self._table),
                (subject_id, kek_id, wrapped_key, _now_micros()),
            )
            record = self._select(conn, subject_id)
        assert record is not None  # inserted or already there, inside one transaction
        return record

    def destroy(self, subject_id: UUID) -> bool:
        now = _now_micros()
        with self._transaction() as conn:
            cursor = conn.execute(
                sql.SQL(
                    "UPDATE {} SET wrapped_key = NULL, erased_at = %s "
                    "WHERE subject_id = %s AND wrapped_key IS NOT NULL"
                ).format(self._table),
                (now, subject_id),
            )
            destroyed = bool(cursor.rowcount == 1)
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (subject_id, kek_id, wrapped_key, created_at, erased_at) "
                    "VALUES (%s, %s, NULL, %s, %s) ON CONFLICT (subject_id) DO NOTHING"
                ).format(self._table),
                (subject_id, b"", now, now),
            )
        return destroyed
