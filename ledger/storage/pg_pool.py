"""Process-wide PostgreSQL connection pools, one per conninfo (and search path).

Layer: ledger storage (database). Opening a psycopg connection costs milliseconds, more
than the queries the side tables run, so the blob store, the subject key store and
the API's own tables borrow pooled connections instead. Each borrowing is one
transaction: ``BEGIN`` … ``COMMIT`` on success, ``ROLLBACK`` on error, or a single
autocommit statement (:func:`statement`); a connection goes back idle (the pool rolls back
or discards anything else).

Pools heal themselves (:func:`heal`, also applied to eventsourcing's own pools): a borrowed
connection is checked first, and one found dead — its backend killed by
``pg_terminate_backend`` or a server restart — makes the pool replace every idle connection
at once, so the borrower gets a fresh one in milliseconds instead of checking the other dead
ones in turn (psycopg_pool sleeps between such checks). The check costs no round trip while
the connection is sound: an idle connection's socket has nothing to read, and a backend that
ends (killed, shut down) first sends its FATAL error and closes the socket, which makes it
readable; only then is the connection probed with an empty statement (one round trip, which
is also a transaction to PostgreSQL). Probing every borrowing doubled the round trips — and
the transactions — of a one-statement borrowing. A borrower
waits at most ``POOL_WAIT_SECONDS`` for a connection, then gets ``PoolTimeout`` — a storage
fault (``ledger.storage.faults``): 503, never a hang. A pool that cannot connect gives up
after ``RECONNECT_SECONDS`` and tries again at the next borrowing, so it is back within
seconds of the database.

Pools are created lazily on first use and belong to the process that made them: a
forked child forgets its parent's pools (it must never talk on the parent's
sockets) and builds its own; a spawned child starts with none. The pool threads are
daemon threads, so nothing waits for them at exit; :func:`close_all` is not run at
exit on purpose, as a worker stuck connecting would delay exit by its timeout.
"""

from __future__ import annotations

import os
import select
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ledger.storage.urls import POOL_WAIT_SECONDS

__all__ = [
    "MAX_SIZE",
    "MIN_SIZE",
    "RECONNECT_SECONDS",
    "close_all",
    "heal",
    "pool",
    "statement",
    "transaction",
]

MIN_SIZE: Final = 1
MAX_SIZE: Final = 8
RECONNECT_SECONDS: Final = 5.0
"""How long a pool keeps retrying (with backoff) a connection it failed to open before it
gives up; the next borrower then tries again at once. psycopg_pool's default, 5 minutes of
doubling delays, kept answering 503 for up to minutes after the database was back."""

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
                timeout=POOL_WAIT_SECONDS,
                open=True,
            )
            heal(found)
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


@contextmanager
def statement(
    conninfo: str, *, search_path: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """A pooled autocommit connection for one statement, which is its own transaction: one
    round trip where :func:`transaction` takes three (``BEGIN``, the statement, ``COMMIT``).
    For a single read; anything that writes twice or reads twice consistently takes
    :func:`transaction`.

    Raises what psycopg raises, as :func:`transaction` does.
    """
    with pool(conninfo, search_path=search_path).connection() as conn:
        yield conn


def heal(target: Any) -> None:
    """Make a psycopg pool — or the pool inside an eventsourcing ``PostgresDatastore`` —
    recover by itself from killed backends and outages (see the module docstring); a no-op
    for anything else (a SQLite datastore, ``None``).

    eventsourcing builds its pools without a way to pass ``check`` or ``reconnect_timeout``
    on, so both are set on the pool object; psycopg_pool reads them at every borrowing and
    every reconnection (``_check`` is the one private attribute used).
    """
    found = getattr(target, "pool", target)
    if not isinstance(found, ConnectionPool):
        return
    found.reconnect_timeout = RECONNECT_SECONDS
    found._check = _check_or_drain(weakref.ref(found))


def _check_or_drain(owner: weakref.ref[ConnectionPool[Any]]) -> Any:
    def check(conn: psycopg.Connection[Any]) -> None:
        if _quiet(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            found = owner()
            if found is not None:
                found.drain()  # the others died with it, most likely: replace them all now
            raise

    return check


def _quiet(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection looks sound without a round trip: open, idle, and nothing
    arrived on its socket since it was last used (a backend that ends says so and closes)."""
    if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return False
    return not readable


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
