"""The anchor node's own store: a SQLite file under ``--data`` (anchors node layer, storage).

One responsibility: persist origins, accepted checkpoints (the transactions), blocks and alarms,
and refuse to serve from a store that is stale or corrupted. Never the ledger's database.

Start-up check (:meth:`NodeStore.check`), in order: SQLite ``quick_check``; the store's format
and the validator keys it was created with; every block from genesis: height dense, ``prev``
equal to the previous header's hash, stored hash equal to SHA-256 of the header text, at least k
valid validator signatures, transaction count and RFC 9162 root recomputed from the stored
checkpoint notes, each checkpoint note signed by its origin's registered key and cosigned by k
validators, sizes of each origin strictly increasing; and finally the ``HEAD`` marker file
(height and hash of the last sealed block, replaced atomically after every commit): a store
*behind* its marker was restored from an old copy (stale), a different hash at the marker's
height means the store was altered.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from anchors import merkle, note
from anchors.errors import NodeStoreError
from anchors.node.keys import Consortium
from anchors.receipt import BlockHeader, parse_block_header, tx_leaf
from ledger.storage.sqlite_tx import sqlite_transaction

__all__ = ["STORE_FILE", "Alarm", "NodeStore", "StoredCheckpoint"]

STORE_FILE: Final = "node.sqlite3"
HEAD_FILE: Final = "HEAD"
STORE_FORMAT: Final = "caseledger-anchor-node-store/v1"

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS origins (origin TEXT PRIMARY KEY, verifier_key TEXT NOT NULL, "
    "registered_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, "
    "note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoints (origin TEXT NOT NULL, size INTEGER NOT NULL, "
    "root BLOB NOT NULL, note TEXT NOT NULL, height INTEGER NOT NULL, tx_index INTEGER NOT NULL, "
    "receipt TEXT NOT NULL, PRIMARY KEY (origin, size))",
    "CREATE INDEX IF NOT EXISTS checkpoints_block ON checkpoints (height, tx_index)",
    "CREATE TABLE IF NOT EXISTS alarms (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "time_ms INTEGER NOT NULL, origin TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL, "
    "evidence TEXT NOT NULL, held TEXT NOT NULL)",
)


@dataclass(frozen=True)
class StoredCheckpoint:
    origin: str
    size: int
    root: bytes
    note: str
    height: int
    tx_index: int
    receipt: str  # canonical JSON of the receipt


@dataclass(frozen=True)
class Alarm:
    """Evidence of misbehaviour by a ledger: what it presented and what the node held."""

    id: int
    time_ms: int
    origin: str
    kind: str  # "split-view" | "rollback" | "inconsistent" | "node-rolled-back"
    detail: str
    evidence: str  # the signed checkpoint the ledger presented
    held: str  # the cosigned checkpoint the node held for that origin

    def as_json_value(self) -> dict[str, Any]:
        return asdict(self)


class NodeStore:
    """The node's SQLite file. Writes come from the sealer thread; reads from any thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STORE_FILE
        self._local: dict[int, sqlite3.Connection] = {}

    def exists(self) -> bool:
        return self.path.exists()

    def _conn(self) -> sqlite3.Connection:
        import threading

        key = threading.get_ident()
        conn = self._local.get(key)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as exc:
                raise NodeStoreError(f"{self.path}: cannot open the node store: {exc}") from exc
            self._local[key] = conn
        return conn

    def close(self) -> None:
        for conn in self._local.values():
            conn.close()
        self._local.clear()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with sqlite_transaction(self._conn(), NodeStoreError, "node store") as conn:
            yield conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise NodeStoreError(f"node store: {exc}") from exc

    # -- creation ------------------------------------------------------------------------------

    def create(self, consortium: Consortium, genesis: BlockHeader, genesis_note: str) -> None:
        with self.tx() as c:
            for statement in _SCHEMA:
                c.execute(statement)
            c.executemany(
                "INSERT INTO meta (name, value) VALUES (?, ?)",
                [
                    ("format", STORE_FORMAT),
                    ("node", consortium.node),
                    ("validators", consortium.fingerprint()),
                    ("threshold", str(consortium.threshold)),
                ],
            )
            c.execute(
                "INSERT INTO blocks (height, hash, note) VALUES (0, ?, ?)",
                (genesis.hash, genesis_note),
            )
        self.write_head(genesis)

    def write_head(self, header: BlockHeader) -> None:
        """Replace the HEAD marker atomically (after the block's transaction committed)."""
        path = self.directory / HEAD_FILE
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{header.height} {header.hash.hex()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    # -- reads ---------------------------------------------------------------------------------

    def head(self) -> tuple[int, bytes, str]:
        rows = self.query("SELECT height, hash, note FROM blocks ORDER BY height DESC LIMIT 1")
        if not rows:
            raise NodeStoreError(f"{self.path}: no genesis block")
        height, digest, text = rows[0]
        return int(height), bytes(digest), str(text)

    def origins(self) -> dict[str, str]:
        return {o: k for o, k in self.query("SELECT origin, verifier_key FROM origins")}

    def _checkpoint(self, row: Any) -> StoredCheckpoint:
        return StoredCheckpoint(
            str(row[0]), int(row[1]), bytes(row[2]), str(row[3]), int(row[4]), int(row[5]), row[6]
        )

    _CP_COLUMNS = "origin, size, root, note, height, tx_index, receipt"

    def latest(self, origin: str) -> StoredCheckpoint | None:
        rows = self.query(
            f"SELECT {self._CP_COLUMNS} FROM checkpoints WHERE origin = ? "
            "ORDER BY size DESC LIMIT 1",
            (origin,),
        )
        return self._checkpoint(rows[0]) if rows else None

    def at_size(self, origin: str, size: int) -> StoredCheckpoint | None:
        rows = self.query(
            f"SELECT {self._CP_COLUMNS} FROM checkpoints WHERE origin = ? AND size = ?",
            (origin, size),
        )
        return self._checkpoint(rows[0]) if rows else None

    def history(self, origin: str, limit: int) -> list[StoredCheckpoint]:
        rows = self.query(
            f"SELECT {self._CP_COLUMNS} FROM checkpoints WHERE origin = ? "
            "ORDER BY size DESC LIMIT ?",
            (origin, limit),
        )
        return [self._checkpoint(r) for r in rows]

    def block(self, height: int) -> tuple[str, list[str]] | None:
        rows = self.query("SELECT note FROM blocks WHERE height = ?", (height,))
        if not rows:
            return None
        txs = self.query(
            "SELECT note FROM checkpoints WHERE height = ? ORDER BY tx_index", (height,)
        )
        return str(rows[0][0]), [str(t[0]) for t in txs]

    def alarms(self, limit: int = 1000) -> list[Alarm]:
        rows = self.query(
            "SELECT id, time_ms, origin, kind, detail, evidence, held FROM alarms "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [Alarm(*row) for row in rows]

    # -- integrity -----------------------------------------------------------------------------

    def check(self, consortium: Consortium) -> None:
        """Refuse a stale or corrupted store (see the module docstring); NodeStoreError."""
        problem = self._check(consortium)
        if problem:
            raise NodeStoreError(
                f"node store {self.path} is stale or corrupted: {problem}; the node refuses to "
                "start (restore the store that matches its HEAD marker and keys)"
            )

    def _check(self, consortium: Consortium) -> str:
        try:
            (result,) = self._conn().execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                return f"SQLite quick_check: {result}"
            meta = dict(self.query("SELECT name, value FROM meta"))
        except (sqlite3.Error, NodeStoreError) as exc:
            return f"unreadable ({exc})"
        if meta.get("format") != STORE_FORMAT:
            return f"format {meta.get('format')!r} is not {STORE_FORMAT}"
        if meta.get("validators") != consortium.fingerprint() or meta.get("node") != (
            consortium.node
        ):
            return "the validator keys under --data are not the ones this store was created with"
        if meta.get("threshold") != str(consortium.threshold):
            return "the threshold in keys.json differs from the store's"
        origins = {o: note.Verifier.from_key(k) for o, k in self.origins().items()}
        validators = consortium.cosignature_verifiers()
        block_keys = consortium.block_verifiers()
        sizes: dict[str, int] = {}
        prev = bytes(32)
        height = -1
        for h, digest, text in self.query("SELECT height, hash, note FROM blocks ORDER BY height"):
            height += 1
            if h != height:
                return f"block {height} is missing"
            try:
                opened = note.open_note(text, block_keys)
                header = parse_block_header(opened.text)
            except Exception as exc:  # any parse or signature failure is corruption
                return f"block {h}: {exc}"
            if len(opened.signatures) < consortium.threshold:
                return f"block {h}: only {len(opened.signatures)} validator signatures"
            if header.height != h or header.hash != bytes(digest) or header.prev_hash != prev:
                return f"block {h}: height, hash or previous-block link does not match"
            txs = self.query(
                "SELECT origin, size, root, note, tx_index FROM checkpoints WHERE height = ? "
                "ORDER BY tx_index",
                (h,),
            )
            if [t[4] for t in txs] != list(range(header.tx_count)):
                return f"block {h}: {header.tx_count} transactions sealed, {len(txs)} stored"
            if merkle.root([tx_leaf(t[3]) for t in txs]) != header.tx_root:
                return f"block {h}: transactions do not hash to the sealed root"
            for origin, size, root, text_cp, _ in txs:
                problem = _check_tx(
                    origin, size, bytes(root), text_cp, origins, validators, consortium.threshold
                )
                if problem:
                    return f"block {h}: {problem}"
                if size <= sizes.get(origin, -1):
                    return f"block {h}: {origin} size {size} does not grow"
                sizes[origin] = size
            prev = header.hash
        if height < 0:
            return "no genesis block"
        return self._check_head(height, prev)

    def _check_head(self, height: int, head_hash: bytes) -> str:
        try:
            marker = (self.directory / HEAD_FILE).read_text(encoding="ascii").split()
            marked_height, marked_hash = int(marker[0]), bytes.fromhex(marker[1])
        except (OSError, ValueError, IndexError):
            return "the HEAD marker is missing or unreadable"
        if marked_height > height:
            return (
                f"stale: the store ends at block {height} but block {marked_height} was sealed "
                "(restored from an old copy?)"
            )
        rows = self.query("SELECT hash FROM blocks WHERE height = ?", (marked_height,))
        if not rows or bytes(rows[0][0]) != marked_hash:
            return f"block {marked_height} differs from the one recorded in HEAD"
        if height - marked_height > 1:
            return f"HEAD marks block {marked_height} but the store has {height}"
        return ""


def _check_tx(
    origin: str,
    size: int,
    root: bytes,
    text: str,
    origins: dict[str, note.Verifier],
    validators: list[note.Verifier],
    threshold: int,
) -> str:
    key = origins.get(origin)
    if key is None:
        return f"checkpoint of unregistered origin {origin!r}"
    try:
        opened = note.open_note(text, [key, *validators])
        checkpoint = note.parse_checkpoint(opened.text)
    except note.NoteError as exc:
        return f"checkpoint {origin} {size}: {exc}"
    if (checkpoint.origin, checkpoint.size, checkpoint.root_hash) != (origin, size, root):
        return f"checkpoint {origin} {size}: stored fields differ from the note"
    if not any(s.key_id == key.key_id for s in opened.signatures):
        return f"checkpoint {origin} {size}: not signed by the origin's key"
    if sum(s.alg == note.ALG_COSIGNATURE_V1 for s in opened.signatures) < threshold:
        return f"checkpoint {origin} {size}: fewer than {threshold} cosignatures"
    return ""
