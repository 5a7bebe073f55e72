"""Offline proof bundles: one case's history with everything needed to verify it, no network.

Layer: anchors (export reads the ledger through its ports; verification is pure and needs only
the bundle bytes and a trust policy). Byte-exact format: docs/ANCHORING.md §6. In short, the
bundle is canonical JSON (sorted keys, compact, UTF-8; any other byte form is rejected)::

    {"aggregate": "<UUID>",
     "entries": [{"entry": b64(canonical chain entry map, FORMAT.md §2),
                  "proof": [b64(hash), ...],        # RFC 9162 inclusion proof at the checkpoint
                  "state": b64(stored event state)}, ...],   # ascending sequence
     "format": "caseledger-proof-bundle/v1",
     "policy": {trust policy, anchors.policy},
     "receipt": {"block", "checkpoint", "tx_index", "tx_proof"}}   # anchors.receipt

Entries: every entry of every command that wrote an event of the aggregate (the command
siblings are needed to check the one signature per command, FORMAT.md §3) and every entry of
every command that registered or revoked a key before the checkpoint (so each signature is
checked against the key valid at its sequence, from the pinned genesis platform key on).

Verification (:func:`verify_bundle`), numbered as in the code:

1. size limit, UTF-8, JSON, canonical form, exact fields;
2. the embedded policy equals the trusted one (when one is given);
3. the receipt: ledger signature, >= k validator cosignatures, block signed by >= k validators,
   checkpoint included in the block (anchors.receipt);
4. each entry: canonical map, re-encodes identically, ``state`` hashes to ``state_hash``,
   inclusion proof of ``leaf_hash(SHA-256(entry bytes))`` at ``sequence - 1`` against the
   checkpoint root; adjacent entries are linked by ``prev``;
5. commands complete and consistent; genesis self-signed by a pinned platform key; each
   command's signature verifies with a key registered before it and not revoked (key events
   replayed with ``ledger.chain.verification.KeyRegistry``, the chain verifier's own rules);
6. the aggregate's versions are 1..n without a gap.

Limit (stated in the report): a bundle proves that what it holds is in the anchored log and
unaltered; it cannot prove the absence of events it does not hold (a later version of the
case, or a key revocation left out) — the auditor checks completeness against the full log
with ``caseledger verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from anchors import merkle
from anchors.codec import b64decode, b64encode, canonical_json, load_json
from anchors.errors import AnchorError, BundleError, PolicyError, ReceiptError
from anchors.policy import TrustPolicy, policy_from_value
from anchors.receipt import Receipt, receipt_from_value, verify_receipt
from anchors.tree import PersistentTree

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_BYTES",
    "BundleReport",
    "export_bundle",
    "verify_bundle",
]

BUNDLE_FORMAT: Final = "caseledger-proof-bundle/v1"
MAX_BUNDLE_BYTES: Final = 16 * 1024 * 1024
MAX_BUNDLE_ENTRIES: Final = 100_000
MAX_STATE_BYTES: Final = 1024 * 1024
MAX_PROOF: Final = 64
_ENTRY_KEYS: Final = frozenset(
    {
        "command",
        "key_id",
        "originator_id",
        "originator_version",
        "prev",
        "sequence",
        "signature",
        "state_hash",
        "timestamp",
        "topic",
        "v",
    }
)
_PAGE: Final = 20_000


@dataclass(frozen=True)
class BundleReport:
    """What a verified bundle proves."""

    aggregate: str
    versions: int
    sequences: tuple[int, ...]
    commands: int
    keys: int
    checkpoint_origin: str
    checkpoint_size: int
    block_height: int
    cosigners: tuple[str, ...]
    policy_source: str  # "trusted" (given by the auditor) or "embedded"

    def summary(self) -> str:
        seqs = ", ".join(str(s) for s in self.sequences[:12]) + (
            ", …" if len(self.sequences) > 12 else ""
        )
        warn = (
            ""
            if self.policy_source == "trusted"
            else "\nnote: checked against the policy embedded in the bundle; pass --policy"
        )
        return (
            f"verified: aggregate {self.aggregate}, {self.versions} event(s) at sequences "
            f"{seqs}; {self.commands} signed command(s), {self.keys} key(s); anchored in "
            f"checkpoint {self.checkpoint_origin} size {self.checkpoint_size}, block "
            f"{self.block_height}, cosigned by {', '.join(self.cosigners)}{warn}"
        )


# --- export --------------------------------------------------------------------------------------


def _resolve(ledger: Any, target: str, size: int) -> UUID:
    """An aggregate id, or the id of the case with this serial (ids of cases derive from
    their serial numbers, so no scan is needed)."""
    try:
        return UUID(target)
    except ValueError:
        pass
    from ledger.domain.cases import Case
    from ledger.errors import LedgerError

    try:
        case_id = Case.id_for(target)
    except (LedgerError, ValueError):
        case_id = None
    if case_id is not None and ledger.chain.select_entries_of(case_id):
        return case_id
    raise BundleError(f"{target!r} is neither an aggregate id nor a known case serial")


def export_bundle(ledger: Any, tree: PersistentTree, policy: TrustPolicy, target: str) -> bytes:
    """The canonical bundle of aggregate (or case serial) ``target`` at the latest receipt.

    ``ledger`` is a ``LedgerApplication``; ``tree`` its persistent tree. Raises
    ``BundleError`` if nothing is anchored, the receipt does not verify, or the aggregate has
    entries the latest checkpoint does not cover yet (anchor first).
    """
    from eventsourcing.application import AggregateNotFoundError

    from ledger.domain.anchoring import AnchorLog
    from ledger.encoding import pack_normal_form

    try:
        log = ledger.repository.get(AnchorLog.create_id(policy.origin))
    except AggregateNotFoundError as exc:
        raise BundleError(
            f"no receipt of {policy.origin} recorded (run caseledger anchor)"
        ) from exc
    receipt = Receipt(log.checkpoint, log.block, log.tx_index, tuple(log.tx_proof))
    try:
        size = verify_receipt(receipt, policy).checkpoint.size
    except ReceiptError as exc:
        raise BundleError(f"the recorded receipt does not verify: {exc}") from exc
    aggregate = _resolve(ledger, target, size)
    starts: set[tuple[int, int]] = set()
    later = 0
    # Indexed reads: the aggregate's own entries, and the key events up to the checkpoint.
    keyed = [link.entry for link in ledger.chain.select_key_events(before=size + 1)]
    for e in [*ledger.chain.select_entries_of(aggregate), *keyed]:
        if e.sequence > size:
            later += e.originator_id == aggregate
            continue
        starts.add((e.sequence - e.command_index, e.command_size))
    if later:
        raise BundleError(
            f"{later} event(s) of {aggregate} are newer than the latest checkpoint (size {size}); "
            "run caseledger anchor first"
        )
    if not any(True for _ in starts):
        raise BundleError(f"aggregate {aggregate} has no anchored events")
    items = []
    seen: set[int] = set()
    for start, count in sorted(starts):
        for link in ledger.chain.select_links(start, count):
            entry = link.entry
            if entry.sequence in seen or entry.sequence > size or link.event is None:
                continue
            seen.add(entry.sequence)
            items.append(
                (
                    entry.sequence,
                    {
                        "entry": b64encode(pack_normal_form(entry.body())),
                        "proof": [
                            b64encode(p) for p in tree.inclusion_proof(entry.sequence - 1, size)
                        ],
                        "state": b64encode(link.event.state),
                    },
                )
            )
    items.sort(key=lambda item: item[0])
    bundle = {
        "aggregate": str(aggregate),
        "entries": [value for _, value in items],
        "format": BUNDLE_FORMAT,
        "policy": policy.as_json_value(),
        "receipt": receipt.as_json_value(),
    }
    data = canonical_json(bundle)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle would exceed {MAX_BUNDLE_BYTES} bytes")
    return data


# --- verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    entry: Any  # ledger.chain.entries.ChainEntry
    state: bytes


def _fields(value: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names:
        raise BundleError(f"{what}: expected exactly the fields {sorted(names)}")
    return value


def _int(value: Any, what: str, low: int = 0, high: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BundleError(f"{what}: an integer in {low}..{high}")
    return value


def _bytes(value: Any, size: int | None, what: str) -> bytes:
    if not isinstance(value, bytes) or (size is not None and len(value) != size):
        raise BundleError(f"{what}: {size} bytes" if size else f"{what}: bytes")
    return value


def _parse_entry(raw: bytes, index: int) -> Any:
    from ledger.chain.entries import FORMAT_VERSION, ChainEntry
    from ledger.encoding import EncodingError, decode_canonical, pack_normal_form

    what = f"entry {index}"
    try:
        value = decode_canonical(raw)
    except EncodingError as exc:
        raise BundleError(f"{what}: {exc}") from exc
    if not isinstance(value, dict) or set(value) != _ENTRY_KEYS:
        raise BundleError(f"{what}: not a chain entry map")
    if value["v"] != FORMAT_VERSION:
        raise BundleError(f"{what}: format version {value['v']!r}")
    command = value["command"]
    if not isinstance(command, list) or len(command) != 2:
        raise BundleError(f"{what}: command is [index, size]")
    oid = value["originator_id"]
    if not isinstance(oid, UUID | str):
        raise BundleError(f"{what}: originator id")
    topic = value["topic"]
    if not isinstance(topic, str):
        raise BundleError(f"{what}: topic")
    size = _int(command[1], f"{what} command size", 1, 1_000_000)
    entry = ChainEntry(
        sequence=_int(value["sequence"], f"{what} sequence", 1),
        prev_hash=_bytes(value["prev"], 32, f"{what} prev"),
        originator_id=oid,
        originator_version=_int(value["originator_version"], f"{what} version", 1),
        topic=topic,
        timestamp=_int(value["timestamp"], f"{what} timestamp"),
        state_hash=_bytes(value["state_hash"], 32, f"{what} state hash"),
        key_id=_bytes(value["key_id"], 8, f"{what} key id"),
        signature=_bytes(value["signature"], 64, f"{what} signature"),
        command_index=_int(command[0], f"{what} command index", 0, size - 1),
        command_size=size,
        entry_hash=hashlib.sha256(raw).digest(),
    )
    if pack_normal_form(entry.body()) != raw:
        raise BundleError(f"{what}: does not re-encode to the same bytes")
    return entry


def _parse_items(values: Any, size: int, root: bytes) -> list[_Item]:
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_BUNDLE_ENTRIES:
        raise BundleError(f"entries: a list of 1 to {MAX_BUNDLE_ENTRIES}")
    items: list[_Item] = []
    for i, value in enumerate(values):
        fields = _fields(value, {"entry", "proof", "state"}, f"entry {i}")
        raw = b64decode(fields["entry"], BundleError, f"entry {i}")
        state = b64decode(fields["state"], BundleError, f"entry {i} state")
        if len(state) > MAX_STATE_BYTES:
            raise BundleError(f"entry {i}: state larger than {MAX_STATE_BYTES} bytes")
        proof_values = fields["proof"]
        if not isinstance(proof_values, list) or len(proof_values) > MAX_PROOF:
            raise BundleError(f"entry {i}: proof is a list of at most {MAX_PROOF} hashes")
        proof = [b64decode(p, BundleError, f"entry {i} proof") for p in proof_values]
        # 4. the entry, its state and its inclusion at the checkpoint.
        entry = _parse_entry(raw, i)
        if items and entry.sequence <= items[-1].entry.sequence:
            raise BundleError(f"entry {i}: sequences must increase")
        if entry.sequence > size:
            raise BundleError(f"sequence {entry.sequence}: beyond the checkpoint size {size}")
        if hashlib.sha256(state).digest() != entry.state_hash:
            raise BundleError(f"sequence {entry.sequence}: state does not hash to state_hash")
        if not merkle.verify_inclusion(
            merkle.leaf_hash(entry.entry_hash), entry.sequence - 1, size, proof, root
        ):
            raise BundleError(
                f"sequence {entry.sequence}: inclusion proof fails against the checkpoint root"
            )
        previous = items[-1].entry if items else None
        if (
            previous is not None
            and previous.sequence == entry.sequence - 1
            and entry.prev_hash != previous.entry_hash
        ):
            raise BundleError(f"sequence {entry.sequence}: prev is not the previous entry")
        items.append(_Item(entry, state))
    return items


def _commands(items: Sequence[_Item]) -> list[list[_Item]]:
    groups: dict[int, list[_Item]] = {}
    for item in items:
        e = item.entry
        groups.setdefault(e.sequence - e.command_index, []).append(item)
    out = []
    for start in sorted(groups):
        group = groups[start]
        head = group[0].entry
        if len(group) != head.command_size or [g.entry.command_index for g in group] != list(
            range(head.command_size)
        ):
            raise BundleError(f"sequence {start}: the command's entries are not all present")
        if any(
            (g.entry.key_id, g.entry.signature, g.entry.command_size)
            != (head.key_id, head.signature, head.command_size)
            for g in group
        ):
            raise BundleError(f"sequence {start}: entries of one command disagree")
        out.append(group)
    return out


def _check_signatures(commands: list[list[_Item]], policy: TrustPolicy) -> int:
    """Step 5 with the chain verifier's key rules; returns the number of keys seen."""
    from eventsourcing.persistence import StoredEvent

    from ledger.chain.entries import signed_message
    from ledger.chain.recorders.base import LinkedEvent
    from ledger.chain.signing import verify_signature
    from ledger.chain.verification import ChainBroken, KeyRegistry, _Key
    from ledger.domain.keys import KEY_REGISTERED_TOPIC, KEY_TOPICS, KeyRole
    from ledger.encoding import EncodingError, decode

    registry = KeyRegistry(pinned=policy.platform_key_ids())
    if not commands or commands[0][0].entry.sequence != 1:
        raise BundleError("the genesis command (sequence 1) is missing")

    def link(item: _Item) -> LinkedEvent:
        e = item.entry
        return LinkedEvent(
            e, e.sequence, StoredEvent(e.originator_id, e.originator_version, e.topic, item.state)
        )

    try:
        for group in commands:
            head = group[0].entry
            genesis = head.sequence == 1
            if genesis:
                try:
                    state = decode(group[0].state)
                    public_key = bytes(state["public_key"])
                    key_id, role = state["key_id"], state["role"]
                except (EncodingError, KeyError, TypeError, ValueError) as exc:
                    raise BundleError(f"genesis: malformed key registration ({exc})") from exc
                if (
                    head.topic != KEY_REGISTERED_TOPIC
                    or key_id != head.key_id
                    or role != KeyRole.PLATFORM
                ):
                    raise BundleError("genesis: not a self-signed platform key registration")
                if public_key not in policy.platform_keys:
                    raise BundleError("genesis: the platform key is not pinned by the policy")
                key = _Key(public_key, KeyRole.PLATFORM.value, 1)
            else:
                key = registry.check(head.key_id, head.sequence, head)
            message = signed_message([g.entry for g in group])
            if not verify_signature(key.public_key, message, head.signature):
                raise BundleError(
                    f"sequence {head.sequence}: the command signature does not verify with key "
                    f"{head.key_id.hex()}"
                )
            for item in group:
                if item.entry.topic in KEY_TOPICS:
                    registry.apply(link(item), key, genesis)
    except ChainBroken as broken:
        raise BundleError(str(broken.failure)) from broken
    return len(registry.keys)


def verify_bundle(data: bytes, trusted: TrustPolicy | None = None) -> BundleReport:
    """Verify a bundle offline (steps 1-6 of the module docstring).

    ``trusted`` is the auditor's policy; without it the embedded policy is used and the report
    says so. Raises ``BundleError`` (only) when anything fails, naming the step.
    """
    try:
        return _verify(data, trusted)
    except BundleError:
        raise
    except (AnchorError, ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise BundleError(f"bundle rejected: {exc}") from exc


def _verify(data: bytes, trusted: TrustPolicy | None) -> BundleReport:
    # 1. canonical JSON with exactly the bundle's fields.
    value = load_json(
        data, limit=MAX_BUNDLE_BYTES, error=BundleError, what="bundle", canonical=True
    )
    top = _fields(value, {"aggregate", "entries", "format", "policy", "receipt"}, "bundle")
    if top["format"] != BUNDLE_FORMAT:
        raise BundleError(f"bundle: format is not {BUNDLE_FORMAT}")
    try:
        aggregate = UUID(top["aggregate"]) if isinstance(top["aggregate"], str) else None
    except ValueError:
        aggregate = None
    if aggregate is None or str(aggregate) != top["aggregate"]:
        raise BundleError("bundle: aggregate is a UUID in canonical form")
    # 2. the policy.
    try:
        embedded = policy_from_value(top["policy"])
    except PolicyError as exc:
        raise BundleError(f"bundle policy: {exc}") from exc
    if trusted is not None and embedded != trusted:
        raise BundleError("the bundle's policy is not the trusted policy")
    policy = trusted or embedded
    # 3. the receipt.
    try:
        verified = verify_receipt(receipt_from_value(top["receipt"]), policy)
    except ReceiptError as exc:
        raise BundleError(f"receipt: {exc}") from exc
    cp = verified.checkpoint
    # 4. entries.
    items = _parse_items(top["entries"], cp.size, cp.root)
    # 5. commands and signatures.
    commands = _commands(items)
    keys = _check_signatures(commands, policy)
    # 6. the aggregate's history.
    mine = [i.entry for i in items if i.entry.originator_id == aggregate]
    if not mine:
        raise BundleError(f"no event of aggregate {aggregate} in the bundle")
    versions = [e.originator_version for e in mine]
    if versions != list(range(1, len(mine) + 1)):
        raise BundleError(f"aggregate {aggregate}: versions {versions[:10]} are not 1..n")
    return BundleReport(
        aggregate=str(aggregate),
        versions=len(mine),
        sequences=tuple(e.sequence for e in mine),
        commands=len(commands),
        keys=keys,
        checkpoint_origin=cp.checkpoint.origin,
        checkpoint_size=cp.size,
        block_height=verified.block.height,
        cosigners=cp.cosigners,
        policy_source="embedded" if trusted is None else "trusted",
    )
