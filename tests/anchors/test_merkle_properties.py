"""Properties of anchors.merkle, cross-checked against a naive RFC 9162 reference.

The reference below is the RFC's recursive definitions written as literally as possible
(MTH, PATH, SUBPROOF); the module under test is iterative and range-based.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from anchors import merkle

# --- naive reference (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) ---------------------------------------


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = ref_split(n)
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_path_shape(m: int, n: int) -> list[bool]:
    """For each proof element, bottom-up: is the sibling on the left?"""
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path_shape(m, k), False]
    return [*ref_path_shape(m - k, n - k), True]


def ref_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if m in (0, len(leaves)):
        return []
    return ref_subproof(m, leaves, True)


# --- strategies ----------------------------------------------------------------------------------


def tree(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


sizes = st.integers(min_value=1, max_value=80)


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(min_value=0, max_value=80))
    return draw(st.integers(min_value=0, max_value=new)), new


def flip_bit(value: bytes, bit: int) -> bytes:
    i, b = divmod(bit % (len(value) * 8), 8)
    return value[:i] + bytes([value[i] ^ (1 << b)]) + value[i + 1 :]


# --- root ----------------------------------------------------------------------------------------


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=100))
def test_root_equals_the_naive_recursive_definition(leaves: list[bytes]) -> None:
    assert merkle.root(leaves) == ref_mth(leaves)


def test_root_of_nothing_is_the_hash_of_nothing() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


# --- inclusion -----------------------------------------------------------------------------------


@given(leaf_in_tree())
def test_inclusion_proof_equals_reference_and_verifies(case: tuple[int, int]) -> None:
    index, size = case
    leaves = tree(size)
    proof = merkle.inclusion_proof(leaves, index)
    assert proof == ref_path(index, leaves)
    assert merkle.verify_inclusion(leaves[index], index, size, proof, ref_mth(leaves))


def test_a_levelled_tree_gives_every_proof_and_root_the_naive_definition_gives() -> None:
    """One levelled tree answers many proofs (an official's history): each is the reference's,
    for every leaf of every size up to 130 (right edges of every shape), roots included."""
    for size in range(1, 131):
        leaves = tree(size)
        levelled = merkle.levelled_hash_range(leaves)
        assert levelled(0, size) == ref_mth(leaves)
        for index in range(size):
            assert merkle.inclusion_proof_from(levelled, index, size) == ref_path(index, leaves)


@given(st.integers(min_value=0, max_value=70), st.integers(min_value=0, max_value=70))
def test_a_levelled_tree_hashes_any_range_as_the_definition_does(a: int, b: int) -> None:
    """Ranges that are no subtree of the tree (unaligned starts) are hashed by the definition
    too, not read from a level where they do not sit."""
    leaves = tree(71)
    start, end = min(a, b), max(a, b)
    assert merkle.levelled_hash_range(leaves)(start, end) == ref_mth(leaves[start:end])


def test_a_levelled_tree_refuses_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="leaf hash 1"):
        merkle.levelled_hash_range([merkle.leaf_hash(b"a"), b"short"])


@given(leaf_in_tree(), st.integers(min_value=0), st.integers(min_value=0))
def test_any_flipped_bit_in_proof_or_root_or_leaf_is_rejected(
    case: tuple[int, int], element: int, bit: int
) -> None:
    index, size = case
    leaves = tree(size)
    proof, root = merkle.inclusion_proof(leaves, index), merkle.root(leaves)
    if proof:
        j = element % len(proof)
        bad = [*proof[:j], flip_bit(proof[j], bit), *proof[j + 1 :]]
        assert not merkle.verify_inclusion(leaves[index], index, size, bad, root)
    assert not merkle.verify_inclusion(leaves[index], index, size, proof, flip_bit(root, bit))
    assert not merkle.verify_inclusion(flip_bit(leaves[index], bit), index, size, proof, root)


@given(leaf_in_tree(), st.integers(min_value=-3, max_value=200))
def test_another_index_is_rejected(case: tuple[int, int], other: int) -> None:
    index, size = case
    assume(other != index)
    leaves = tree(size)
    proof = merkle.inclusion_proof(leaves, index)
    assert not merkle.verify_inclusion(leaves[index], other, size, proof, merkle.root(leaves))


@given(leaf_in_tree(), st.integers(min_value=-3, max_value=200))
def test_another_size_is_accepted_only_when_the_path_has_the_same_shape(
    case: tuple[int, int], other: int
) -> None:
    """A proof binds the tree size only through the shape of the path to the leaf.

    E.g. leaf 0's proof in a tree of 7 also "verifies" for size 6 against the size-7 root:
    the sibling hashes are opaque. The size is bound to the root by the signed checkpoint.
    """
    index, size = case
    assume(other != size)
    leaves = tree(size)
    proof, root = merkle.inclusion_proof(leaves, index), merkle.root(leaves)
    same_shape = 0 <= index < other and ref_path_shape(index, other) == ref_path_shape(index, size)
    assert merkle.verify_inclusion(leaves[index], index, other, proof, root) is same_shape


@given(leaf_in_tree(), st.integers(min_value=0, max_value=3))
def test_missing_or_extra_proof_elements_are_rejected(case: tuple[int, int], where: int) -> None:
    index, size = case
    leaves = tree(size)
    proof, root = merkle.inclusion_proof(leaves, index), merkle.root(leaves)
    extra = leaves[(index + 1) % size]
    assert not merkle.verify_inclusion(leaves[index], index, size, [*proof, extra], root)
    assert not merkle.verify_inclusion(leaves[index], index, size, [extra, *proof], root)
    if proof:
        shorter = proof[: where % len(proof)] + proof[where % len(proof) + 1 :]
        assert not merkle.verify_inclusion(leaves[index], index, size, shorter, root)


# --- consistency ---------------------------------------------------------------------------------


@given(two_sizes())
def test_consistency_proof_equals_reference_and_verifies(case: tuple[int, int]) -> None:
    old, new = case
    leaves = tree(new)
    proof = merkle.consistency_proof(leaves, old)
    assert proof == ref_proof(old, leaves)
    assert merkle.verify_consistency(old, new, ref_mth(leaves[:old]), ref_mth(leaves), proof)


@given(two_sizes(), st.integers(min_value=0), st.integers(min_value=0))
def test_any_flipped_bit_in_consistency_proof_or_roots_is_rejected(
    case: tuple[int, int], element: int, bit: int
) -> None:
    old, new = case
    leaves = tree(new)
    proof = merkle.consistency_proof(leaves, old)
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    if proof:
        j = element % len(proof)
        bad = [*proof[:j], flip_bit(proof[j], bit), *proof[j + 1 :]]
        assert not merkle.verify_consistency(old, new, old_root, new_root, bad)
    assert not merkle.verify_consistency(old, new, flip_bit(old_root, bit), new_root, proof)
    if old > 0:  # from size 0 the new root is unconstrained (C2SP tlog-witness)
        assert not merkle.verify_consistency(old, new, old_root, flip_bit(new_root, bit), proof)


@given(
    two_sizes(), st.integers(min_value=-3, max_value=100), st.integers(min_value=-3, max_value=100)
)
def test_other_sizes_are_rejected_when_the_proof_length_differs(
    case: tuple[int, int], other_old: int, other_new: int
) -> None:
    """A size change that needs a proof of another length can never verify.

    (As for inclusion, a size change that keeps the proof's shape is not detectable from the
    proof alone; sizes are bound to roots by the signed checkpoints.)
    """
    old, new = case
    assume((other_old, other_new) != (old, new))
    leaves = tree(new)
    proof = merkle.consistency_proof(leaves, old)
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    ok = merkle.verify_consistency(other_old, other_new, old_root, new_root, proof)
    impossible = not 0 <= other_old <= other_new
    if impossible or len(ref_proof(other_old, tree(other_new))) != len(proof):
        assert not ok


@given(two_sizes())
def test_appending_any_element_to_a_consistency_proof_is_rejected(case: tuple[int, int]) -> None:
    old, new = case
    leaves = tree(new)
    proof = merkle.consistency_proof(leaves, old)
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    assert not merkle.verify_consistency(old, new, old_root, new_root, [*proof, new_root])
    assert not merkle.verify_consistency(old, new, old_root, new_root, [old_root, *proof])


@given(two_sizes())
def test_a_different_history_is_not_consistent(case: tuple[int, int]) -> None:
    old, new = case
    assume(old > 0)
    leaves = tree(new)
    forked = [*leaves[: old - 1], merkle.leaf_hash(b"forged"), *leaves[old:]]
    proof = merkle.consistency_proof(forked, old)
    assert not merkle.verify_consistency(
        old, new, merkle.root(leaves[:old]), merkle.root(forked), proof
    )


# --- range-based generation (for a persistent store) --------------------------------------------


@settings(max_examples=50)
@given(st.integers(min_value=1, max_value=2**40), st.data())
def test_proofs_need_one_range_hash_per_element_in_huge_trees(
    size: int, data: st.DataObject
) -> None:
    calls: list[tuple[int, int]] = []

    def hash_range(start: int, end: int) -> bytes:
        assert 0 <= start < end <= size
        calls.append((start, end))
        return hashlib.sha256(f"{start},{end}".encode()).digest()

    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof_from(hash_range, index, size)
    assert len(calls) == len(proof) <= (size - 1).bit_length()
    # every sibling left of the path is a complete, aligned power-of-two subtree
    for start, end in calls:
        if end <= index:
            width = end - start
            assert width & (width - 1) == 0 and start % width == 0

    calls.clear()
    old = data.draw(st.integers(min_value=0, max_value=size))
    proof = merkle.consistency_proof_from(hash_range, old, size)
    assert len(calls) == len(proof) <= 2 * max(1, (size - 1).bit_length())


def test_a_size_change_that_keeps_the_path_shape_is_not_detectable_by_the_proof() -> None:
    """Documented limit: leaf 0 in a tree of 7 has the same path shape as in a tree of 6."""
    leaves = tree(7)
    root = merkle.root(leaves)
    assert merkle.verify_inclusion(leaves[0], 0, 6, merkle.inclusion_proof(leaves, 0), root)
    assert merkle.verify_consistency(1, 6, leaves[0], root, merkle.consistency_proof(leaves, 1))


@pytest.mark.parametrize("index", [-1, 4, 10])
def test_inclusion_proof_refuses_a_leaf_outside_the_tree(index: int) -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(tree(4), index)


@pytest.mark.parametrize("old_size", [-1, 5])
def test_consistency_proof_refuses_an_impossible_old_size(old_size: int) -> None:
    with pytest.raises(ValueError):
        merkle.consistency_proof(tree(4), old_size)


def test_root_refuses_a_leaf_hash_of_the_wrong_length() -> None:
    with pytest.raises(ValueError):
        merkle.root([b"short"])


# --- verifiers never raise -----------------------------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.binary(min_size=32, max_size=32),
    st.lists(st.one_of(st.none(), st.binary(max_size=40), st.integers()), max_size=5),
    st.lists(st.binary(min_size=32, max_size=32), max_size=70),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(junk, junk, junk, junk, junk)
def test_verify_inclusion_never_raises(
    a: object, b: object, c: object, d: object, e: object
) -> None:
    result = merkle.verify_inclusion(a, b, c, d, e)  # type: ignore[arg-type]
    assert result is False or result is True


@given(junk, junk, junk, junk, junk)
def test_verify_consistency_never_raises(
    a: object, b: object, c: object, d: object, e: object
) -> None:
    result = merkle.verify_consistency(a, b, c, d, e)  # type: ignore[arg-type]
    assert result is False or result is True


def test_malformed_arguments_are_rejected_not_raised() -> None:
    leaves = tree(5)
    root, proof = merkle.root(leaves), merkle.inclusion_proof(leaves, 2)
    good = (leaves[2], 2, 5, proof, root)
    assert merkle.verify_inclusion(*good)
    variants = [
        (leaves[2][:31], 2, 5, proof, root),
        (leaves[2], -1, 5, proof, root),
        (leaves[2], 2, -5, proof, root),
        (leaves[2], True, 5, proof, root),
        (leaves[2], 2.0, 5, proof, root),
        (leaves[2], 2, 5, None, root),
        (leaves[2], 2, 5, b"".join(proof), root),
        (leaves[2], 2, 5, [*proof[:-1], None], root),
        (leaves[2], 2, 5, proof, root.hex()),
        (bytearray(leaves[2]), 2, 5, proof, root),
        (leaves[2], 2, 2**64, proof, root),
    ]
    for args in variants:
        assert merkle.verify_inclusion(*args) is False, args  # type: ignore[arg-type]
    old_root = merkle.root(leaves[:3])
    cproof = merkle.consistency_proof(leaves, 3)
    assert merkle.verify_consistency(3, 5, old_root, root, cproof)
    for cargs in [
        (3, 5, old_root, root, None),
        (3, 5, old_root, root, (*cproof[:-1], b"")),
        (-3, 5, old_root, root, cproof),
        (3, None, old_root, root, cproof),
        (5, 3, root, old_root, cproof),
        (3, 5, old_root[:16], root, cproof),
        (3, 5, old_root, None, cproof),
    ]:
        assert merkle.verify_consistency(*cargs) is False, cargs  # type: ignore[arg-type]
