"""The consortium's validator keys, generated on the node's first start (anchors node layer).

One responsibility: create, store (0600 JSON under ``--data``) and load the N validators'
Ed25519 keys and the k-of-n rule. Each validator signs with one key: cosignature/v1 lines on
checkpoints (C2SP tlog-cosignature, type 0x04) and signed-note signatures on block headers
(type 0x01). Keys are C2SP/Go ``PRIVATE+KEY+…`` signer strings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from anchors import note
from anchors.errors import NodeStoreError

__all__ = ["KEYS_FILE", "Consortium", "create_consortium", "load_consortium"]

KEYS_FILE: Final = "keys.json"
KEYS_FORMAT: Final = "caseledger-anchor-node-keys/v1"
MAX_VALIDATORS: Final = 64


@dataclass(frozen=True)
class Consortium:
    """The node's name, its validators' signer keys and the threshold k."""

    node: str
    validators: tuple[note.Signer, ...] = field(repr=False)
    threshold: int

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.validators) <= MAX_VALIDATORS:
            raise NodeStoreError(
                f"k-of-n: need 1 <= k ({self.threshold}) <= n ({len(self.validators)}) <= "
                f"{MAX_VALIDATORS}"
            )

    def cosignature_verifiers(self) -> list[note.Verifier]:
        return [v.cosignature_verifier() for v in self.validators]

    def block_verifiers(self) -> list[note.Verifier]:
        return [v.verifier() for v in self.validators]

    def signers_for(self, height: int) -> list[note.Signer]:
        """The k validators that sign at ``height`` (round robin, so every k-subset serves)."""
        n = len(self.validators)
        return [self.validators[(height + i) % n] for i in range(self.threshold)]

    def fingerprint(self) -> str:
        """Key IDs of the validators, as stored in the node's store to pair keys and store."""
        return ",".join(f"{v.name}+{v.key_id.hex()}" for v in self.validators)


def create_consortium(directory: Path, node: str, validators: int, threshold: int) -> Consortium:
    """Generate ``validators`` keys and write them to ``directory/keys.json`` (0600)."""
    if not 1 <= threshold <= validators <= MAX_VALIDATORS:
        raise NodeStoreError(f"k-of-n: need 1 <= k <= n <= {MAX_VALIDATORS}")
    signers = []
    for i in range(1, validators + 1):
        try:
            skey, _ = note.generate_signer(f"validator-{i}.{node}")
        except note.NoteError as exc:
            raise NodeStoreError(f"node name {node!r}: {exc}") from exc
        signers.append(skey)
    path = directory / KEYS_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(
            {"format": KEYS_FORMAT, "node": node, "threshold": threshold, "validators": signers},
            fh,
            indent=1,
        )
    os.replace(tmp, path)
    return load_consortium(directory)


def load_consortium(directory: Path) -> Consortium:
    """Load ``directory/keys.json``. Raises ``NodeStoreError`` if missing or malformed."""
    path = directory / KEYS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != KEYS_FORMAT:
            raise ValueError(f"format is not {KEYS_FORMAT}")
        return Consortium(
            node=str(data["node"]),
            validators=tuple(note.Signer.from_key(k) for k in data["validators"]),
            threshold=int(data["threshold"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NodeStoreError(f"{path}: cannot load the validator keys ({exc})") from exc
