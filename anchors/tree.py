"""The persistent Merkle tree over the ledger's chain entries (anchors layer, storage edge).

One responsibility: keep the RFC 9162 §2.1 tree of the chain in tables beside the ledger, so
that any root, inclusion proof (§2.1.3.1) or consistency proof (§2.1.4.1) of a log with
millions of entries is produced from O(log n) stored hashes in ONE batched read.

Leaves: leaf ``i`` (0-based) is ``leaf_hash(entry_hash)`` of chain sequence ``i + 1``
(DESIGN "Formats"). The store keeps the hash of every *complete, aligned* power-of-two subtree:
node ``(level, index)`` covers leaves ``[index·2^level, (index+1)·2^level)``; level 0 holds the
leaf hashes. A range ``[start, end)`` requested by the proof algorithms is split exactly as
RFC 9162 splits it (largest power of two smaller than the size) until every part is a stored
node, and folded back the same way. The proof algorithms themselves are
``anchors.merkle.inclusion_proof_from`` / ``consistency_proof_from``: they are run twice, once
to learn which ranges they need, once on the fetched hashes.

Appending is incremental and idempotent: :meth:`PersistentTree.catch_up` continues from the
tree's own size, checks that the last stored leaf still matches the chain (else
:class:`~anchors.errors.TreeDiverged`), and writes each page of new nodes and the new size in
one transaction guarded by the old size (a concurrent appender gets ``TreeConflict``).

The tree store is an operator convenience, NOT a trust anchor: verifiers recompute the tree
from the entries (``anchors.anchored_verify``) or check proofs against cosigned roots.

Tables (created by :meth:`TreeStore.migrate`, never by a worker): ``anchor_tree_nodes``
(``node`` = ``level << 48 | index``, ``hash``), ``anchor_tree_state`` (one row: ``size``)
and ``anchor_meta`` (``name``, ``value``: e.g. the log origin).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Protocol

import psycopg
from psycopg import sql

from anchors import merkle
from anchors.errors import TreeConflict, TreeDiverged, TreeStoreError
from ledger.storage.sqlite_tx import sqlite_transaction

__all__ = [
    "MAX_STORED_TREE_SIZE",
    "NODES_TABLE",
    "PersistentTree",
    "PostgresTreeStore",
    "SQLiteTreeStore",
    "TreeStore",
    "node_id",
    "open_tree_store",
]

NODES_TABLE: Final = "anchor_tree_nodes"
STATE_TABLE: Final = "anchor_tree_state"
META_TABLE: Final = "anchor_meta"
_LEVEL_SHIFT: Final = 48
MAX_STORED_TREE_SIZE: Final = 2**_LEVEL_SHIFT - 1
"""Largest number of leaves the node numbering can address (2^48 − 1)."""
CATCH_UP_PAGE: Final = 20_000
"""Chain entries read and appended per transaction by :meth:`PersistentTree.catch_up`."""
SQLITE_TIMEOUT_SECONDS: Final = 60


def node_id(level: int, index: int) -> int:
    """The stored key of node ``(level, index)``: ``level << 48 | index``."""
    return (level << _LEVEL_SHIFT) | index


class TreeStore(Protocol):
    """Where node hashes live: one adapter per backend (SQLite, PostgreSQL)."""

    def migrate(self) -> None:
        """Create the tables if they do not exist."""

    def size(self) -> int:
        """Number of leaves appended so far."""

    def read(self, ids: Collection[int]) -> dict[int, bytes]:
        """The stored hashes of ``ids`` (missing ids are absent from the result)."""

    def append(self, old_size: int, new_size: int, nodes: Sequence[tuple[int, bytes]]) -> None:
        """Insert ``nodes`` and move the size from ``old_size`` to ``new_size`` atomically.

        Raises ``TreeConflict`` when the stored size is no longer ``old_size``.
        """

    def get_meta(self, name: str) -> str | None:
        """A metadata value (e.g. ``origin``), or None."""

    def set_meta_once(self, name: str, value: str) -> str:
        """Store ``value`` unless ``name`` has one already; returns the stored value."""

    def set_meta(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, replacing any (an accepted restore's new origin)."""

    def reset(self) -> None:
        """Forget every node (size 0): the next catch-up rebuilds the tree from the chain
        (after an accepted restore cut the chain below the tree)."""


# --- backends ------------------------------------------------------------------------------------


class SQLiteTreeStore:
    """The tree tables in a SQLite file (the ledger's own file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=SQLITE_TIMEOUT_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise TreeStoreError(f"tree store: cannot open {self.path}: {exc}") from exc
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        with sqlite_transaction(self._connect(), TreeStoreError, "tree store", write=write) as conn:
            yield conn

    def migrate(self) -> None:
        with self._tx(True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {NODES_TABLE} "
                "(node INTEGER PRIMARY KEY, hash BLOB NOT NULL)"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
                "(id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL)"
            )
            c.execute(f"INSERT OR IGNORE INTO {STATE_TABLE} (id, size) VALUES (1, 0)")
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
                "(name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def size(self) -> int:
        with self._tx(False) as c:
            row = c.execute(f"SELECT size FROM {STATE_TABLE} WHERE id = 1").fetchone()
        if row is None:
            raise TreeStoreError("tree store: not migrated (run caseledger migrate)")
        return int(row[0])

    def read(self, ids: Collection[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        wanted = list(ids)
        with self._tx(False) as c:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for node, value in c.execute(
                    f"SELECT node, hash FROM {NODES_TABLE} WHERE node IN ({marks})", chunk
                ):
                    out[int(node)] = bytes(value)
        return out

    def append(self, old_size: int, new_size: int, nodes: Sequence[tuple[int, bytes]]) -> None:
        with self._tx(True) as c:
            (size,) = c.execute(f"SELECT size FROM {STATE_TABLE} WHERE id = 1").fetchone()
            if size != old_size:
                raise TreeConflict(f"tree grew to {size} meanwhile (expected {old_size})")
            c.executemany(f"INSERT OR IGNORE INTO {NODES_TABLE} (node, hash) VALUES (?, ?)", nodes)
            c.execute(f"UPDATE {STATE_TABLE} SET size = ? WHERE id = 1", (new_size,))

    def get_meta(self, name: str) -> str | None:
        with self._tx(False) as c:
            row = c.execute(f"SELECT value FROM {META_TABLE} WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta_once(self, name: str, value: str) -> str:
        with self._tx(True) as c:
            c.execute(
                f"INSERT OR IGNORE INTO {META_TABLE} (name, value) VALUES (?, ?)", (name, value)
            )
            (stored,) = c.execute(
                f"SELECT value FROM {META_TABLE} WHERE name = ?", (name,)
            ).fetchone()
        return str(stored)

    def set_meta(self, name: str, value: str) -> None:
        with self._tx(True) as c:
            c.execute(
                f"INSERT INTO {META_TABLE} (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def reset(self) -> None:
        with self._tx(True) as c:
            c.execute(f"DELETE FROM {NODES_TABLE}")
            c.execute(f"UPDATE {STATE_TABLE} SET size = 0 WHERE id = 1")


class PostgresTreeStore:
    """The tree tables in PostgreSQL (psycopg 3), in the ledger's schema."""

    def __init__(self, conninfo: str, schema: str = "public") -> None:
        self.conninfo = conninfo
        self.schema = schema or "public"
        self._conn: psycopg.Connection[Any] | None = None

    def _table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo)
            with self._conn.transaction():
                yield self._conn
        except psycopg.Error as exc:
            self.close()
            raise TreeStoreError(f"tree store: {exc}") from exc

    def migrate(self) -> None:
        with self._tx() as c:
            c.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            c.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (node bigint PRIMARY KEY, hash bytea NOT NULL)"
                ).format(self._table(NODES_TABLE))
            )
            c.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} "
                    "(id integer PRIMARY KEY CHECK (id = 1), size bigint NOT NULL)"
                ).format(self._table(STATE_TABLE))
            )
            c.execute(
                sql.SQL("INSERT INTO {} (id, size) VALUES (1, 0) ON CONFLICT DO NOTHING").format(
                    self._table(STATE_TABLE)
                )
            )
            c.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, value text NOT NULL)"
                ).format(self._table(META_TABLE))
            )

    def size(self) -> int:
        with self._tx() as c:
            row = c.execute(
                sql.SQL("SELECT size FROM {} WHERE id = 1").format(self._table(STATE_TABLE))
            ).fetchone()
        if row is None:
            raise TreeStoreError("tree store: not migrated (run caseledger migrate)")
        return int(row[0])

    def read(self, ids: Collection[int]) -> dict[int, bytes]:
        with self._tx() as c:
            rows = c.execute(
                sql.SQL("SELECT node, hash FROM {} WHERE node = ANY(%s)").format(
                    self._table(NODES_TABLE)
                ),
                (list(ids),),
            ).fetchall()
        return {int(node): bytes(value) for node, value in rows}

    def append(self, old_size: int, new_size: int, nodes: Sequence[tuple[int, bytes]]) -> None:
        with self._tx() as c:
            (size,) = c.execute(  # type: ignore[misc]
                sql.SQL("SELECT size FROM {} WHERE id = 1 FOR UPDATE").format(
                    self._table(STATE_TABLE)
                )
            ).fetchone()
            if size != old_size:
                raise TreeConflict(f"tree grew to {size} meanwhile (expected {old_size})")
            if nodes:
                c.execute(
                    sql.SQL(
                        "INSERT INTO {} (node, hash) SELECT * FROM unnest(%s::bigint[], "
                        "%s::bytea[]) ON CONFLICT DO NOTHING"
                    ).format(self._table(NODES_TABLE)),
                    ([n for n, _ in nodes], [h for _, h in nodes]),
                )
            c.execute(
                sql.SQL("UPDATE {} SET size = %s WHERE id = 1").format(self._table(STATE_TABLE)),
                (new_size,),
            )

    def get_meta(self, name: str) -> str | None:
        with self._tx() as c:
            row = c.execute(
                sql.SQL("SELECT value FROM {} WHERE name = %s").format(self._table(META_TABLE)),
                (name,),
            ).fetchone()
        return None if row is None else str(row[0])

    def set_meta_once(self, name: str, value: str) -> str:
        with self._tx() as c:
            c.execute(
                sql.SQL(
                    "INSERT INTO {} (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING"
                ).format(self._table(META_TABLE)),
                (name, value),
            )
            (stored,) = c.execute(  # type: ignore[misc]
                sql.SQL("SELECT value FROM {} WHERE name = %s").format(self._table(META_TABLE)),
                (name,),
            ).fetchone()
        return str(stored)

    def set_meta(self, name: str, value: str) -> None:
        with self._tx() as c:
            c.execute(
                sql.SQL(
                    "INSERT INTO {} (name, value) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
                ).format(self._table(META_TABLE)),
                (name, value),
            )

    def reset(self) -> None:
        with self._tx() as c:
            c.execute(sql.SQL("DELETE FROM {}").format(self._table(NODES_TABLE)))
            c.execute(
                sql.SQL("UPDATE {} SET size = 0 WHERE id = 1").format(self._table(STATE_TABLE))
            )


def open_tree_store(storage: Any) -> SQLiteTreeStore | PostgresTreeStore:
    """The tree store beside the ledger at ``storage`` (a ``ledger.storage.urls.StorageURL``)."""
    if storage.is_sqlite:
        return SQLiteTreeStore(storage.path)
    return PostgresTreeStore(storage.conninfo, storage.schema or "public")


# --- the tree ------------------------------------------------------------------------------------


def _nodes_of_range(start: int, end: int, out: set[int]) -> None:
    """Collect the stored nodes whose RFC 9162 fold gives MTH(leaves[start:end])."""
    n = end - start
    if n <= 0:
        return
    if n & (n - 1) == 0 and start % n == 0:
        out.add(node_id(n.bit_length() - 1, start // n))
        return
    k = 1 << ((n - 1).bit_length() - 1)
    _nodes_of_range(start, start + k, out)
    _nodes_of_range(start + k, end, out)


def _fold_range(start: int, end: int, nodes: dict[int, bytes]) -> bytes:
    n = end - start
    if n == 0:
        return merkle.EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        key = node_id(n.bit_length() - 1, start // n)
        try:
            return nodes[key]
        except KeyError:
            raise TreeStoreError(
                f"tree store: node for leaves [{start}, {end}) is missing (corrupted store)"
            ) from None
    k = 1 << ((n - 1).bit_length() - 1)
    return merkle.node_hash(
        _fold_range(start, start + k, nodes), _fold_range(start + k, end, nodes)
    )


_PLACEHOLDER = bytes(merkle.HASH_SIZE)


class PersistentTree:
    """RFC 9162 roots and proofs over a :class:`TreeStore`, appended from leaf hashes."""

    def __init__(self, store: TreeStore) -> None:
        self.store = store

    def size(self) -> int:
        return self.store.size()

    def _compute(self, plan: Callable[[merkle.HashRange], Any]) -> Any:
        """Run ``plan`` once to learn its ranges, read their nodes in one query, run again."""
        wanted: set[int] = set()

        def record(start: int, end: int) -> bytes:
            _nodes_of_range(start, end, wanted)
            return _PLACEHOLDER

        plan(record)
        nodes = self.store.read(wanted)
        return plan(lambda start, end: _fold_range(start, end, nodes))

    def _check_size(self, size: int) -> None:
        current = self.store.size()
        if not 0 <= size <= current:
            raise TreeStoreError(f"tree has {current} leaves, not {size}")

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` leaves. Raises ``TreeStoreError`` beyond the tree."""
        self._check_size(size)
        result: bytes = self._compute(lambda h: h(0, size))
        return result

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size]); raises ``TreeStoreError`` / ValueError."""
        self._check_size(size)
        result: list[bytes] = self._compute(lambda h: merkle.inclusion_proof_from(h, index, size))
        return result

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]) (empty from size 0, C2SP)."""
        self._check_size(new_size)
        result: list[bytes] = self._compute(
            lambda h: merkle.consistency_proof_from(h, old_size, new_size)
        )
        return result

    def leaf(self, index: int) -> bytes | None:
        """The stored leaf hash at ``index`` (None if absent)."""
        return self.store.read([node_id(0, index)]).get(node_id(0, index))

    def _frontier(self, size: int) -> dict[int, bytes]:
        """The compact range of [0, size): one complete subtree per set bit of ``size``."""
        ids: dict[int, int] = {}
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                ids[level] = node_id(level, start >> level)
                start += 1 << level
        stored = self.store.read(ids.values())
        try:
            return {level: stored[i] for level, i in ids.items()}
        except KeyError:
            raise TreeStoreError(
                "tree store: a frontier node is missing (corrupted store)"
            ) from None

    def append(self, leaf_hashes: Iterable[bytes], *, expected_size: int | None = None) -> int:
        """Append leaf hashes in one transaction; returns the new size.

        Raises ``TreeConflict`` if the tree is not at ``expected_size`` (when given) or grew
        meanwhile; ``ValueError`` for a leaf hash that is not 32 bytes.
        """
        old = self.store.size()
        if expected_size is not None and old != expected_size:
            raise TreeConflict(f"tree is at {old}, expected {expected_size}")
        frontier = self._frontier(old)
        nodes: list[tuple[int, bytes]] = []
        n = old
        for h in leaf_hashes:
            if not isinstance(h, bytes) or len(h) != merkle.HASH_SIZE:
                raise ValueError(f"leaf {n}: a leaf hash is {merkle.HASH_SIZE} bytes")
            nodes.append((node_id(0, n), h))
            level, index, value = 0, n, h
            while index & 1:
                value = merkle.node_hash(frontier.pop(level), value)
                level, index = level + 1, index >> 1
                nodes.append((node_id(level, index), value))
            frontier[level] = value
            n += 1
        if n > MAX_STORED_TREE_SIZE:
            raise TreeStoreError(f"tree size {n} exceeds {MAX_STORED_TREE_SIZE}")
        if n != old:
            self.store.append(old, n, nodes)
        return n

    def catch_up(self, chain: Any, *, page: int = CATCH_UP_PAGE, limit: int | None = None) -> int:
        """Append the chain entries the tree lacks (``chain`` is a ``ChainStore``); new size.

        Raises ``TreeDiverged`` when the last stored leaf no longer matches its chain entry or
        the chain has a gap, ``TreeStoreError`` on database errors.
        """
        size = self.store.size()
        if size:
            stored = self.leaf(size - 1)
            entries = chain.select_entries(size, 1)
            if not entries or entries[0].sequence != size:
                raise TreeDiverged(f"tree has {size} leaves but the chain has no entry {size}")
            if stored != merkle.leaf_hash(entries[0].entry_hash):
                raise TreeDiverged(
                    f"stored leaf {size - 1} differs from chain entry {size}: "
                    "the chain was changed after it was added to the tree"
                )
        appended = 0
        while limit is None or appended < limit:
            want = page if limit is None else min(page, limit - appended)
            entries = chain.select_entries(size + 1, want)
            if not entries:
                break
            for offset, entry in enumerate(entries):
                if entry.sequence != size + 1 + offset:
                    raise TreeDiverged(
                        f"chain sequence {size + 1 + offset} is missing (found {entry.sequence})"
                    )
            try:
                size = self.append(
                    [merkle.leaf_hash(e.entry_hash) for e in entries], expected_size=size
                )
            except TreeConflict:
                size = self.store.size()  # another appender got there first: continue from it
                continue
            appended += len(entries)
        return size
