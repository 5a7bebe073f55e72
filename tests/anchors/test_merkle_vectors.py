"""anchors.merkle against every published Merkle vector in tests/vectors/merkle.

Sources: transparency-dev/merkle (RFC 6962 reference tree, verification probes), C2SP/CCTV
merkle vectors (rgdd), and real Sigstore Rekor v2 inclusion proofs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from anchors import merkle, note

from .conftest import vector_files, vectors_dir

MERKLE = vectors_dir("merkle")
REFERENCE = "rfc6962_reference_tree_8_leaves.json"
TD = "transparency-dev_merkle"
CCTV = "c2sp_cctv_merkle_rgdd"
REKOR = "sigstore_rekor_v2"
REKOR_CASES = ("rekor2-dsse-happy-path", "rekor2-checkpoint-cosigned")


def load(rel: str) -> Any:
    return json.loads((MERKLE / rel).read_text())


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def td_files(group: str) -> list[str]:
    return sorted(p.relative_to(MERKLE).as_posix() for p in (MERKLE / TD / group).glob("*.json"))


TD_INCLUSION = td_files("inclusion")
TD_CONSISTENCY = td_files("consistency") + td_files("consistency_additional")

# Where our verdict differs from transparency-dev's ``wantErr``, and why. Nothing else may differ.
TD_DIVERGENCES = {
    # transparency-dev does not check hash lengths; its roots here are 12-byte placeholders
    # ("don't care 2"). A root that is not 32 bytes cannot be a SHA-256 tree head: we reject.
    f"{TD}/consistency_additional/sizes-are-equal-one-and-proof-is-empty.json": False,
}

REFERENCE_TREE = load(REFERENCE)
REFERENCE_LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in REFERENCE_TREE["leaf_inputs_hex"]]
CCTV_LEAVES = [b64(x["leaf_hash"]) for x in load(f"{CCTV}/merkle_tree.json")]


def test_every_merkle_vector_file_is_consumed() -> None:
    consumed = {REFERENCE, *TD_INCLUSION, *TD_CONSISTENCY}
    consumed |= {f"{CCTV}/{name}.json" for name in ("merkle_tree",)}
    consumed |= {
        f"{CCTV}/{kind}-{verdict}.json"
        for kind in ("inclusion", "consistency")
        for verdict in ("valid", "invalid")
    }
    consumed |= {f"{REKOR}/extracted_inclusion_proofs.json"}
    consumed |= {f"{REKOR}/{case}/{f}" for case in REKOR_CASES for f in ("bundle.sigstore.json",)}
    consumed |= {f"{REKOR}/{case}/trusted_root.json" for case in REKOR_CASES}
    assert vector_files("merkle") == consumed


# --- RFC 6962 reference tree (transparency-dev testonly/constants.go) ---------------------------


def test_hasher_known_answers() -> None:
    kats = REFERENCE_TREE["hasher_kats_hex"]
    assert merkle.root([]).hex() == kats["empty_tree_root"] == merkle.EMPTY_ROOT.hex()
    assert merkle.leaf_hash(b"").hex() == kats["leaf_hash_of_empty_leaf"]
    assert merkle.leaf_hash(b"L123456").hex() == kats["leaf_hash_of_ascii_L123456"]
    assert merkle.node_hash(b"N123", b"N456").hex() == kats["node_hash_children_ascii_N123_N456"]


@pytest.mark.parametrize("size", range(9))
def test_reference_tree_root_at_every_size(size: int) -> None:
    want = REFERENCE_TREE["root_hashes_by_tree_size_hex"][str(size)]
    assert merkle.root(REFERENCE_LEAVES[:size]).hex() == want


def test_reference_tree_every_complete_subtree_hash() -> None:
    for level, hashes in enumerate(REFERENCE_TREE["node_hashes_by_level_hex"]):
        width = 1 << level
        for i, want in enumerate(hashes):
            assert merkle.root(REFERENCE_LEAVES[i * width : (i + 1) * width]).hex() == want


@pytest.mark.parametrize("case", REFERENCE_TREE["inclusion_proofs_hex"]["cases"])
def test_reference_inclusion_proof_is_generated_and_verifies(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    leaves = REFERENCE_LEAVES[:size]
    proof = merkle.inclusion_proof(leaves, index)
    assert [p.hex() for p in proof] == case["proof"]
    assert merkle.verify_inclusion(leaves[index], index, size, proof, merkle.root(leaves))


@pytest.mark.parametrize("case", REFERENCE_TREE["consistency_proofs_hex"]["cases"])
def test_reference_consistency_proof_is_generated_and_verifies(case: dict[str, Any]) -> None:
    old, new = case["size1"], case["size2"]
    proof = merkle.consistency_proof(REFERENCE_LEAVES[:new], old)
    assert [p.hex() for p in proof] == case["proof"]
    old_root, new_root = merkle.root(REFERENCE_LEAVES[:old]), merkle.root(REFERENCE_LEAVES[:new])
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)


# --- transparency-dev/merkle verification probes ----------------------------------------------


@pytest.mark.parametrize("rel", TD_INCLUSION)
def test_transparency_dev_inclusion_probe(rel: str) -> None:
    probe = load(rel)
    proof = [b64(p) for p in probe["proof"] or []]
    index, size = probe["leafIdx"], probe["treeSize"]
    ok = merkle.verify_inclusion(b64(probe["leafHash"]), index, size, proof, b64(probe["root"]))
    assert ok is (not probe["wantErr"])
    if ok:  # the happy paths come from the reference tree: we generate the same proof
        assert merkle.inclusion_proof(REFERENCE_LEAVES[:size], index) == proof


@pytest.mark.parametrize("rel", TD_CONSISTENCY)
def test_transparency_dev_consistency_probe(rel: str) -> None:
    probe = load(rel)
    proof = [b64(p) for p in probe["proof"] or []]
    old, new = probe["size1"], probe["size2"]
    ok = merkle.verify_consistency(old, new, b64(probe["root1"]), b64(probe["root2"]), proof)
    assert ok is TD_DIVERGENCES.get(rel, not probe["wantErr"])
    if ok and new <= len(REFERENCE_LEAVES):
        assert merkle.consistency_proof(REFERENCE_LEAVES[:new], old) == proof


def test_equal_sizes_with_well_formed_equal_roots_are_consistent() -> None:
    """The divergent probe above, with a real 32-byte root instead of a placeholder."""
    r = merkle.root(REFERENCE_LEAVES[:1])
    assert merkle.verify_consistency(1, 1, r, r, [])
    assert not merkle.verify_consistency(1, 1, b"don't care 2", b"don't care 2", [])


def test_consistency_from_size_zero_follows_c2sp_not_transparency_dev() -> None:
    """C2SP tlog-witness: old size 0 is consistent with anything, given an EMPTY proof."""
    new_root = merkle.root(REFERENCE_LEAVES)
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, new_root, [])
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert merkle.consistency_proof(REFERENCE_LEAVES, 0) == []
    # ... but not with any proof, not from a non-empty old root, and 0 -> 0 needs equal roots.
    assert not merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, new_root, [new_root])
    assert not merkle.verify_consistency(0, 8, new_root, new_root, [])
    assert not merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, new_root, [])


# --- C2SP/CCTV (rgdd) ---------------------------------------------------------------------------


def test_cctv_tree_leaf_and_root_hashes() -> None:
    entries = load(f"{CCTV}/merkle_tree.json")
    for size, entry in enumerate(entries, start=1):
        assert merkle.leaf_hash(entry["leaf_data"].encode()) == b64(entry["leaf_hash"])
        assert merkle.root(CCTV_LEAVES[:size]) == b64(entry["root_hash"])


def _cctv_inclusion(case: dict[str, Any]) -> bool:
    path = [b64(p) for p in case["inclusion_path"]]
    return merkle.verify_inclusion(
        b64(case["leaf_hash"]), case["leaf_index"], case["tree_size"], path, b64(case["root_hash"])
    )


def _cctv_consistency(case: dict[str, Any]) -> bool:
    path = [b64(p) for p in case["consistency_path"]]
    return merkle.verify_consistency(
        case["old_size"], case["new_size"], b64(case["old_root"]), b64(case["new_root"]), path
    )


def _cctv_cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = load(f"{CCTV}/{name}")
    assert cases
    return cases


def test_cctv_valid_inclusion_proofs_verify_and_are_generated() -> None:
    for case in _cctv_cases("inclusion-valid.json"):
        assert _cctv_inclusion(case), case
        generated = merkle.inclusion_proof(CCTV_LEAVES[: case["tree_size"]], case["leaf_index"])
        assert generated == [b64(p) for p in case["inclusion_path"]]


def test_cctv_valid_consistency_proofs_verify_and_are_generated() -> None:
    for case in _cctv_cases("consistency-valid.json"):
        assert _cctv_consistency(case), case
        generated = merkle.consistency_proof(CCTV_LEAVES[: case["new_size"]], case["old_size"])
        assert generated == [b64(p) for p in case["consistency_path"]]


@pytest.mark.parametrize(
    ("vectors", "verifies"),
    [("inclusion-invalid.json", _cctv_inclusion), ("consistency-invalid.json", _cctv_consistency)],
)
def test_cctv_invalid_proofs_are_rejected(
    vectors: str, verifies: Callable[[dict[str, Any]], bool]
) -> None:
    for case in _cctv_cases(vectors):
        assert not verifies(case), case


# --- Sigstore Rekor v2 (real staging log) -------------------------------------------------------


EXTRACTED = load(f"{REKOR}/extracted_inclusion_proofs.json")["cases"]


@pytest.mark.parametrize("case", EXTRACTED, ids=lambda c: c["case"])
def test_rekor_v2_extracted_inclusion_proof(case: dict[str, Any]) -> None:
    leaf = bytes.fromhex(case["leaf_hash_hex"])
    index, size = case["leaf_index"], case["tree_size"]
    path = [b64(p) for p in case["inclusion_path_b64"]]
    root = b64(case["root_hash_b64"])
    assert merkle.verify_inclusion(leaf, index, size, path, root)
    # Neighbouring claims about the same proof are rejected.
    assert not merkle.verify_inclusion(leaf, index - 1, size, path, root)
    assert not merkle.verify_inclusion(leaf, index, size + 1, path, root)
    assert not merkle.verify_inclusion(leaf, index, size, path[:-1], root)
    assert not merkle.verify_inclusion(leaf, index, size, [*path, path[-1]], root)
    # The note carried with the proof commits to the same tree head.
    checkpoint = note.parse_checkpoint(note.parse_note(case["checkpoint_note"]).text)
    assert (checkpoint.size, checkpoint.root_hash) == (size, root)


def _log_verifier(trusted_root: dict[str, Any], origin: str) -> note.Verifier:
    """The Ed25519 log key for ``origin`` from a Sigstore trusted_root.json, as a note verifier."""
    for tlog in trusted_root["tlogs"]:
        if urlparse(tlog["baseUrl"]).hostname == origin:
            assert tlog["publicKey"]["keyDetails"] == "PKIX_ED25519"
            spki = b64(tlog["publicKey"]["rawBytes"])
            assert len(spki) == 44  # 12-byte Ed25519 SPKI prefix, then the raw key
            return _ed25519_verifier(origin, spki[12:], b64(tlog["logId"]["keyId"]))
    raise AssertionError(f"no log {origin} in trusted root")


def _ed25519_verifier(origin: str, public_key: bytes, log_id: bytes) -> note.Verifier:
    # Rekor v2 log ID = SHA-256(origin || 0x0A || 0x01 || key); the note key ID is its prefix.
    assert hashlib.sha256(origin.encode() + b"\n\x01" + public_key).digest() == log_id
    return note.Verifier(origin, log_id[:4], note.ALG_ED25519, public_key)


@pytest.mark.parametrize("case", REKOR_CASES)
def test_rekor_v2_bundle_inclusion_proof_and_signed_checkpoint(case: str) -> None:
    bundle = load(f"{REKOR}/{case}/bundle.sigstore.json")
    trusted_root = load(f"{REKOR}/{case}/trusted_root.json")
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    proof = entry["inclusionProof"]
    extracted = next(c for c in EXTRACTED if c["case"] == case)

    # 1. the leaf is the canonicalized entry body.
    leaf = merkle.leaf_hash(b64(entry["canonicalizedBody"]))
    assert leaf.hex() == extracted["leaf_hash_hex"]
    # 2. the inclusion proof reaches the root it states.
    index, size, root = int(proof["logIndex"]), int(proof["treeSize"]), b64(proof["rootHash"])
    path = [b64(h) for h in proof["hashes"]]
    assert merkle.verify_inclusion(leaf, index, size, path, root)
    # 3. the checkpoint is signed by the log key from the trusted root and states that head;
    #    the witness.example cosignature in rekor2-checkpoint-cosigned is unknown and ignored.
    envelope = proof["checkpoint"]["envelope"]
    checkpoint = note.parse_checkpoint(note.parse_note(envelope).text)
    verifier = _log_verifier(trusted_root, checkpoint.origin)
    assert note.verify_note(envelope, [verifier]) == [checkpoint.origin]
    assert (checkpoint.size, checkpoint.root_hash) == (size, root)


def test_vectors_directory_is_found_relative_to_the_repository() -> None:
    assert Path(vectors_dir()).name == "vectors"
    assert MERKLE.is_dir()
