"""One SQLite transaction wrapper for the stores kept in plain SQLite files.

Layer: ledger storage (adapters). The subject-key store, the anchors' tree store and the
node's block store all write through ``sqlite_transaction``: ``BEGIN IMMEDIATE`` takes the
write lock before the first read (SQLite "BEGIN TRANSACTION", immediate mode), any exception
rolls back, and a ``sqlite3.Error`` reaches the caller only as the store's own error type.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sqlite_transaction(
    conn: sqlite3.Connection,
    error_type: type[Exception],
    what: str,
    *,
    write: bool = True,
) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction on ``conn`` (opened with ``isolation_level=None``).

    ``write`` begins ``IMMEDIATE`` (the write lock now), else a deferred read. The block's
    exception rolls back and propagates; a ``sqlite3.Error`` (from the block or from SQLite
    itself) is raised as ``error_type("<what>: <error>")``.
    """
    try:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise error_type(f"{what}: {exc}") from exc
