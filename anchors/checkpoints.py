"""The ledger's checkpoints: origin, signing key, and signing a tree head (anchors layer).

One responsibility: produce the C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) of the
ledger's Merkle tree as a C2SP signed note (https://c2sp.org/signed-note), Ed25519.

Decisions (docs/ANCHORING.md §2):

* Origin: ``caseledger.<city>.example/<ledger id>``, where the ledger id is the first 8 bytes
  (16 hex digits) of the genesis entry hash, so it is stable for a ledger and differs between
  ledgers (districts, DESIGN "Scale"). It is fixed the first time the ledger anchors and kept in
  the ``anchor_meta`` table; the ``AnchorLog`` aggregate records it in the chain.
* Key: a dedicated Ed25519 key whose 32-byte seed is the keystore secret ``anchor_checkpoint``
  (sealed like every key). Its note key name is the origin (as sum.golang.org and Rekor do).
  It is separate from the platform key so that a platform-key rotation does not change the
  checkpoint key the anchor node and auditors pin; the chain binds the two: the platform key
  signs the ``AnchorLog.Opened`` event carrying this verifier key.
* After an operator accepted a restore that lost entries the node had anchored (or a node that
  lost our receipts), the ledger's history and the node's disagree for ever under the old
  origin; anchoring continues under :func:`restart_origin` ``<origin>/restore-<n>``, a new log
  at the node, while the old origin's checkpoints stay there as evidence of what was lost
  (the chain's ``BackupLog.RestoreAccepted`` names both origins).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from anchors import note
from anchors.errors import AnchorError

__all__ = [
    "CHECKPOINT_SECRET",
    "checkpoint_signer",
    "ledger_origin",
    "restart_origin",
    "sign_checkpoint",
]

CHECKPOINT_SECRET: Final = "anchor_checkpoint"
"""Name of the keystore secret that seeds the checkpoint key."""
_CITY: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def ledger_origin(city: str, genesis_hash: bytes) -> str:
    """``caseledger.<city>.example/<16 hex digits of the genesis entry hash>``.

    Raises ``AnchorError`` for a city that is not a DNS label or a hash that is not 32 bytes.
    """
    if not _CITY.fullmatch(city):
        raise AnchorError(f"city {city!r}: lower-case letters, digits and '-' (a DNS label)")
    if len(genesis_hash) != 32:
        raise AnchorError("genesis hash: 32 bytes")
    return f"caseledger.{city}.example/{genesis_hash[:8].hex()}"


def restart_origin(origin: str, restores: int) -> str:
    """The origin anchoring continues under after the ``restores``-th accepted restore:
    ``<first origin>/restore-<restores>``. Raises ``AnchorError`` for ``restores < 1``."""
    if restores < 1:
        raise AnchorError("restores: at least 1")
    return f"{origin.split('/restore-', 1)[0]}/restore-{restores}"


def checkpoint_signer(origin: str, seed: bytes) -> note.Signer:
    """The note signer named ``origin`` for an Ed25519 ``seed`` (key ID per signed-note)."""
    import nacl.signing

    public_key = bytes(nacl.signing.SigningKey(seed).verify_key)
    key_id = hashlib.sha256(
        origin.encode("utf-8") + b"\n" + bytes([note.ALG_ED25519]) + public_key
    ).digest()[:4]
    try:
        return note.Signer(origin, key_id, seed)
    except note.NoteError as exc:
        raise AnchorError(f"checkpoint key: {exc}") from exc


def sign_checkpoint(signer: note.Signer, size: int, root: bytes) -> str:
    """The signed checkpoint note ``origin / size / base64(root)`` by ``signer``."""
    try:
        body = note.Checkpoint(signer.name, size, root).format()
        return note.sign_note(body, [signer])
    except note.NoteError as exc:
        raise AnchorError(f"checkpoint: {exc}") from exc
