"""The persistent tree gives exactly the proofs of the naive anchors.merkle, on both backends.

anchors.merkle is itself checked against the RFC 9162 vectors; here the stored tree, appended
in random batches, must give the same roots, inclusion and consistency proofs for every size,
and must refuse to continue over a chain that changed under it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anchors import merkle
from anchors.errors import TreeConflict, TreeDiverged
from anchors.tree import PersistentTree, open_tree_store
from ledger.storage.urls import parse_storage_url
from tests.helpers import new_ledger, run_sql


@pytest.fixture
def tree(storage_url: str) -> Iterator[PersistentTree]:
    store = open_tree_store(parse_storage_url(storage_url))
    store.migrate()
    yield PersistentTree(store)
    store.close()


def _leaf(i: int) -> bytes:
    return merkle.leaf_hash(i.to_bytes(8, "big"))


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    picks=st.tuples(*[st.integers(0, 2**32)] * 4),
)
def test_stored_tree_proofs_equal_the_naive_ones(
    tree: PersistentTree, batches: list[int], picks: tuple[int, int, int, int]
) -> None:
    # Each example keeps growing the same stored tree; the reference is the full leaf list.
    # Sizes and indices are drawn independently of the tree and reduced modulo its size.
    leaves = [_leaf(i) for i in range(tree.size())]
    for count in batches:
        new = [_leaf(len(leaves) + i) for i in range(count)]
        assert tree.append(new) == len(leaves) + count
        leaves += new
    n = len(leaves)
    a, b, c, d = picks
    for size in {1, n, 1 + a % n}:
        assert tree.root(size) == merkle.root(leaves[:size])
    size = 1 + b % n
    index = c % size
    assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(leaves[:size], index)
    old = d % (size + 1)
    proof = tree.consistency_proof(old, size)
    assert proof == merkle.consistency_proof(leaves[:size], old)
    assert merkle.verify_consistency(
        old, size, merkle.root(leaves[:old]), merkle.root(leaves[:size]), proof
    )


def test_an_empty_tree_has_the_empty_root(tree: PersistentTree) -> None:
    assert tree.size() == 0
    assert tree.root(0) == merkle.EMPTY_ROOT


def test_append_refuses_a_stale_expected_size(tree: PersistentTree) -> None:
    tree.append([_leaf(0), _leaf(1)])
    with pytest.raises(TreeConflict):
        tree.append([_leaf(2)], expected_size=1)


def test_catch_up_follows_the_chain_and_is_idempotent(storage_url: str) -> None:
    ledger = new_ledger(storage_url)
    for _ in range(3):
        ledger.note(lines=4)
    store = open_tree_store(parse_storage_url(storage_url))
    store.migrate()
    tree = PersistentTree(store)
    head = ledger.app.chain.chain_head()
    assert head is not None
    assert tree.catch_up(ledger.app.chain, page=4) == head.sequence
    assert tree.catch_up(ledger.app.chain) == head.sequence  # nothing new: nothing appended
    leaves = [merkle.leaf_hash(e.entry_hash) for e in ledger.app.chain.select_entries(1, 1000)]
    assert tree.root(head.sequence) == merkle.root(leaves)
    ledger.note(lines=1)
    assert tree.catch_up(ledger.app.chain) == head.sequence + 2
    store.close()
    ledger.app.close()


def test_catch_up_refuses_a_chain_changed_under_the_tree(storage_url: str) -> None:
    ledger = new_ledger(storage_url)
    ledger.note(lines=2)
    store = open_tree_store(parse_storage_url(storage_url))
    store.migrate()
    tree = PersistentTree(store)
    size = tree.catch_up(ledger.app.chain)
    run_sql(
        storage_url, "UPDATE chain_entries SET entry_hash = ? WHERE sequence = ?", (bytes(32), size)
    )
    with pytest.raises(TreeDiverged, match="changed after it was added"):
        tree.catch_up(ledger.app.chain)
    store.close()
    ledger.app.close()
