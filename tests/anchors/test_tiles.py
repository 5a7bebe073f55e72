"""Tiles of C2SP tlog-tiles: paths, which tiles a tree has, entry bundles, and tile bytes read
from a real persistent tree, cross-checked against the spec's formula written naively
(hash i of tile n at level l = MTH(D[(n·256+i)·256^l : (n·256+i+1)·256^l]))."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchors import merkle
from anchors.tiled_log import TiledLog
from anchors.tiles import (
    ENTRIES,
    Tile,
    TileError,
    encode_index,
    format_entry_bundle,
    parse_entry_bundle,
    parse_tile_path,
    split_hash_tile,
    tiles_for_size,
)
from anchors.tree import PersistentTree, SQLiteTreeStore
from tests.anchors.test_merkle_properties import ref_mth

# --- paths -------------------------------------------------------------------------------------


def test_the_spec_example_index_is_encoded_in_x_prefixed_groups() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert parse_tile_path("tile/0/x001/x234/067") == Tile(0, 1234067)
    assert encode_index(0) == "000" and encode_index(999) == "999"
    assert encode_index(1000) == "x001/000"


@pytest.mark.parametrize(
    ("path", "tile"),
    [
        ("tile/0/000", Tile(0, 0)),
        ("tile/1/000.p/17", Tile(1, 0, 17)),
        ("tile/63/005", Tile(63, 5)),
        ("tile/entries/273.p/112", Tile(ENTRIES, 273, 112)),
        ("tile/entries/x001/000", Tile(ENTRIES, 1000)),
        ("/tile/2/000.p/1", Tile(2, 0, 1)),
    ],
)
def test_a_tile_path_parses_and_formats_back(path: str, tile: Tile) -> None:
    assert parse_tile_path(path) == tile
    assert tile.path == path.removeprefix("/")


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("tile/00/000", "level"),
        ("tile/64/000", "level"),
        ("tile/-1/000", "level"),
        ("tile/data/000", "level"),
        ("tile/0/1", "index element"),
        ("tile/0/0001", "index element"),
        ("tile/0/x001", "index element"),
        ("tile/0/001/002", "index element"),
        ("tile/0/x000/005", "leading all-zero"),
        ("tile/0/000.p/0", "width"),
        ("tile/0/000.p/256", "width"),
        ("tile/0/000.p/05", "width"),
        ("tile/0/000.p", "index element"),
        ("tile/0/", "index element"),
        ("tiles/0/000", "tile path"),
        ("tile/0", "tile path"),
        ("tile/0/x" + "x999/" * 10 + "000", "index element"),
    ],
)
def test_a_path_the_spec_does_not_allow_is_refused_naming_the_part(path: str, names: str) -> None:
    with pytest.raises(TileError, match=names):
        parse_tile_path(path)


@settings(max_examples=300)
@given(
    level=st.one_of(st.just(ENTRIES), st.integers(0, 63)),
    index=st.integers(0, 2**56 - 1),
    width=st.integers(1, 256),
)
def test_every_tile_has_exactly_one_path(level: int, index: int, width: int) -> None:
    tile = Tile(level, index, width)
    assert parse_tile_path(tile.path) == tile


# --- which tiles a tree has --------------------------------------------------------------------


def test_the_spec_example_tree_of_70000_has_its_tiles() -> None:
    tiles = tiles_for_size(70_000)
    hashes = [t for t in tiles if not t.is_entries]
    level0 = [t for t in hashes if t.level == 0]
    assert len([t for t in level0 if not t.is_partial]) == 273
    assert [t.path for t in hashes if t.is_partial] == [
        "tile/0/273.p/112",
        "tile/1/001.p/17",
        "tile/2/000.p/1",
    ]
    assert [t.path for t in hashes if t.level == 1 and not t.is_partial] == ["tile/1/000"]
    assert len([t for t in tiles if t.is_entries]) == 274


def test_a_tree_of_256_is_one_full_tile_and_a_partial_level_1_tile() -> None:
    assert [t.path for t in tiles_for_size(256)] == [
        "tile/0/000",
        "tile/1/000.p/1",
        "tile/entries/000",
    ]
    assert tiles_for_size(0) == []


@given(size=st.integers(0, 2**20))
def test_each_level_holds_floor_size_over_256_to_the_l_hashes(size: int) -> None:
    tiles = tiles_for_size(size)
    for level in range(6):
        widths = sum(t.width for t in tiles if t.level == level)
        assert widths == size // 256**level
    assert all(t.needs_size <= size for t in tiles)


# --- entry bundles -----------------------------------------------------------------------------


@given(entries=st.lists(st.binary(max_size=300), max_size=256))
def test_an_entry_bundle_round_trips(entries: list[bytes]) -> None:
    assert parse_entry_bundle(format_entry_bundle(entries), len(entries)) == entries


@pytest.mark.parametrize(
    ("data", "width", "names"),
    [
        (b"\x00\x20" + b"a" * 31, 1, "runs past the end"),
        (b"\x00", 1, "truncated length"),
        (b"\x00\x01a\x00\x01b", 1, "bytes after"),
        (b"\x00\x01a", 2, "1 entries, expected 2"),
    ],
)
def test_a_malformed_entry_bundle_is_refused(data: bytes, width: int, names: str) -> None:
    with pytest.raises(TileError, match=names):
        parse_entry_bundle(data, width)


def test_a_hash_tile_must_be_32_bytes_a_hash() -> None:
    assert split_hash_tile(bytes(64), 2) == [bytes(32), bytes(32)]
    with pytest.raises(TileError, match="expected 64"):
        split_hash_tile(bytes(63), 2)


# --- tile bytes from a real persistent tree, against the spec's formula ------------------------


def _leaf_data(i: int) -> bytes:
    return hashlib.sha256(f"entry {i}".encode()).digest()


def _naive_tile(leaves: list[bytes], tile: Tile) -> bytes:
    span = 256**tile.level
    return b"".join(
        ref_mth(leaves[(tile.index * 256 + i) * span : (tile.index * 256 + i + 1) * span])
        for i in range(tile.width)
    )


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[PersistentTree, list[bytes]]:
    path = Path(tmp_path_factory.mktemp("tiles")) / "tree.sqlite3"
    store = SQLiteTreeStore(str(path))
    store.migrate()
    tree = PersistentTree(store)
    data = [_leaf_data(i) for i in range(66_000)]
    leaves = [merkle.leaf_hash(d) for d in data]
    tree.append(leaves)
    return tree, data


@pytest.mark.parametrize("size", [1, 255, 256, 257, 513, 65_535, 65_536, 66_000])
def test_every_tile_of_a_tree_equals_the_spec_formula(
    grown: tuple[PersistentTree, list[bytes]], size: int
) -> None:
    tree, data = grown
    leaves = [merkle.leaf_hash(d) for d in data[:size]]
    log = TiledLog(tree.store.read, lambda first, count: data[first - 1 : first - 1 + count])
    for tile in tiles_for_size(size):
        served = log.tile(tile, size)
        if tile.is_entries:
            assert served == format_entry_bundle(
                data[tile.first_leaf : tile.first_leaf + tile.width]
            )
        else:
            assert served == _naive_tile(leaves, tile), tile.path


def test_no_tile_beyond_the_tree_is_served(grown: tuple[PersistentTree, list[bytes]]) -> None:
    tree, data = grown
    log = TiledLog(tree.store.read, lambda first, count: data[first - 1 : first - 1 + count])
    assert log.tile(Tile(0, 1), 511) is None  # its last leaf (index 511) is not in the tree
    assert log.tile(Tile(0, 1, 255), 511) is not None
    assert log.tile(Tile(1, 0, 2), 511) is None  # only one complete level-0 tile
    assert log.tile(Tile(ENTRIES, 1, 256), 511) is None
    assert log.tile(Tile(2, 0, 1), 65_535) is None and log.tile(Tile(2, 0, 1), 65_536)


def test_full_tiles_are_kept_and_partial_ones_read_again(
    grown: tuple[PersistentTree, list[bytes]],
) -> None:
    tree, data = grown
    reads: list[int] = []

    def read(ids: object) -> dict[int, bytes]:
        reads.append(1)
        return tree.store.read(ids)  # type: ignore[arg-type]

    log = TiledLog(read, lambda first, count: data[first - 1 : first - 1 + count], cached=2)
    first = log.tile(Tile(0, 0), 1000)
    assert log.tile(Tile(0, 0), 1000) == first and len(reads) == 1
    log.tile(Tile(0, 3, 232), 1000)
    log.tile(Tile(0, 3, 232), 1000)
    assert len(reads) == 3  # a partial tile is read each time
    log.tile(Tile(0, 1), 1000)
    log.tile(Tile(0, 2), 1000)  # the cache holds two: tile 0 goes
    log.tile(Tile(0, 0), 1000)
    assert len(reads) == 6
