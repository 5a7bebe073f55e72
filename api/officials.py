"""Managing officials from the edges (CLI and HTTP), and the auditor's per-official history.

Layer: api. An official's personal key is created in the server's keystore and registered
through the ordinary key path (``api.bootstrap.enrol_actor``, signed by the platform key;
rotated with ``rotate_actor_key``); the appointment itself is signed by the department's
administrator (``by``) or the platform key. The history adds, to the ledger's listing, an
RFC 9162 inclusion proof of each listed entry in the tree of the whole log at its head, so
an auditor holding a cosigned checkpoint of that size (``caseledger checkpoint``) can check
each action against it with ``anchors.merkle.verify_inclusion``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from anchors import merkle
from api.bootstrap import Runtime, enrol_actor, rotate_actor_key
from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.domain.officials import Official, actor_of
from ledger.domain.rules import InvalidOfficial
from ledger.domain.signer import Signer
from ledger.errors import KeystoreError
from ledger.services.official_history import OfficialHistory, official_history
from ledger.services.officials import OfficialService

__all__ = ["appoint", "history_with_proofs", "official_signer", "rotate_official_key"]

PAGE = 5000


def official_signer(runtime: Runtime, staff_code: str) -> Ed25519Signer:
    """The official's current personal key from the keystore; KeystoreError if none."""
    return runtime.keystore.current_signer(actor_of(staff_code))


def appoint(
    runtime: Runtime,
    staff_code: str,
    department: str,
    roles: Iterable[str],
    display_name: str,
    *,
    by: Signer,
) -> tuple[Official, bytes]:
    """Create and register the official's key (unless the keystore holds one), then record
    the appointment signed by ``by``; returns the official and their key id."""
    roles = list(roles)
    service = OfficialService(runtime.ledger)
    Official.appoint(staff_code, department, roles, display_name)  # refuses bad input first
    if service.authority.official(staff_code) is not None:
        raise InvalidOfficial("staff_code", f"{staff_code} is already appointed")
    try:
        key = official_signer(runtime, staff_code)
    except KeystoreError:
        key = enrol_actor(runtime, actor_of(staff_code), KeyRole.OFFICIAL, department)
    official = service.appoint(staff_code, department, roles, display_name, by=by)
    return official, key.key_id


def rotate_official_key(runtime: Runtime, staff_code: str, reason: str) -> bytes:
    """Replace the official's key (the old one revoked in the same command)."""
    OfficialService(runtime.ledger).get(staff_code)
    return rotate_actor_key(runtime, actor_of(staff_code), reason).key_id


def history_with_proofs(runtime: Runtime, staff_code: str) -> dict[str, Any]:
    """The official's history with, per listed entry, its inclusion proof at the head."""
    history: OfficialHistory = official_history(runtime.ledger, staff_code)
    leaves = _leaves(runtime)
    size = len(leaves)
    tree = merkle.levelled_hash_range(leaves)  # one pass; then O(log n) a proof
    found = history.as_dict()
    found["tree"] = {"size": size, "root": tree(0, size).hex() if leaves else ""}
    for action, listed in zip(history.actions, found["actions"], strict=True):
        listed["proofs"] = [
            [h.hex() for h in merkle.inclusion_proof_from(tree, sequence - 1, size)]
            for sequence in range(action.sequence, action.last_sequence + 1)
            if sequence <= size
        ]
    return found


def _leaves(runtime: Runtime) -> list[bytes]:
    chain = runtime.ledger.chain
    head = chain.chain_head()
    last = 0 if head is None else head.sequence
    leaves: list[bytes] = []
    while len(leaves) < last:
        entries = chain.select_entries(len(leaves) + 1, min(PAGE, last - len(leaves)))
        if not entries:
            break
        leaves.extend(merkle.leaf_hash(e.entry_hash) for e in entries)
    return leaves
