"""The anchoring history a ledger recorded in its own chain, read with chain positions.

Layer: anchors (reads the ``ChainStore`` port and the event recorder; trusts nothing it reads).
One responsibility: turn the ``AnchorLog`` events of one origin (``ledger.domain.anchoring``:
``Opened``, ``Configured``, ``Anchored``) into values that carry the chain sequence of their
entry, so a verifier can say *which* recorded anchor or configuration is wrong
(docs/ANCHORING.md §8). Each event's stored state must hash to its chain entry's
``state_hash`` and carry the entry's topic; one that does not, or that does not decode, is
returned as a :class:`RecordedProblem` (the chain verification names the same sequence).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anchors.errors import ReceiptError
from anchors.receipt import MAX_TX_PROOF, Receipt, receipt_from_value
from ledger.domain.anchoring import (
    ANCHOR_CONFIGURED_TOPIC,
    ANCHOR_OPENED_TOPIC,
    ANCHORED_TOPIC,
    AnchorLog,
)
from ledger.encoding import EncodingError, decode

__all__ = [
    "RecordedAnchor",
    "RecordedAnchoring",
    "RecordedConfig",
    "RecordedProblem",
    "read_recorded",
]


@dataclass(frozen=True)
class RecordedConfig:
    """An anchor configuration as the chain recorded it at ``sequence``.

    From an ``Opened`` event only the checkpoint key is known (``complete`` is False): ledgers
    anchored before ``Configured`` existed record the rest with their next receipt.
    """

    sequence: int
    checkpoint_key: str
    node: str = ""
    validators: tuple[str, ...] = ()
    threshold: int = 0

    @property
    def complete(self) -> bool:
        return bool(self.node)


@dataclass(frozen=True)
class RecordedAnchor:
    """A receipt recorded at ``sequence`` (unverified: the verifier checks it)."""

    sequence: int
    size: int
    root: bytes
    receipt: Receipt


@dataclass(frozen=True)
class RecordedProblem:
    sequence: int
    detail: str


@dataclass(frozen=True)
class RecordedAnchoring:
    """Everything the chain recorded about anchoring one origin, in chain order."""

    origin: str
    originator_id: str
    configs: tuple[RecordedConfig, ...]
    anchors: tuple[RecordedAnchor, ...]
    problems: tuple[RecordedProblem, ...]

    def config_at(self, sequence: int) -> RecordedConfig | None:
        """The configuration in force at ``sequence`` (the last recorded before it)."""
        found = None
        for c in self.configs:
            if c.sequence > sequence:
                break
            found = c
        return found


def _strings(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _config(sequence: int, topic: str, state: dict[str, Any]) -> RecordedConfig | str:
    key = state.get("checkpoint_key")
    if not isinstance(key, str):
        return "no checkpoint key"
    if topic == ANCHOR_OPENED_TOPIC:
        return RecordedConfig(sequence, key)
    node, validators, threshold = state.get("node"), state.get("validators"), state.get("threshold")
    keys = _strings(validators)
    if not isinstance(node, str) or not node or keys is None or not isinstance(threshold, int):
        return "a configuration needs node, validators and threshold"
    return RecordedConfig(sequence, key, node, keys, threshold)


def _anchor(sequence: int, state: dict[str, Any]) -> RecordedAnchor | str:
    size, root = state.get("size"), state.get("root")
    if not isinstance(size, int) or not isinstance(root, bytes):
        return "size and root missing"
    proof = state.get("tx_proof")
    try:
        receipt = receipt_from_value(
            {
                "checkpoint": state.get("checkpoint"),
                "block": state.get("block"),
                "tx_index": state.get("tx_index"),
                "tx_proof": [],
            }
        )
    except ReceiptError as exc:
        return str(exc)
    if (
        not isinstance(proof, list)
        or len(proof) > MAX_TX_PROOF
        or not all(isinstance(p, bytes) for p in proof)
    ):
        return "tx_proof is not a list of hashes"
    receipt = Receipt(receipt.checkpoint, receipt.block, receipt.tx_index, tuple(proof))
    return RecordedAnchor(sequence, size, root, receipt)


def read_recorded(chain: Any, origin: str) -> RecordedAnchoring | None:
    """The ``AnchorLog`` of ``origin`` with chain sequences, or None if the chain has none.

    ``chain`` is the ledger's chained recorder (``ChainStore`` and eventsourcing's
    ``select_events``). Never raises for bad stored data: it becomes a ``RecordedProblem``.
    """
    originator = AnchorLog.create_id(origin)
    entries: Sequence[Any] = chain.select_entries_of(originator)
    if not entries:
        return None
    stored = {e.originator_version: e for e in chain.select_events(originator)}
    configs: list[RecordedConfig] = []
    anchors: list[RecordedAnchor] = []
    problems: list[RecordedProblem] = []
    for entry in entries:
        event = stored.get(entry.originator_version)
        if event is None:
            problems.append(RecordedProblem(entry.sequence, "its stored event is missing"))
            continue
        if hashlib.sha256(event.state).digest() != entry.state_hash or event.topic != entry.topic:
            problems.append(RecordedProblem(entry.sequence, "its stored event is not the entry's"))
            continue
        try:
            state = decode(event.state)
        except EncodingError as exc:
            problems.append(RecordedProblem(entry.sequence, str(exc)))
            continue
        if not isinstance(state, dict):
            problems.append(RecordedProblem(entry.sequence, "state is not a map"))
            continue
        found: RecordedConfig | RecordedAnchor | str
        if entry.topic in (ANCHOR_OPENED_TOPIC, ANCHOR_CONFIGURED_TOPIC):
            found = _config(entry.sequence, entry.topic, state)
        elif entry.topic == ANCHORED_TOPIC:
            found = _anchor(entry.sequence, state)
        else:
            found = f"unexpected topic {entry.topic!r} in the anchoring history"
        if isinstance(found, str):
            problems.append(RecordedProblem(entry.sequence, found))
        elif isinstance(found, RecordedConfig):
            configs.append(found)
        else:
            anchors.append(found)
    return RecordedAnchoring(
        origin, str(originator), tuple(configs), tuple(anchors), tuple(problems)
    )
