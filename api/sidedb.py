"""Pooled connections to the ledger's database for the API's own unchained tables.

Layer: api (edge: database). Tokens and HTTP idempotency answers live beside the
ledger but outside the chain; opening a connection per request cost more than the
request itself, so each process borrows from :mod:`ledger.storage.pg_pool` (PostgreSQL, with
the ledger's schema as search path) or keeps one connection per thread (SQLite).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql

from ledger.storage import pg_pool
from ledger.storage.urls import StorageURL

_local = threading.local()


def sql_text(storage: StorageURL, text: str) -> Any:
    """``text``, written with ``?`` placeholders, as ``storage``'s driver takes it."""
    return text if storage.is_sqlite else sql.SQL(text.replace("?", "%s"))


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
    with pg_pool.transaction(storage.conninfo, search_path=storage.schema or "public") as pg:
        yield pg.cursor()
