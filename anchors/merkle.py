"""Merkle tree hashing, proofs and proof verification over SHA-256 (anchors layer).

One responsibility: the exact RFC 9162 §2.1 Merkle Tree Hash, its inclusion and consistency
proofs, and their verification. Works on bytes only; knows nothing about the ledger.

Spec followed: RFC 9162 §2.1 (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
empty tree = SHA-256(""); split at the largest power of two smaller than the size),
§2.1.3 inclusion proofs, §2.1.4 consistency proofs (verification algorithms §2.1.3.2 and
§2.1.4.2, followed step by step).

Policy decisions, where the RFC and existing libraries differ:

* Consistency from old size 0 follows C2SP tlog-witness (and the C2SP/CCTV vectors), not
  transparency-dev/merkle: every tree is consistent with the empty tree, so the proof is EMPTY and
  is accepted when ``old_root`` is the empty-tree hash SHA-256("") (``new_root`` only has to be a
  well-formed 32-byte hash). A NON-empty proof from size 0 is rejected.
  transparency-dev/merkle rejects every proof from size 0; we deliberately do not.
* Equal sizes: accepted only with an empty proof and equal roots (RFC 9162 §2.1.4.2 step 1).
* Every hash handed to a verifier must be ``bytes`` of exactly 32 bytes; sizes and indices
  must be ``int`` (not ``bool``) in 0 .. 2**64-1. Anything else makes the verifier return
  ``False``; the verifiers never raise.

Proof generation is written against a ``HashRange`` callable, ``hash_range(start, end)`` =
the Merkle Tree Hash of leaves [start, end), so a persistent store holding the hashes of
complete power-of-two subtrees can produce any proof with O(log n) calls. The list-based
functions are thin wrappers around ``inclusion_proof_from`` / ``consistency_proof_from``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "HashRange",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "levelled_hash_range",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size or leaf count accepted (RFC 9162 sizes are uint64)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Merkle Tree Hash of the empty tree: SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

HashRange = Callable[[int, int], bytes]
"""``hash_range(start, end)`` returns the Merkle Tree Hash of the leaves [start, end)."""


# --- hashing -----------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data). Raises ``TypeError`` for non-bytes."""
    return hashlib.sha256(_LEAF_PREFIX + _as_bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right).

    Raises ``TypeError`` for non-bytes.
    """
    return hashlib.sha256(_NODE_PREFIX + _as_bytes(left) + _as_bytes(right)).digest()


def _as_bytes(value: bytes) -> bytes:
    # bytes(5) would silently be five zero bytes: accept only real byte strings.
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"expected bytes, not {type(value).__name__}")
    return bytes(value)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash of a list of leaf hashes (``EMPTY_ROOT`` when empty).

    Raises ``ValueError`` if an element is not 32 bytes of ``bytes``.
    """
    _check_leaf_hashes(leaf_hashes)
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """Merkle Tree Hash of leaf_hashes[start:end], in O(end - start) with a stack.

    Complete power-of-two subtrees are merged as soon as two of equal size are on the stack;
    the remaining stack (sizes strictly decreasing) is then folded from the right, which is
    exactly the RFC 9162 split at the largest power of two.
    """
    if start == end:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []  # (subtree size, subtree hash)
    for i in range(start, end):
        size, value = 1, leaf_hashes[i]
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, value = left_size + size, node_hash(left, value)
        stack.append((size, value))
    acc = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        acc = node_hash(left, acc)
    return acc


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(leaf_hashes):
        if not _is_hash(h):
            raise ValueError(f"leaf hash {i} is not {HASH_SIZE} bytes")


# --- proof generation --------------------------------------------------------------------------


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof_from(hash_range: HashRange, index: int, size: int) -> list[bytes]:
    """Return the RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[0:size]), leaf side first.

    Calls ``hash_range`` once per proof element (O(log size) calls), each time for a range
    that is a sibling subtree. Raises ``ValueError`` unless 0 <= index < size <= MAX_TREE_SIZE.
    """
    if not (_is_size(index) and _is_size(size) and index < size):
        raise ValueError(f"no leaf {index!r} in a tree of size {size!r}")
    top_down: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            top_down.append(hash_range(mid, end))
            end = mid
        else:
            top_down.append(hash_range(start, mid))
            start = mid
    top_down.reverse()
    return top_down


def consistency_proof_from(hash_range: HashRange, old_size: int, new_size: int) -> list[bytes]:
    """Return the RFC 9162 §2.1.4.1 consistency proof PROOF(old_size, D[0:new_size]).

    The proof is empty when old_size is 0 (C2SP tlog-witness) or equal to new_size.
    Calls ``hash_range`` once per proof element (O(log new_size) calls).
    Raises ``ValueError`` unless 0 <= old_size <= new_size <= MAX_TREE_SIZE.
    """
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        raise ValueError(f"no consistency proof from size {old_size!r} to {new_size!r}")
    if old_size in (0, new_size):
        return []
    # SUBPROOF(m, D[start:end], b), unrolled from the root down; elements are collected
    # root side first and reversed at the end.
    top_down: list[bytes] = []
    start, end, complete = 0, new_size, True
    while True:
        m, n = old_size - start, end - start
        if m == n:
            if not complete:
                top_down.append(hash_range(start, end))
            break
        k = _split(n)
        if m <= k:
            top_down.append(hash_range(start + k, end))
            end = start + k
        else:
            top_down.append(hash_range(start, start + k))
            start, complete = start + k, False
    top_down.reverse()
    return top_down


def _list_hash_range(leaf_hashes: Sequence[bytes]) -> HashRange:
    def hash_range(start: int, end: int) -> bytes:
        return _range_root(leaf_hashes, start, end)

    return hash_range


def levelled_hash_range(leaf_hashes: Sequence[bytes]) -> HashRange:
    """A ``HashRange`` over ``leaf_hashes`` that keeps every level of the tree: one O(n) pass,
    then each range root (and so each proof) in O(log n).

    For many proofs in one tree (an official's history lists one per entry):
    :func:`inclusion_proof` recomputes its ranges from the leaves, O(n) a proof. Every complete
    subtree aligned to its size is read from its level; any other range (the tree's right edge)
    is split as RFC 9162 splits it, and its roots are kept. Raises ``ValueError`` on a leaf
    hash that is not 32 bytes.
    """
    _check_leaf_hashes(leaf_hashes)
    levels: list[Sequence[bytes]] = [leaf_hashes]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    edges: dict[tuple[int, int], bytes] = {}

    def hash_range(start: int, end: int) -> bytes:
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:  # a complete subtree: on its level
            level = n.bit_length() - 1
            return levels[level][start >> level]
        found = edges.get((start, end))
        if found is None:
            k = _split(n)
            found = edges[(start, end)] = node_hash(
                hash_range(start, start + k), hash_range(start + k, end)
            )
        return found

    return hash_range


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof for leaf ``index`` in the tree of all ``leaf_hashes``.

    Raises ``ValueError`` on a bad leaf hash or an index outside the tree.
    """
    _check_leaf_hashes(leaf_hashes)
    return inclusion_proof_from(_list_hash_range(leaf_hashes), index, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from the tree of the first ``old_size`` leaves to all of them.

    Raises ``ValueError`` on a bad leaf hash or unless 0 <= old_size <= len(leaf_hashes).
    """
    _check_leaf_hashes(leaf_hashes)
    return consistency_proof_from(_list_hash_range(leaf_hashes), old_size, len(leaf_hashes))


# --- verification ------------------------------------------------------------------------------


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TREE_SIZE


def _is_proof(value: object) -> bool:
    return isinstance(value, list | tuple) and all(_is_hash(p) for p in value)


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes | None:
    """RFC 9162 §2.1.3.2 steps 1-5 up to (not including) the final comparison.

    Returns the root the proof implies, or None when the proof's shape is wrong.
    """
    # 1. leaf_index must be inside the tree.
    if index >= size:
        return None
    # 2. fn = leaf_index, sn = tree_size - 1.   3. r = hash.
    fn, sn, r = index, size - 1, leaf
    # 4. fold in each proof element.
    for p in proof:
        if sn == 0:  # 4a. proof longer than the path
            return None
        if fn & 1 or fn == sn:  # 4b. p is a left sibling
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:  # 4b. p is a right sibling
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c.
    # 5. the path must have been used up exactly.
    return r if sn == 0 else None


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``proof`` proves leaf ``leaf_hash`` at ``index`` in the tree (``size``, ``root``).

    Never raises: malformed arguments of any type make it return False.
    """
    try:
        if not (_is_hash(leaf_hash) and _is_hash(root) and _is_proof(proof)):
            return False
        if not (_is_size(index) and _is_size(size)):
            return False
        computed = _root_from_inclusion_proof(leaf_hash, index, size, proof)
        return computed is not None and _equal(computed, root)
    except Exception:  # a hostile Sequence subclass must not make a verifier raise
        return False


def _roots_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes] | None:
    """RFC 9162 §2.1.4.2 steps 2-7 for 0 < old_size < new_size, up to the final comparison.

    Returns the (old, new) roots the proof implies, or None when its shape is wrong.
    """
    # 1. (non-equal sizes) an empty proof proves nothing.
    if not proof:
        return None
    # 2. if old_size is an exact power of two, the old root is the first path element.
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = old_size - 1, new_size - 1
    # 4. skip the levels where the old tree is a left child on the right border.
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    # 5. both running roots start at the first element.
    fr = sr = path[0]
    # 6. fold in the remaining elements.
    for c in path[1:]:
        if sn == 0:  # 6a. proof longer than needed
            return None
        if fn & 1 or fn == sn:  # 6b. c is a left sibling of both paths
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:  # 6b. c only extends the new tree to the right
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c.
    # 7. (shape part) the path must have been used up exactly.
    return (fr, sr) if sn == 0 else None


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True iff ``proof`` proves the tree (old_size, old_root) is a prefix of (new_size, new_root).

    From size 0: accepted only with an empty proof and ``old_root == EMPTY_ROOT`` (C2SP
    tlog-witness). Equal sizes: accepted only with an empty proof and equal roots.
    Never raises: malformed arguments of any type make it return False.
    """
    try:
        # Preconditions: well-formed values, and sizes that can be consistent at all.
        if not (_is_hash(old_root) and _is_hash(new_root) and _is_proof(proof)):
            return False
        if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
            return False
        if old_size == 0:  # C2SP tlog-witness: every tree extends the empty tree
            return (
                len(proof) == 0
                and _equal(old_root, EMPTY_ROOT)
                and (new_size > 0 or _equal(new_root, EMPTY_ROOT))
            )
        if old_size == new_size:
            return len(proof) == 0 and _equal(old_root, new_root)
        computed = _roots_from_consistency_proof(old_size, new_size, old_root, proof)
        if computed is None:
            return False
        old_computed, new_computed = computed
        return _equal(old_computed, old_root) and _equal(new_computed, new_root)
    except Exception:  # a hostile Sequence subclass must not make a verifier raise
        return False
