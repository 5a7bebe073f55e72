"""Tile coordinates, paths and entry bundles of a C2SP tiled log (anchors layer, pure).

One responsibility: the exact shapes of C2SP tlog-tiles (https://c2sp.org/tlog-tiles) — which
tiles describe a tree of a given size, how a tile is named in a URL path, which stored Merkle
nodes a hash tile holds, and the entry bundle byte format — shared by the server
(:mod:`anchors.tiled_log`) and the auditor's reader (:mod:`anchors.tile_reader`).

Spec followed, section by section:

* *Merkle Tree*: tiles have height 8 and width 256. Hash ``i`` of the ``n``-th tile at level
  ``l`` is MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]) (RFC 6962/9162 §2.1), i.e. the
  stored complete subtree at tree level ``8·l`` with index ``n·256 + i``
  (:func:`anchors.tree.node_id`). A full tile is 256 hashes (8 192 bytes).
* *Paths*: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``; ``<L>`` is 0..63 in
  decimal without leading zeroes, ``<N>`` is zero-padded 3-digit groups, every group but the
  last prefixed by ``x`` (1234067 → ``x001/x234/067``), ``<W>`` is 1..255 without leading zeroes.
  Anything else is rejected by :func:`parse_tile_path` with :class:`TileError` naming the part.
* *Partial tiles*: the partial tile at level ``l`` of a tree of size ``s`` has
  ``floor(s / 256^l) mod 256`` hashes; empty tiles do not exist.
* *Log entries*: an entry bundle is a sequence of big-endian uint16 length-prefixed entries;
  entry ``i`` hashes (RFC 6962 leaf hash) to hash ``i`` of the level-0 tile with the same index.

Decision (DESIGN "Formats"; docs/ANCHORING.md §11): the leaf data of this ledger's tree is the
32-byte chain entry hash, so each entry of a bundle is that 32-byte hash (``leaf_hash(entry) =
SHA-256(0x00 ‖ entry hash)`` is then exactly the level-0 tile hash, as the spec requires). The
canonical entry bytes that hash to it are served to auditors by ``/v1/audit/entries``.

Like Go's ``golang.org/x/mod/sumdb/tlog``, entry bundles are tiles of level ``-1``
(:data:`ENTRIES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from anchors.errors import AnchorError
from anchors.merkle import HASH_SIZE, MAX_TREE_SIZE
from anchors.tree import node_id

__all__ = [
    "ENTRIES",
    "FULL_WIDTH",
    "MAX_ENTRY_BYTES",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "Tile",
    "TileError",
    "encode_index",
    "format_entry_bundle",
    "parse_entry_bundle",
    "parse_tile_path",
    "split_hash_tile",
    "tiles_for_size",
]

TILE_HEIGHT: Final = 8
"""Tree levels per tile (tlog-tiles: fixed at 8)."""
FULL_WIDTH: Final = 1 << TILE_HEIGHT
"""Hashes (or entries) in a full tile: 256."""
MAX_LEVEL: Final = 63
"""Highest tile level a path may name."""
ENTRIES: Final = -1
"""The ``level`` of an entry bundle (as in Go's sumdb/tlog data tiles)."""
MAX_ENTRY_BYTES: Final = 0xFFFF
"""Longest entry an entry bundle can carry (uint16 length prefix)."""

_LEVEL: Final = re.compile(r"0|[1-9][0-9]?")
_WIDTH: Final = re.compile(r"[1-9][0-9]{0,2}")
_GROUP: Final = re.compile(r"[0-9]{3}")


class TileError(AnchorError):
    """A tile path, tile or entry bundle is malformed (the message names the part)."""


@dataclass(frozen=True)
class Tile:
    """One tile: ``level`` 0..63 (or :data:`ENTRIES`), ``index`` within the level, and
    ``width`` 1..256 (256 = full). Raises :class:`TileError` for values outside those ranges."""

    level: int
    index: int
    width: int = FULL_WIDTH

    def __post_init__(self) -> None:
        for name in ("level", "index", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TileError(f"tile {name}: an int, not {type(value).__name__}")
        if not (self.level == ENTRIES or 0 <= self.level <= MAX_LEVEL):
            raise TileError(f"tile level: 0..{MAX_LEVEL} or entries, not {self.level}")
        if not 1 <= self.width <= FULL_WIDTH:
            raise TileError(f"tile width: 1..{FULL_WIDTH}, not {self.width}")
        if not 0 <= self.index <= MAX_TREE_SIZE >> TILE_HEIGHT:
            raise TileError(f"tile index: 0..2^56-1, not {self.index}")

    @property
    def is_entries(self) -> bool:
        return self.level == ENTRIES

    @property
    def is_partial(self) -> bool:
        return self.width < FULL_WIDTH

    @property
    def hash_level(self) -> int:
        """The tile level whose hashes this tile covers (0 for an entry bundle)."""
        return max(self.level, 0)

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = "entries" if self.is_entries else str(self.level)
        suffix = f".p/{self.width}" if self.is_partial else ""
        return f"tile/{level}/{encode_index(self.index)}{suffix}"

    @property
    def first_leaf(self) -> int:
        """The tile's start index: the first leaf its hashes (or entries) cover."""
        return self.index << (TILE_HEIGHT * (self.hash_level + 1))

    @property
    def needs_size(self) -> int:
        """The smallest tree size in which this tile exists: its last hash must be complete."""
        return (self.index * FULL_WIDTH + self.width) << (TILE_HEIGHT * self.hash_level)

    @property
    def leaf_span(self) -> int:
        """Leaves under one hash of this tile: 256^level."""
        return 1 << (TILE_HEIGHT * self.hash_level)

    def node_ids(self) -> list[int]:
        """The stored tree nodes (:func:`anchors.tree.node_id`) holding this hash tile's hashes,
        in order. Raises :class:`TileError` for an entry bundle (it holds entries, not hashes)."""
        if self.is_entries:
            raise TileError("an entry bundle holds entries, not stored tree nodes")
        base = self.index * FULL_WIDTH
        level = TILE_HEIGHT * self.level
        return [node_id(level, base + i) for i in range(self.width)]

    def full(self) -> Tile:
        """The full tile this (possibly partial) tile is a prefix of."""
        return Tile(self.level, self.index)


def encode_index(index: int) -> str:
    """``<N>`` of a tile path: zero-padded 3-digit groups, all but the last prefixed ``x``."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def parse_tile_path(path: str) -> Tile:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` exactly as the spec
    writes it (a path with a leading ``/`` is accepted). Raises :class:`TileError` naming the
    malformed part; one tile has one path (``tile_path(parse_tile_path(p)) == p``)."""
    if not isinstance(path, str) or len(path) > 200:
        raise TileError("tile path: a string of at most 200 characters")
    parts = path.removeprefix("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError("tile path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]")
    if parts[1] == "entries":
        level = ENTRIES
    elif _LEVEL.fullmatch(parts[1]) and int(parts[1]) <= MAX_LEVEL:
        level = int(parts[1])
    else:
        raise TileError(f"tile level {parts[1][:8]!r}: 0..{MAX_LEVEL} without leading zeroes")
    groups = parts[2:]
    width = FULL_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]) or int(groups[-1]) >= FULL_WIDTH:
            raise TileError(f"tile width {groups[-1][:8]!r}: 1..255 without leading zeroes")
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2].removesuffix(".p")]
    digits = ""
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        body = group if last else group.removeprefix("x")
        if (not last and not group.startswith("x")) or not _GROUP.fullmatch(body):
            raise TileError(
                f"tile index element {group[:8]!r}: 3 digits, every element but the last "
                "prefixed with x"
            )
        digits += body
    if len(groups) > 1 and digits.startswith("000"):
        raise TileError("tile index: no leading all-zero element")
    index = int(digits)
    if index > MAX_TREE_SIZE >> TILE_HEIGHT:
        raise TileError("tile index: beyond any tree")
    return Tile(level, index, width)


def tiles_for_size(size: int) -> list[Tile]:
    """Every tile (full and partial, every level, then the entry bundles) that together
    describe a tree of ``size`` leaves, lowest level first. Raises :class:`TileError` for a
    size outside 0..2^64-1."""
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise TileError(f"tree size: 0..2^64-1, not {size!r}")
    tiles: list[Tile] = []
    level = 0
    while size >> (TILE_HEIGHT * level) > 0:
        hashes = size >> (TILE_HEIGHT * level)  # complete subtrees at this tile level
        tiles += [Tile(level, n) for n in range(hashes // FULL_WIDTH)]
        if hashes % FULL_WIDTH:
            tiles.append(Tile(level, hashes // FULL_WIDTH, hashes % FULL_WIDTH))
        level += 1
    bundles = [Tile(ENTRIES, t.index, t.width) for t in tiles if t.level == 0]
    return tiles + bundles


def format_entry_bundle(entries: list[bytes]) -> bytes:
    """The entry bundle of ``entries``: each as big-endian uint16 length, then its bytes.
    Raises :class:`TileError` for an entry longer than :data:`MAX_ENTRY_BYTES` or a bundle of
    more than 256 entries."""
    if len(entries) > FULL_WIDTH:
        raise TileError(f"an entry bundle holds at most {FULL_WIDTH} entries")
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileError(f"entry {i}: longer than {MAX_ENTRY_BYTES} bytes")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """Split an entry bundle into exactly ``width`` entries. Raises :class:`TileError` when a
    length runs past the end, the count differs, or bytes are left over."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if len(entries) == width:
            raise TileError(f"entry bundle: bytes after its {width} entries")
        if at + 2 > len(data):
            raise TileError(f"entry bundle: entry {len(entries)} has a truncated length")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise TileError(f"entry bundle: entry {len(entries)} runs past the end")
        entries.append(bytes(data[at + 2 : at + 2 + length]))
        at += 2 + length
    if len(entries) != width:
        raise TileError(f"entry bundle: {len(entries)} entries, expected {width}")
    return entries


def split_hash_tile(data: bytes, width: int) -> list[bytes]:
    """The ``width`` hashes of a hash tile. Raises :class:`TileError` unless it is exactly
    ``width`` × 32 bytes."""
    if len(data) != width * HASH_SIZE:
        raise TileError(f"hash tile: {len(data)} bytes, expected {width * HASH_SIZE}")
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]
