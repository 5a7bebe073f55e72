"""Many rows into one table with few statements: multi-row ``VALUES`` in chunks.

Layer: ledger chain (persistence), standard library only. The chained SQLite recorder inserts
a command's rows this way, and so do the views' batches on SQLite (``projections.store``;
on PostgreSQL they go in by ``COPY``). ``executemany`` steps one prepared
statement per row — a reset, the bindings and a fresh start of the statement's program,
its table and index cursors opened again each time. One ``INSERT … VALUES (…), (…)``
statement opens them once: issue 18 measured a 13-column row with three indexes at ~4 µs
less per row this way (raw ``sqlite3``, 100-row transactions). A batch goes out in chunks
whose sizes are powers of two, largest first, so any batch size uses at most
``MAX_CHUNK.bit_length()`` distinct statements per table (the connection's statement
cache keeps them prepared) and a chunk stays below SQLite's bound on parameters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import Any, Final

MAX_CHUNK: Final = 256
"""Rows per statement at most: 256 rows of 13 columns are 3,328 parameters, under SQLite's
default bound of 32,766 (and the 500-term limit on compound selects). A connection whose
bound is lower (999 before SQLite 3.32) gets smaller chunks: :func:`chunk_rows`."""


@cache
def insert_statement(table: str, columns: str, width: int, rows: int) -> str:
    """``INSERT INTO table (columns) VALUES`` with ``rows`` groups of ``width`` markers."""
    group = "(" + ",".join("?" * width) + ")"
    return f"INSERT INTO {table} ({columns}) VALUES " + ",".join([group] * rows)


def chunk_sizes(count: int, largest: int = MAX_CHUNK) -> list[int]:
    """The chunk sizes for ``count`` rows: ``largest`` (a power of two) while more remain,
    then the powers of two of the rest, largest first (100 → 64, 32, 4)."""
    sizes = [largest] * (count // largest)
    rest = count % largest
    bit = largest >> 1
    while rest:
        if rest & bit:
            sizes.append(bit)
            rest ^= bit
        bit >>= 1
    return sizes


def chunk_rows(connection: sqlite3.Connection, width: int) -> int:
    """The most rows of ``width`` columns one statement takes on ``connection``: a power of
    two, at most :data:`MAX_CHUNK`, whose parameters stay within the connection's bound."""
    fits = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width
    rows = MAX_CHUNK
    while rows > fits and rows > 1:
        rows >>= 1
    return rows


def insert_rows(
    cursor: sqlite3.Cursor,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (each a value per column, in order) into ``table``, in row order."""
    names, width = ", ".join(columns), len(columns)
    if len(rows) == 1:  # most commands: the row as it is
        cursor.execute(insert_statement(table, names, width, 1), rows[0])
        return
    start = 0
    for size in chunk_sizes(len(rows), chunk_rows(cursor.connection, width)):
        cursor.execute(
            insert_statement(table, names, width, size),
            list(chain.from_iterable(rows[start : start + size])),
        )
        start += size
