"""The ledger's Merkle tree served as a C2SP tiled log (anchors layer, server side).

One responsibility: answer the resources of C2SP tlog-tiles (https://c2sp.org/tlog-tiles) —
the checkpoint, hash tiles and entry bundles — from the persistent tree (:mod:`anchors.tree`)
and the chain, for the tree of the latest *published* checkpoint. Paths and byte formats are
:mod:`anchors.tiles`; HTTP (status codes, caching headers) is the caller's.

Decisions (docs/ANCHORING.md §11):

* The published checkpoint is the latest cosigned checkpoint the ledger recorded in its own
  chain (the last ``AnchorLog.Anchored`` event; what ``caseledger checkpoint`` prints): a
  checkpoint the municipal node's validators cosigned and sealed in a block. It is read as ONE
  event (the aggregate's last), not by replaying the anchoring history.
* Tiles exist up to that checkpoint's size and not beyond (404): a client can check every tile
  it gets against a signed root, and nothing is published before the node has cosigned it.
  Every tile whose hashes are complete within that size is served, partial tiles of every
  width included (the spec's "partial tiles for sizes for which a checkpoint was produced",
  never deleted: a partial tile's bytes cannot change in an append-only tree).
* Hash tiles are read in one query of the stored complete subtrees (tree level 8·L);
  entry bundles from the chain entries (leaf data = entry hash, :mod:`anchors.tiles`).
* Full tiles never change, so a :class:`TiledLog` keeps the most recently served
  :data:`CACHED_TILES` of them (at most ~8.7 KB each) and answers them again without a query;
  partial tiles are always read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

from anchors import merkle
from anchors.errors import TreeStoreError
from anchors.tiles import Tile, format_entry_bundle

__all__ = [
    "CACHED_TILES",
    "NodeReader",
    "PublishedCheckpoint",
    "TiledLog",
    "published_checkpoint",
]

NodeReader = Callable[[Collection[int]], dict[int, bytes]]
"""``read(node ids) -> {node id: hash}`` of the persistent tree (``TreeStore.read``)."""

_ANCHORED: Final = "Anchored"
CACHED_TILES: Final = 2048
"""Full tiles a :class:`TiledLog` keeps in memory (~18 MB at most)."""


@dataclass(frozen=True)
class PublishedCheckpoint:
    """The checkpoint the log publishes: its tree ``size`` and ``root`` and the cosigned note."""

    origin: str
    size: int
    root: bytes
    note: str


def published_checkpoint(app: Any, origin: str) -> PublishedCheckpoint | None:
    """The latest cosigned checkpoint recorded in ``app``'s chain for ``origin`` (None before
    the first anchoring). ``app`` is a ``LedgerApplication``; one indexed read."""
    from ledger.domain.anchoring import AnchorLog

    events = list(app.events.get(AnchorLog.create_id(origin), desc=True, limit=1))
    if not events or type(events[0]).__name__ != _ANCHORED:
        return None
    last = events[0]
    return PublishedCheckpoint(origin, int(last.size), bytes(last.root), str(last.checkpoint))


class TiledLog:
    """Hash tiles and entry bundles of the tree, bounded by a published tree size.

    ``read_nodes`` reads stored tree nodes; ``entry_hashes(first_sequence, count)`` returns the
    chain's entry hashes of that range in sequence order (fewer when the chain is shorter).
    """

    def __init__(
        self,
        read_nodes: NodeReader,
        entry_hashes: Callable[[int, int], list[bytes]],
        *,
        cached: int = CACHED_TILES,
    ) -> None:
        self._read_nodes = read_nodes
        self._entry_hashes = entry_hashes
        self._cached = cached
        self._cache: OrderedDict[Tile, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def tile(self, tile: Tile, size: int) -> bytes | None:
        """The bytes of ``tile`` in the tree of ``size`` leaves, or None if the tree has no
        such tile. Raises ``TreeStoreError`` if the store or chain lacks what the tree needs."""
        if tile.needs_size > size:
            return None
        if tile.is_partial:
            return self._read(tile)
        with self._lock:
            found = self._cache.get(tile)
            if found is not None:
                self._cache.move_to_end(tile)
                return found
        data = self._read(tile)
        with self._lock:
            self._cache[tile] = data
            while len(self._cache) > self._cached:
                self._cache.popitem(last=False)
        return data

    def _read(self, tile: Tile) -> bytes:
        if tile.is_entries:
            return self._bundle(tile)
        ids = tile.node_ids()
        found = self._read_nodes(ids)
        try:
            return b"".join(found[i] for i in ids)
        except KeyError:
            raise TreeStoreError(
                f"tree store: a node of {tile.path} is missing (the tree is behind its "
                "checkpoint, or the store was damaged)"
            ) from None

    def _bundle(self, tile: Tile) -> bytes:
        first = tile.first_leaf + 1  # chain sequences start at 1
        hashes = self._entry_hashes(first, tile.width)
        if len(hashes) != tile.width or any(len(h) != merkle.HASH_SIZE for h in hashes):
            raise TreeStoreError(
                f"chain: entries {first}..{first + tile.width - 1} of {tile.path} are missing"
            )
        return format_entry_bundle(hashes)
