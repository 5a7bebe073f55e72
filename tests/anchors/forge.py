"""An attacker's toolkit against trust policies (as someone with the database, no honest keys).

The attacker makes their own checkpoint key and validators, signs and cosigns a checkpoint of
whatever the database now holds, and writes a policy naming those keys (with stolen keys,
``test_trust_policy.rewrite_chain`` re-signs a rewritten anchoring record through
``api.demo.attacks``). Everything here uses only public formats (C2SP signed notes, RFC 9162
roots), never our verification code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from anchors import merkle, note
from anchors.checkpoints import checkpoint_signer, sign_checkpoint
from anchors.policy import TrustPolicy
from anchors.worker import LedgerAnchors


@dataclasses.dataclass(frozen=True)
class AttackerKeys:
    checkpoint: note.Signer
    validators: tuple[note.Signer, ...]


def attacker_keys(origin: str, node: str = "anchor.caseledger.example", n: int = 4) -> AttackerKeys:
    """A checkpoint key named after the honest origin, and n validators named like the node's."""
    validators = tuple(
        note.Signer.from_key(note.generate_signer(f"validator-{i}.{node}")[0])
        for i in range(1, n + 1)
    )
    return AttackerKeys(checkpoint_signer(origin, os.urandom(32)), validators)


def forged_policy(
    honest: TrustPolicy,
    keys: AttackerKeys,
    *,
    threshold: int = 3,
    checkpoint_key: note.Verifier | None = None,
    origin: str | None = None,
) -> TrustPolicy:
    """The honest policy with the attacker's validators (and checkpoint key unless given)."""
    return dataclasses.replace(
        honest,
        origin=origin or honest.origin,
        checkpoint_key=checkpoint_key or keys.checkpoint.verifier(),
        validators=tuple(v.cosignature_verifier() for v in keys.validators),
        threshold=threshold,
    )


def forged_checkpoint(chain: Any, keys: AttackerKeys, k: int = 3) -> str:
    """A checkpoint of the whole log as the database holds it now, signed and k-cosigned."""
    head = chain.chain_head()
    leaves = [merkle.leaf_hash(e.entry_hash) for e in chain.select_entries(1, head.sequence)]
    text = sign_checkpoint(keys.checkpoint, len(leaves), merkle.root(leaves))
    for v in keys.validators[:k]:
        text = note.add_cosignature(text, v, 1_700_000_000)
    return text


def write_policy(path: Path, policy: TrustPolicy | dict[str, Any]) -> str:
    data = (
        policy.to_json()
        if isinstance(policy, TrustPolicy)
        else json.dumps(policy, indent=1).encode("utf-8")
    )
    path.write_bytes(data)
    return str(path)


class LegacyAnchors(LedgerAnchors):
    """The ledger side as it was before ``AnchorLog.Configured`` existed: receipts recorded
    with the checkpoint key only (ledgers anchored by earlier releases look like this)."""

    def record(self, receipt: Any, verified: Any, policy: Any = None) -> None:
        super().record(receipt, verified, None)
