"""Process-wide PostgreSQL connection pools, one per conninfo (and search path).

Layer: ledger storage (database). Opening a psycopg connection costs milliseconds, more
than the queries the side tables run, so the blob store, the subject key store and
the API's own tables borrow pooled connections instead. Each borrowing is one
transaction: ``BEGIN`` … ``COMMIT`` on success, ``ROLLBACK`` on error; a connection
goes back idle (the pool rolls back or discards anything else).

Pools are created lazily on first use and belong to the process that made them: a
forked child forgets its parent's pools (it must never talk on the parent's
sockets) and builds its own; a spawned child starts with none. The pool threads are
daemon threads, so nothing waits for them at exit; :func:`close_all` is not run at
exit on purpose, as a worker stuck connecting would delay exit by its timeout.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

__all__ = ["MAX_SIZE", "MIN_SIZE", "close_all", "pool", "transaction"]

MIN_SIZE: Final = 1
MAX_SIZE: Final = 8

_Key = tuple[str, str | None]
_pools: dict[_Key, ConnectionPool[Any]] = {}
_inherited: list[dict[_Key, ConnectionPool[Any]]] = []
_guard = threading.Lock()


def _configure(search_path: str | None) -> Any:
    def configure(conn: psycopg.Connection[Any]) -> None:
        # Autocommit, so a connection is idle between borrowings and every
        # transaction is an explicit ``conn.transaction()`` block.
        conn.autocommit = True
        if search_path is not None:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(search_path)))

    return configure


def pool(conninfo: str, *, search_path: str | None = None) -> ConnectionPool[Any]:
    """This process's pool for ``conninfo`` (created and opened on first use; thread-safe).

    ``search_path`` (a schema name) is set on every connection of the pool; pools with
    different search paths are distinct. A pool closed by its user is replaced.
    Connections are autocommit: run statements inside ``conn.transaction()`` (or use
    :func:`transaction`).
    """
    key = (conninfo, search_path)
    found = _pools.get(key)
    if found is not None and not found.closed:
        return found
    with _guard:
        found = _pools.get(key)
        if found is None or found.closed:
            found = ConnectionPool(
                conninfo,
                min_size=MIN_SIZE,
                max_size=MAX_SIZE,
                configure=_configure(search_path),
                open=True,
            )
            _pools[key] = found
        return found


@contextmanager
def transaction(
    conninfo: str, *, search_path: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection inside one transaction, committed on success, rolled back on error.

    Raises what psycopg raises (:class:`psycopg.Error`, including
    :class:`psycopg_pool.PoolTimeout` when no connection is ready in time).
    """
    with pool(conninfo, search_path=search_path).connection() as conn, conn.transaction():
        yield conn


def close_all(timeout: float = 5.0) -> None:
    """Close every pool of this process (borrowed connections close when given back).

    Waits up to ``timeout`` seconds for each pool thread to stop; the next
    :func:`pool` call opens a new pool.
    """
    with _guard:
        pools = list(_pools.values())
        _pools.clear()
    for each in pools:
        each.close(timeout=timeout)


def _forget_after_fork() -> None:
    # The child has the parent's sockets but none of its pool threads: keep the
    # parent's pools referenced (never closed, never collected, so nothing is sent
    # on the parent's connections) and start afresh.
    global _pools, _guard
    _inherited.append(_pools)
    _pools = {}
    _guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
