"""An attacker's toolkit against trust policies (as someone with the database, no honest keys).

The attacker makes their own checkpoint key and validators, signs and cosigns a checkpoint of
whatever the database now holds, and writes a policy naming those keys; with a stolen platform
key they can also re-sign a rewritten anchoring record. Everything here uses only public
formats (C2SP signed notes, RFC 9162 roots), never our verification code.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anchors import merkle, note
from anchors.checkpoints import checkpoint_signer, sign_checkpoint
from anchors.policy import TrustPolicy
from anchors.worker import LedgerAnchors
from ledger.chain.entries import command_message, sha256
from ledger.encoding import canonical, decode
from tests.helpers import event_id_column, run_sql


@dataclasses.dataclass(frozen=True)
class AttackerKeys:
    checkpoint: note.Signer
    validators: tuple[note.Signer, ...]


def attacker_keys(origin: str, node: str = "anchor.caseledger.example", n: int = 4) -> AttackerKeys:
    """A checkpoint key named after the honest origin, and n validators named like the node's."""
    import os

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


def rewrite_event(
    url: str, chain: Any, sequence: int, platform: Any, change: Callable[[dict[str, Any]], None]
) -> None:
    """Change the stored event at ``sequence`` (a platform-signed command's), re-sign its
    command with the stolen platform key and recompute every later entry hash."""
    target = chain.select_links(sequence, 1)[0]
    value = decode(target.event.state)
    change(value)
    new_state = canonical(value)
    run_sql(
        url,
        f"UPDATE stored_events SET state = ? WHERE {event_id_column(url)} = ?",
        (new_state, target.notification_id),
    )
    start = sequence - target.entry.command_index
    entries = list(chain.select_entries(start, 1_000_000))
    entries[sequence - start] = dataclasses.replace(
        entries[sequence - start], state_hash=sha256(new_state)
    )
    size = entries[0].command_size
    signature = platform.sign(command_message([e.digest for e in entries[:size]]))
    prev = chain.select_entries(start - 1, 1)[0].entry_hash
    for e in entries:
        changed = dataclasses.replace(
            e, prev_hash=prev, signature=signature if e.sequence < start + size else e.signature
        )
        new_hash = changed.compute_hash()
        run_sql(
            url,
            "UPDATE chain_entries SET prev_hash = ?, entry_hash = ?, state_hash = ?, "
            "signature = ? WHERE sequence = ?",
            (prev, new_hash, changed.state_hash, changed.signature, e.sequence),
        )
        prev = new_hash


class LegacyAnchors(LedgerAnchors):
    """The ledger side as it was before ``AnchorLog.Configured`` existed: receipts recorded
    with the checkpoint key only (ledgers anchored by earlier releases look like this)."""

    def record(self, receipt: Any, verified: Any, policy: Any = None) -> None:
        super().record(receipt, verified, None)
