"""The ledger's own anchoring history: one ``AnchorLog`` aggregate per log origin.

Layer: domain (standard library and ``eventsourcing.domain`` only). DESIGN "Shape": each
receipt of the anchor node is recorded back into the ledger as an event, signed by the platform
key, so the chain carries its own anchoring history. ``Opened`` binds the origin to the
checkpoint verifier key (signed by the platform key); ``Configured`` records the anchor
configuration the receipts that follow were verified under — checkpoint key, anchor node,
validator keys and threshold k — each time it changes (docs/ANCHORING.md §4: ``verify --policy``
compares the auditor's trust policy with it); each ``Anchored`` event keeps the cosigned
checkpoint, the signed block header and the checkpoint-in-block proof verbatim
(docs/ANCHORING.md §3), which any auditor can verify against the trust policy.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.topics import keep_topics

ANCHOR_NAMESPACE = uuid5(NAMESPACE_URL, "https://caseledger.invalid/anchors")


class AnchorLog(Aggregate):
    """The anchoring history of one log origin."""

    @staticmethod
    def create_id(origin: str) -> UUID:
        return uuid5(ANCHOR_NAMESPACE, origin)

    @event("Opened")
    def __init__(self, origin: str, checkpoint_key: str) -> None:
        self.origin = origin
        self.checkpoint_key = checkpoint_key
        self.node = ""  # "" until a Configured event (ledgers anchored before it existed)
        self.validators: list[str] = []
        self.threshold = 0
        self.size = 0
        self.root = b""
        self.checkpoint = ""
        self.block = ""
        self.tx_index = 0
        self.tx_proof: list[bytes] = []

    @event("Configured")
    def _configured(
        self, checkpoint_key: str, node: str, validators: list[str], threshold: int
    ) -> None:
        self.checkpoint_key = checkpoint_key
        self.node = node
        self.validators = list(validators)
        self.threshold = threshold

    def configure(
        self, checkpoint_key: str, node: str, validators: list[str], threshold: int
    ) -> bool:
        """Record the anchor configuration if it differs from the recorded one.

        ``checkpoint_key`` and ``validators`` are C2SP verifier key strings, ``threshold`` is
        k. Returns whether an event was recorded; raises ``ValueError`` for an inconsistent
        configuration (no validators, k outside 1..n, duplicate validators).
        """
        keys = list(validators)
        if not checkpoint_key or not node or not keys or len(set(keys)) != len(keys):
            raise ValueError("configuration: a checkpoint key, a node and distinct validators")
        if isinstance(threshold, bool) or not 1 <= threshold <= len(keys):
            raise ValueError(f"configuration: threshold 1 to {len(keys)}")
        if (checkpoint_key, node, sorted(keys), threshold) == (
            self.checkpoint_key,
            self.node,
            sorted(self.validators),
            self.threshold,
        ):
            return False
        self._configured(checkpoint_key, node, keys, threshold)
        return True

    @event("Anchored")
    def _anchored(
        self,
        size: int,
        root: bytes,
        checkpoint: str,
        block: str,
        tx_index: int,
        tx_proof: list[bytes],
    ) -> None:
        self.size = size
        self.root = root
        self.checkpoint = checkpoint
        self.block = block
        self.tx_index = tx_index
        self.tx_proof = list(tx_proof)

    def anchored(
        self,
        size: int,
        root: bytes,
        checkpoint: str,
        block: str,
        tx_index: int,
        tx_proof: list[bytes],
    ) -> None:
        """Record a receipt (verified by the caller) for a larger size than the last one."""
        if size <= self.size:
            raise ValueError(f"size {size} is not above the recorded size {self.size}")
        self._anchored(size, root, checkpoint, block, tx_index, list(tx_proof))


ANCHOR_OPENED_TOPIC = "ledger.anchoring:AnchorLog.Opened"
ANCHOR_CONFIGURED_TOPIC = "ledger.anchoring:AnchorLog.Configured"
ANCHORED_TOPIC = "ledger.anchoring:AnchorLog.Anchored"
ANCHOR_TOPICS = (ANCHOR_OPENED_TOPIC, ANCHOR_CONFIGURED_TOPIC, ANCHORED_TOPIC)


keep_topics(globals(), "ledger.anchoring")
