"""Anchor receipts: a cosigned checkpoint, the block that sealed it, and the proof between them.

Layer: anchors (pure; parses untrusted text into frozen values and verifies them offline).

Formats (docs/ANCHORING.md §3):

* Cosigned checkpoint: a C2SP tlog-checkpoint signed note, signed by the ledger's checkpoint
  key, plus ``cosignature/v1`` lines (C2SP tlog-cosignature) of at least ``threshold`` distinct
  validators of the trust policy.
* Block header: a C2SP signed note whose text is exactly these lines::

      <node name>/block
      height <decimal>
      prev <base64 SHA-256 of the previous header text>
      time <decimal milliseconds since the Unix epoch, UTC>
      txs <decimal number of transactions>
      root <base64 RFC 9162 root of the transactions>

  signed (Ed25519, type 0x01) by at least ``threshold`` validators. Block hash = SHA-256 of the
  header text (signatures excluded). Transaction = the cosigned checkpoint note's UTF-8 bytes;
  leaf = RFC 9162 leaf hash of those bytes.
* Receipt: ``{"checkpoint", "block", "tx_index", "tx_proof"}`` — the inclusion proof of the
  checkpoint transaction in the block's transaction tree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any, Final

from anchors import merkle, note
from anchors.codec import b64decode, b64encode
from anchors.errors import ReceiptError
from anchors.policy import TrustPolicy

__all__ = [
    "BlockHeader",
    "Receipt",
    "VerifiedCheckpoint",
    "VerifiedReceipt",
    "parse_block_header",
    "receipt_from_value",
    "verify_block",
    "verify_cosigned_checkpoint",
    "verify_receipt",
]

MAX_TX_PROOF: Final = 64
MAX_BLOCK_TXS: Final = 4096
_HEADER: Final = re.compile(
    r"(?P<chain>[^\s+]{1,200})/block\n"
    r"height (?P<height>0|[1-9][0-9]{0,18})\n"
    r"prev (?P<prev>[A-Za-z0-9+/]{43}=)\n"
    r"time (?P<time>0|[1-9][0-9]{0,18})\n"
    r"txs (?P<txs>0|[1-9][0-9]{0,9})\n"
    r"root (?P<root>[A-Za-z0-9+/]{43}=)\n"
)


@dataclass(frozen=True)
class BlockHeader:
    """A block header's fields; ``text`` is what validators sign and what is hashed."""

    node: str
    height: int
    prev_hash: bytes
    time_ms: int
    tx_count: int
    tx_root: bytes

    def __post_init__(self) -> None:
        if len(self.prev_hash) != 32 or len(self.tx_root) != 32:
            raise ReceiptError("block header: hashes are 32 bytes")
        if not 0 <= self.tx_count <= MAX_BLOCK_TXS:
            raise ReceiptError(f"block header: at most {MAX_BLOCK_TXS} transactions")
        if self.height < 0 or self.time_ms < 0:
            raise ReceiptError("block header: negative height or time")

    @property
    def text(self) -> str:
        return (
            f"{self.node}/block\nheight {self.height}\nprev {b64encode(self.prev_hash)}\n"
            f"time {self.time_ms}\ntxs {self.tx_count}\nroot {b64encode(self.tx_root)}\n"
        )

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.text.encode("utf-8")).digest()


def parse_block_header(text: str) -> BlockHeader:
    """Parse block header TEXT (no signatures). Raises ``ReceiptError``."""
    match = _HEADER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ReceiptError("block header: malformed")
    header = BlockHeader(
        node=match["chain"],
        height=int(match["height"]),
        prev_hash=b64decode(match["prev"], ReceiptError, "block prev"),
        time_ms=int(match["time"]),
        tx_count=int(match["txs"]),
        tx_root=b64decode(match["root"], ReceiptError, "block root"),
    )
    if header.text != text:
        raise ReceiptError("block header: not in canonical form")
    return header


def tx_leaf(checkpoint_note: str) -> bytes:
    """The RFC 9162 leaf hash of a checkpoint transaction."""
    return merkle.leaf_hash(checkpoint_note.encode("utf-8"))


@dataclass(frozen=True)
class Receipt:
    """What the node returns for an anchored checkpoint (unverified until checked)."""

    checkpoint: str
    block: str
    tx_index: int
    tx_proof: tuple[bytes, ...]

    def as_json_value(self) -> dict[str, Any]:
        return asdict(self) | {"tx_proof": [b64encode(p) for p in self.tx_proof]}


def receipt_from_value(value: Any) -> Receipt:
    """Build a receipt from its JSON value. Raises ``ReceiptError`` for anything malformed."""
    if not isinstance(value, dict) or set(value) != {"checkpoint", "block", "tx_index", "tx_proof"}:
        raise ReceiptError("receipt: expected checkpoint, block, tx_index, tx_proof")
    cp, block, index, proof = (value[k] for k in ("checkpoint", "block", "tx_index", "tx_proof"))
    if not isinstance(cp, str) or not isinstance(block, str):
        raise ReceiptError("receipt: checkpoint and block are signed-note text")
    if len(cp) > note.MAX_NOTE_BYTES or len(block) > note.MAX_NOTE_BYTES:
        raise ReceiptError("receipt: note too long")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_BLOCK_TXS:
        raise ReceiptError("receipt: tx_index out of range")
    if not isinstance(proof, list) or len(proof) > MAX_TX_PROOF:
        raise ReceiptError("receipt: tx_proof is a short list")
    return Receipt(cp, block, index, tuple(b64decode(p, ReceiptError, "tx proof") for p in proof))


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint signed by the ledger and cosigned by ``cosigners`` (>= threshold)."""

    text: str  # the full cosigned note
    checkpoint: note.Checkpoint
    cosigners: tuple[str, ...]
    cosigned_at: int  # latest cosignature timestamp (POSIX seconds)

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root_hash


@dataclass(frozen=True)
class VerifiedReceipt:
    checkpoint: VerifiedCheckpoint
    block: BlockHeader
    block_signers: tuple[str, ...]


def verify_cosigned_checkpoint(text: str, policy: TrustPolicy) -> VerifiedCheckpoint:
    """Verify a cosigned checkpoint against the policy, step by step.

    1. Every signature of a key the policy knows verifies (signed-note); unknown ones ignored.
    2. The ledger's checkpoint key is among them.  3. At least ``threshold`` distinct
    validators' cosignature/v1 lines are.  4. The text is a tlog-checkpoint for the policy's
    origin. Raises ``ReceiptError`` naming the failed step.
    """
    try:
        opened = note.open_note(text, [policy.checkpoint_key, *policy.validators])
    except note.NoteError as exc:
        raise ReceiptError(f"checkpoint: {exc}") from exc
    ledger_signed = any(
        s.alg == note.ALG_ED25519 and s.key_id == policy.checkpoint_key.key_id
        for s in opened.signatures
    )
    if not ledger_signed:
        raise ReceiptError("checkpoint: not signed by the ledger's checkpoint key")
    cosigs = [s for s in opened.signatures if s.alg == note.ALG_COSIGNATURE_V1]
    if len(cosigs) < policy.threshold:
        raise ReceiptError(
            f"checkpoint: {len(cosigs)} validator cosignature(s), the policy needs "
            f"{policy.threshold} of {len(policy.validators)}"
        )
    try:
        checkpoint = note.parse_checkpoint(opened.text)
    except note.NoteError as exc:
        raise ReceiptError(f"checkpoint: {exc}") from exc
    if checkpoint.origin != policy.origin:
        raise ReceiptError(f"checkpoint: origin {checkpoint.origin!r}, policy {policy.origin!r}")
    return VerifiedCheckpoint(
        text,
        checkpoint,
        tuple(s.name for s in cosigs),
        max(s.timestamp or 0 for s in cosigs),
    )


def verify_block(text: str, policy: TrustPolicy) -> tuple[BlockHeader, tuple[str, ...]]:
    """Verify a signed block header: >= threshold validator signatures, canonical header."""
    try:
        opened = note.open_note(text, policy.block_verifiers())
    except note.NoteError as exc:
        raise ReceiptError(f"block: {exc}") from exc
    if len(opened.signatures) < policy.threshold:
        raise ReceiptError(
            f"block: {len(opened.signatures)} validator signature(s), the policy needs "
            f"{policy.threshold}"
        )
    header = parse_block_header(opened.text)
    if header.node != policy.node:
        raise ReceiptError(f"block: sealed by {header.node!r}, policy names {policy.node!r}")
    return header, tuple(opened.names)


def verify_receipt(receipt: Receipt, policy: TrustPolicy) -> VerifiedReceipt:
    """Verify a receipt offline: the cosigned checkpoint, the block, and the tx proof."""
    checkpoint = verify_cosigned_checkpoint(receipt.checkpoint, policy)
    header, signers = verify_block(receipt.block, policy)
    if not merkle.verify_inclusion(
        tx_leaf(receipt.checkpoint),
        receipt.tx_index,
        header.tx_count,
        list(receipt.tx_proof),
        header.tx_root,
    ):
        raise ReceiptError(
            f"receipt: the checkpoint is not transaction {receipt.tx_index} of block "
            f"{header.height}"
        )
    return VerifiedReceipt(checkpoint, header, signers)
