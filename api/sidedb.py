"""Pooled connections to the ledger's database for the API's own unchained tables.

Layer: api (edge: database). Tokens and HTTP idempotency answers live beside the
ledger but outside the chain; opening a connection per request cost more than the
request itself, so each process keeps a small pool (PostgreSQL) or one connection
per thread (SQLite).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql
from psycopg_pool import ConnectionPool

from ledger.storage import StorageURL

_pools: dict[str, ConnectionPool[Any]] = {}
_local = threading.local()
_guard = threading.Lock()


def _pg_pool(storage: StorageURL) -> ConnectionPool[Any]:
    key = storage.redacted()
    with _guard:
        pool = _pools.get(key)
        if pool is None:
            schema = storage.schema or "public"

            def configure(conn: Any) -> None:
                conn.autocommit = True
                conn.execute(sql.SQL("SET search_path TO {0}").format(sql.Identifier(schema)))

            conninfo = (
                f"host={storage.host} port={storage.port} user={storage.user} "
                f"dbname={storage.dbname}"
                + (f" password={storage.password}" if storage.password else "")
            )
            pool = ConnectionPool(conninfo, min_size=1, max_size=8, configure=configure, open=True)
            _pools[key] = pool
        return pool


@contextmanager
def cursor(storage: StorageURL) -> Iterator[Any]:
    """A cursor in its own transaction, committed on success (rolled back on error)."""
    if storage.is_sqlite:
        conns: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
        _local.conns = conns
        conn = conns.get(storage.path)
        if conn is None:
            conn = conns[storage.path] = sqlite3.connect(storage.path, timeout=60)
        with conn:
            yield conn.cursor()
        return
    with _pg_pool(storage).connection() as pg, pg.transaction():
        yield pg.cursor()
