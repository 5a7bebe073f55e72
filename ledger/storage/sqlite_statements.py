"""SQLite connections that keep their prepared statements.

Layer: ledger storage (adapter over eventsourcing's SQLite datastore). eventsourcing opens
every SQLite connection with ``cached_statements=True``, which ``sqlite3`` reads as a cache
of ONE statement: code that alternates statements — a view's handlers, a chained write
(events, head, links), a catch-up reading the log and the chain — prepares each statement
again on every execution. Issue 18 measured alternating statements at 177 k/s with that
cache against 382 k/s with sqlite3's default of 128, and half of a view rebuild's batch time
in re-preparing. :func:`cache_statements` gives a datastore a pool whose connections keep
:data:`STATEMENT_CACHE` statements; everything else about the connections is the library's.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from eventsourcing.persistence import InterfaceError
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore

STATEMENT_CACHE: Final = 128
"""Prepared statements kept per connection (sqlite3's own default)."""


class StatementCachingPool(SQLiteConnectionPool):
    """The library's SQLite pool, with connections that cache :data:`STATEMENT_CACHE`
    prepared statements instead of one (and run ``pragmas`` when opened)."""

    pragmas: tuple[str, ...] = ()

    def _create_connection(self) -> SQLiteConnection:
        try:
            conn = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit, as the library's
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or 5,
            )
        except (sqlite3.Error, TypeError) as exc:
            raise InterfaceError(exc) from exc
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        for pragma in self.pragmas:
            conn.execute(f"PRAGMA {pragma}")
        conn.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=conn, max_age=self.max_age)


def cache_statements(
    datastore: SQLiteDatastore, *, pragmas: tuple[str, ...] = ()
) -> SQLiteDatastore:
    """Give ``datastore`` a statement-caching pool with the same settings (its current
    pool's connections are closed) whose connections run ``pragmas`` (such as
    ``synchronous=OFF`` for a store that is thrown away if the process dies); returns it."""
    old = datastore.pool
    if isinstance(old, StatementCachingPool) and old.pragmas == pragmas:
        return datastore
    datastore.pool = StatementCachingPool(
        db_name=old.db_name,
        lock_timeout=old.lock_timeout,
        pool_size=old.pool_size,
        max_overflow=old.max_overflow,
        pool_timeout=old.pool_timeout,
        max_age=old.max_age,
        pre_ping=old.pre_ping,
    )
    datastore.pool.pragmas = pragmas
    old.close()
    return datastore
