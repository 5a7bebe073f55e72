"""The auditor's reader of a C2SP tiled log: fetch, mirror and re-verify it (anchors layer).

One responsibility: given where a tiled log lives (an ``http(s)://`` prefix or a directory
mirror) and a trust policy, check every byte it publishes against the cosigned checkpoint —
with no trust in the server and nothing but :mod:`anchors.merkle`, :mod:`anchors.note` and the
formats of :mod:`anchors.tiles`. ``caseledger tiles verify`` is its command line;
``tests/anchors/go_tlog_reader`` checks the same log with Go's reference implementation.

Steps of :func:`read_log` (C2SP tlog-tiles, tlog-checkpoint, signed-note, tlog-cosignature),
numbered as in the code; :class:`TileLogError` names the first that fails:

1. ``checkpoint``: signed by the ledger's checkpoint key and cosigned by at least k of the
   anchor node's validators, for the policy's origin (:func:`anchors.receipt.
   verify_cosigned_checkpoint`);
2. ``tiles``: every tile a tree of that size has (:func:`anchors.tiles.tiles_for_size`) is
   fetched and is exactly 32 × width bytes; a missing partial tile is cut from its full tile
   (the spec's fallback);
3. ``levels``: each hash of a level-(l+1) tile is the Merkle Tree Hash of the full level-l
   tile below it (RFC 9162 §2.1);
4. ``root``: the Merkle Tree Hash of all leaf hashes is the checkpoint's root;
5. ``entries``: each entry of each bundle is a 32-byte entry hash whose RFC 9162 leaf hash
   is the level-0 tile hash at its index (so every chain entry hash is known and checked);
6. ``kept``: optionally, a checkpoint the auditor kept from before verifies under the same
   policy and its root is the root of the first ``size`` leaves now (the log only grew).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from anchors import merkle
from anchors.errors import AnchorError, ReceiptError
from anchors.policy import TrustPolicy
from anchors.receipt import VerifiedCheckpoint, verify_cosigned_checkpoint
from anchors.tiles import (
    FULL_WIDTH,
    Tile,
    parse_entry_bundle,
    split_hash_tile,
    tiles_for_size,
)

__all__ = [
    "CHECKPOINT_PATH",
    "DirectorySource",
    "HttpSource",
    "LogReport",
    "MirroringSource",
    "TileLogError",
    "TileSource",
    "read_log",
    "source_for",
]

CHECKPOINT_PATH: Final = "checkpoint"
MAX_RESOURCE_BYTES: Final = 1024 * 1024
"""Largest resource fetched: a full tile is 8 192 bytes, a full bundle of hashes 8 704."""
DEFAULT_TIMEOUT_SECONDS: Final = 20.0


class TileLogError(AnchorError):
    """The tiled log does not verify, or could not be read: ``step`` says which check."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


class TileSource(Protocol):
    """Where the log's resources come from."""

    def fetch(self, path: str) -> bytes | None:
        """The resource at ``path`` (e.g. ``tile/0/000``), or None when it does not exist.
        Raises :class:`TileLogError` (step ``fetch``) when it cannot be read."""


@dataclass(frozen=True)
class HttpSource:
    """A log served over HTTP(S) at ``prefix`` (e.g. ``http://127.0.0.1:8000``)."""

    prefix: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def fetch(self, path: str) -> bytes | None:
        url = self.prefix.rstrip("/") + "/" + path
        request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read(MAX_RESOURCE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise TileLogError("fetch", f"{url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise TileLogError("fetch", f"{url}: {exc}") from None
        if len(data) > MAX_RESOURCE_BYTES:
            raise TileLogError("fetch", f"{url}: larger than {MAX_RESOURCE_BYTES} bytes")
        return data


@dataclass(frozen=True)
class DirectorySource:
    """A mirror on disk: the resources as files under ``root`` in the spec's path layout."""

    root: Path

    def fetch(self, path: str) -> bytes | None:
        target = self.root.joinpath(*path.split("/"))
        try:
            return target.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TileLogError("fetch", f"{target}: {exc}") from None


@dataclass(frozen=True)
class MirroringSource:
    """Reads through ``source`` and keeps every resource under ``root``: full tiles already
    there are read locally (they never change), everything else is fetched again."""

    source: TileSource
    root: Path

    def fetch(self, path: str) -> bytes | None:
        local = DirectorySource(self.root)
        immutable = path != CHECKPOINT_PATH and ".p/" not in path
        if immutable:
            found = local.fetch(path)
            if found is not None:
                return found
        data = self.source.fetch(path)
        if data is not None:
            target = self.root.joinpath(*path.split("/"))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                temp = target.with_name(target.name + ".part")
                temp.write_bytes(data)
                temp.replace(target)
            except OSError as exc:
                raise TileLogError("mirror", f"{target}: {exc}") from None
        return data


def source_for(location: str) -> TileSource:
    """An :class:`HttpSource` for an ``http(s)://`` prefix, else a :class:`DirectorySource`."""
    scheme = urllib.parse.urlsplit(location).scheme
    if scheme in ("http", "https"):
        return HttpSource(location)
    return DirectorySource(Path(location))


@dataclass(frozen=True)
class LogReport:
    """What :func:`read_log` checked: the verified checkpoint, every entry hash in order, the
    resources read and their bytes, and the size of the kept checkpoint it checked (if any)."""

    checkpoint: VerifiedCheckpoint
    entry_hashes: tuple[bytes, ...]
    resources: int
    bytes_read: int
    kept_size: int | None

    def summary(self) -> str:
        cp = self.checkpoint
        lines = [
            f"VERIFIED tiled log {cp.checkpoint.origin}: size {cp.size}, root "
            f"{cp.root.hex()}, cosigned by {', '.join(cp.cosigners)}",
            f"  {self.resources} resources ({self.bytes_read:,} bytes): every tile hash, level "
            "and entry checked against the cosigned root",
        ]
        if self.kept_size is not None:
            lines.append(f"  the kept checkpoint of size {self.kept_size} is a prefix of this log")
        return "\n".join(lines)


class _Counter:
    def __init__(self, source: TileSource) -> None:
        self.source, self.resources, self.bytes = source, 0, 0

    def fetch(self, path: str) -> bytes | None:
        data = self.source.fetch(path)
        if data is not None:
            self.resources += 1
            self.bytes += len(data)
        return data


def _checkpoint(text: bytes | None, policy: TrustPolicy, step: str) -> VerifiedCheckpoint:
    if text is None:
        raise TileLogError(step, "no checkpoint published (the ledger has not anchored yet)")
    try:
        return verify_cosigned_checkpoint(text.decode("utf-8"), policy)
    except UnicodeDecodeError:
        raise TileLogError(step, "the checkpoint is not UTF-8 text") from None
    except ReceiptError as exc:
        raise TileLogError(step, str(exc)) from None


def _fetch_tile(source: _Counter, tile: Tile) -> bytes:
    data = source.fetch(tile.path)
    if data is None and tile.is_partial:  # the spec's fallback: cut the full tile
        full = source.fetch(tile.full().path)
        if full is not None:
            per = None if tile.is_entries else merkle.HASH_SIZE
            data = full[: tile.width * per] if per else _cut_bundle(full, tile)
    if data is None:
        raise TileLogError("tiles", f"{tile.path} is missing")
    return data


def _cut_bundle(full: bytes, tile: Tile) -> bytes:
    at = 0
    for _ in range(tile.width):
        if at + 2 > len(full):
            break
        at += 2 + int.from_bytes(full[at : at + 2], "big")
    return full[:at]


def read_log(
    source: TileSource, policy: TrustPolicy, *, kept_checkpoint: str | None = None
) -> LogReport:
    """Verify the tiled log at ``source`` against ``policy`` (steps in the module docstring).

    Raises :class:`TileLogError` naming the first failed step; nothing else for bad data.
    """
    counted = _Counter(source)
    # 1. the cosigned checkpoint.
    checkpoint = _checkpoint(counted.fetch(CHECKPOINT_PATH), policy, "checkpoint")
    size = checkpoint.size
    # 2. every tile of a tree of that size, each of its exact length.
    levels: dict[int, list[list[bytes]]] = {}
    bundles: list[tuple[Tile, bytes]] = []
    for tile in tiles_for_size(size):
        data = _fetch_tile(counted, tile)
        if tile.is_entries:
            bundles.append((tile, data))
            continue
        try:
            hashes = split_hash_tile(data, tile.width)
        except AnchorError as exc:
            raise TileLogError("tiles", f"{tile.path}: {exc}") from None
        levels.setdefault(tile.level, []).append(hashes)
    # 3. each higher-level hash is the root of the full tile below it.
    for level in sorted(levels)[1:]:
        below = [t for t in levels[level - 1] if len(t) == FULL_WIDTH]
        above = [h for t in levels[level] for h in t]
        if len(above) != len(below):
            raise TileLogError(
                "levels", f"level {level} has {len(above)} hashes for {len(below)} full tiles below"
            )
        for n, (hash_above, tile_below) in enumerate(zip(above, below, strict=True)):
            if merkle.root(tile_below) != hash_above:
                raise TileLogError(
                    "levels", f"hash {n} of level {level} is not the root of tile {level - 1}/{n}"
                )
    # 4. the root of all leaves is the cosigned root.
    leaves = [h for t in levels.get(0, []) for h in t]
    if len(leaves) != size or merkle.root(leaves) != checkpoint.root:
        raise TileLogError(
            "root", f"the {len(leaves)} leaf hashes do not give the checkpoint's root"
        )
    # 5. every entry hashes to its leaf.
    entries: list[bytes] = []
    for tile, data in bundles:
        try:
            found = parse_entry_bundle(data, tile.width)
        except AnchorError as exc:
            raise TileLogError("entries", f"{tile.path}: {exc}") from None
        for i, entry in enumerate(found):
            index = tile.first_leaf + i
            if len(entry) != merkle.HASH_SIZE or merkle.leaf_hash(entry) != leaves[index]:
                raise TileLogError(
                    "entries",
                    f"entry {index} (sequence {index + 1}) in {tile.path} does not hash to "
                    "its leaf",
                )
            entries.append(entry)
    # 6. a checkpoint kept from before is a prefix of this log.
    kept_size = None
    if kept_checkpoint is not None:
        kept = _checkpoint(kept_checkpoint.encode("utf-8"), policy, "kept")
        if kept.size > size:
            raise TileLogError(
                "kept",
                f"the kept checkpoint has {kept.size} entries, the log only {size}: "
                "the log was cut back (rollback)",
            )
        if merkle.root(leaves[: kept.size]) != kept.root:
            raise TileLogError(
                "kept",
                f"the log's first {kept.size} entries no longer give the kept root: "
                "history was rewritten (fork)",
            )
        kept_size = kept.size
    return LogReport(checkpoint, tuple(entries), counted.resources, counted.bytes, kept_size)
