"""Does the auditor's trust policy agree with the anchoring the chain itself recorded?

Layer: anchors (pure over the values ``anchors.recorded`` reads). One responsibility: the trust
roots of ``caseledger verify --policy`` cannot be swapped quietly (docs/ANCHORING.md §4, §8).
Numbered as the code does:

1. the policy's own history: every supersession statement verifies
   (``anchors.supersession``; ``policy-supersession``);
2. the policy is for this ledger: its origin ends with the ledger id the genesis entry gives
   (``policy-origin``), and the chain recorded anchoring for that origin (``not-anchored``);
3. the recorded history is readable (``anchor-record-malformed``, at the entry's sequence);
4. every anchor configuration the chain recorded (``AnchorLog.Opened``'s checkpoint key,
   ``AnchorLog.Configured``) is, in chain order, one of the policy's configurations — the first
   one the policy's oldest, later ones the same or newer (``policy-mismatch``, naming the
   recorded configuration's sequence and what differs); a policy whose k is below the recorded
   one for the same keys is refused (``threshold-lowered``), as is one below the k the node
   publishes when the node is consulted;
5. every recorded receipt verifies — cosigned checkpoint, block and inclusion proof — under the
   policy's configuration for its checkpoint size, which must be the configuration recorded
   in force at its sequence (``anchor-rejected``: never ignored).

Returns the recorded checkpoints verified in step 5; ``anchors.anchored_verify`` then checks
truncation and rewrite against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from anchors import note
from anchors.errors import PolicyError, ReceiptError
from anchors.policy import AnchorConfig, TrustPolicy
from anchors.receipt import VerifiedCheckpoint, verify_receipt
from anchors.recorded import RecordedAnchor, RecordedAnchoring, RecordedConfig
from anchors.supersession import SupersessionError, verify_supersessions
from ledger.chain.verification import Failure

__all__ = ["PolicyCheck", "check_policy", "superseded_size", "verify_as_recorded"]


@dataclass(frozen=True)
class PolicyCheck:
    """Outcome of :func:`check_policy`."""

    fingerprint: str
    configurations: int  # in the policy (superseded ones + the current one)
    recorded_configs: int
    recorded_anchors: tuple[VerifiedCheckpoint, ...]
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _keys_match(recorded: RecordedConfig, config: AnchorConfig) -> bool:
    if recorded.checkpoint_key != config.checkpoint_key.to_key():
        return False
    if not recorded.complete:
        return True
    return recorded.node == config.node and tuple(sorted(recorded.validators)) == (
        config.validator_keys()
    )


def _difference(recorded: RecordedConfig, config: AnchorConfig) -> str:
    parts = []
    if recorded.checkpoint_key != config.checkpoint_key.to_key():
        policy_key = config.checkpoint_key.to_key()
        parts.append(f"checkpoint key: chain {recorded.checkpoint_key}, policy {policy_key}")
    if recorded.complete:
        if recorded.node != config.node:
            parts.append(f"node: chain {recorded.node}, policy {config.node}")
        chain_keys, policy_keys = set(recorded.validators), set(config.validator_keys())
        if chain_keys != policy_keys:
            parts.append(
                f"validators only in the chain: {sorted(chain_keys - policy_keys)}; only in the "
                f"policy: {sorted(policy_keys - chain_keys)}"
            )
        if recorded.threshold != config.threshold:
            parts.append(f"threshold: chain {recorded.threshold}, policy {config.threshold}")
    return "; ".join(parts) or "no difference in keys"


def _match_configs(
    policy: TrustPolicy, recorded: RecordedAnchoring
) -> tuple[dict[int, int], Failure | None]:
    """Step 4: map each recorded configuration (by sequence) to a policy configuration index."""
    epochs = [c for c, _ in policy.epochs()]
    matched: dict[int, int] = {}
    low = 0
    fp = policy.fingerprint_text()
    for position, r in enumerate(recorded.configs):
        candidates = range(low, low + 1) if position == 0 else range(low, len(epochs))
        found, lowered = None, None
        for index in candidates:
            config = epochs[index]
            if not _keys_match(r, config):
                continue
            if not r.complete or config.threshold >= r.threshold:
                found = index
                break
            lowered = lowered or config
        if found is None:
            what = "Opened (checkpoint key)" if not r.complete else "Configured"
            if lowered is not None:
                return matched, Failure(
                    r.sequence,
                    recorded.originator_id,
                    "threshold-lowered",
                    f"the policy {fp} asks for {lowered.threshold} validator cosignature(s) but "
                    f"the chain recorded at sequence {r.sequence} that the anchor node requires "
                    f"{r.threshold}: a threshold below the node's own is refused",
                )
            expected = epochs[low] if position == 0 else epochs[-1]
            return matched, Failure(
                r.sequence,
                recorded.originator_id,
                "policy-mismatch",
                f"the chain recorded at sequence {r.sequence} ({what}) an anchor configuration "
                f"that the policy {fp} neither names nor supersedes with a signed statement "
                f"({_difference(r, expected)})",
            )
        matched[r.sequence] = found
        low = found
    return matched, None


def _check_anchors(
    policy: TrustPolicy, recorded: RecordedAnchoring, matched: dict[int, int]
) -> tuple[list[VerifiedCheckpoint], Failure | None]:
    """Step 5: every recorded receipt verifies under its configuration."""
    out: list[VerifiedCheckpoint] = []
    fp = policy.fingerprint_text()
    oid = recorded.originator_id
    for a in recorded.anchors:
        epoch = policy.epoch_of(a.size)
        in_force = recorded.config_at(a.sequence)
        if in_force is not None and in_force.complete and matched.get(in_force.sequence) != epoch:
            return out, Failure(
                a.sequence,
                oid,
                "anchor-rejected",
                f"the receipt recorded at sequence {a.sequence} (checkpoint size {a.size}) was "
                f"recorded under the configuration of sequence {in_force.sequence}, but the "
                f"policy {fp} places size {a.size} under another configuration",
            )
        try:
            verified = verify_receipt(a.receipt, policy.for_epoch(epoch))
        except ReceiptError as exc:
            return out, Failure(
                a.sequence,
                oid,
                "anchor-rejected",
                f"the receipt recorded at sequence {a.sequence} (checkpoint size {a.size}) does "
                f"not verify under the trust policy {fp}: {exc}",
            )
        if verified.checkpoint.size != a.size or verified.checkpoint.root != a.root:
            return out, Failure(
                a.sequence,
                oid,
                "anchor-rejected",
                f"the receipt recorded at sequence {a.sequence} is for size "
                f"{verified.checkpoint.size}, root {verified.checkpoint.root.hex()[:16]}…, but "
                f"the event says size {a.size}, root {a.root.hex()[:16]}…",
            )
        out.append(verified.checkpoint)
    return out, None


def check_policy(
    policy: TrustPolicy,
    recorded: RecordedAnchoring | None,
    *,
    genesis_hash: bytes,
    node_threshold: int | None = None,
    local_origins: Sequence[str] = (),
) -> PolicyCheck:
    """Steps 1-5 for ``policy`` against what the chain recorded for ``policy.origin``.

    ``genesis_hash`` is the entry hash of sequence 1; ``node_threshold`` the k the anchor node
    publishes (when consulted); ``local_origins`` origins the operator's tables name (only for
    a clearer message). Never raises for bad input: the failure says what is wrong.
    """
    fp = policy.fingerprint_text()

    def result(failure: Failure | None, anchors: Sequence[VerifiedCheckpoint] = ()) -> PolicyCheck:
        return PolicyCheck(
            fp,
            len(policy.supersedes) + 1,
            0 if recorded is None else len(recorded.configs),
            tuple(anchors),
            failure,
        )

    # 1. the policy's own history.
    try:
        verify_supersessions(policy)
    except SupersessionError as exc:
        return result(Failure(0, "", "policy-supersession", f"policy {fp}: {exc}"))
    # 2. this ledger's policy, and anchoring recorded for its origin.
    ledger_id = genesis_hash[:8].hex()
    if policy.origin.rsplit("/", 1)[-1] != ledger_id:
        return result(
            Failure(
                1,
                "",
                "policy-origin",
                f"the policy {fp} is for origin {policy.origin}, but this ledger's genesis entry "
                f"makes its ledger id {ledger_id}",
            )
        )
    if node_threshold is not None and policy.threshold < node_threshold:
        return result(
            Failure(
                0,
                "",
                "threshold-lowered",
                f"the policy {fp} asks for {policy.threshold} validator cosignature(s), the "
                f"anchor node requires {node_threshold}: a threshold below the node's own is "
                "refused",
            )
        )
    if recorded is None:
        others = [o for o in local_origins if o != policy.origin]
        return result(
            Failure(
                0,
                "",
                "not-anchored",
                f"the chain records no anchoring for origin {policy.origin}, which the policy "
                f"{fp} names" + (f" (the operator's tables name {others[0]})" if others else ""),
            )
        )
    # 3. readable history.
    if recorded.problems:
        first = recorded.problems[0]
        return result(
            Failure(
                first.sequence,
                recorded.originator_id,
                "anchor-record-malformed",
                f"the anchoring record at sequence {first.sequence}: {first.detail}",
            )
        )
    # 4. recorded configurations against the policy's.
    matched, failure = _match_configs(policy, recorded)
    if failure is not None:
        return result(failure)
    # 5. every recorded receipt, under its configuration.
    anchors, failure = _check_anchors(policy, recorded, matched)
    return result(failure, anchors)


def superseded_size(recorded: RecordedAnchoring, new: AnchorConfig) -> int | None:
    """Where the configuration before ``new`` ended, as the chain recorded it: the largest size
    anchored before the chain's latest switch to ``new`` (0 if nothing was). None when the
    chain does not record ``new`` as its latest configuration (anchor under it first)."""
    complete = [c for c in recorded.configs if c.complete]
    if not complete or not _same(complete[-1], new):
        return None
    start = len(complete) - 1
    while start > 0 and _same(complete[start - 1], new):
        start -= 1
    switch = complete[start].sequence
    return max((a.size for a in recorded.anchors if a.sequence < switch), default=0)


def _same(recorded: RecordedConfig, config: AnchorConfig) -> bool:
    return _keys_match(recorded, config) and recorded.threshold == config.threshold


def verify_as_recorded(
    recorded: RecordedAnchoring, platform_keys: tuple[bytes, ...]
) -> tuple[tuple[VerifiedCheckpoint, ...], int, Failure | None]:
    """Every recorded receipt under the configuration the chain recorded in force at its
    sequence: no pinned policy, only the keys the chain itself holds (for plain ``verify``).

    Returns (verified checkpoints, receipts that could not be checked because no complete
    configuration precedes them — ledgers anchored before ``Configured`` existed —, the first
    failure). A receipt that does not verify is ``anchor-rejected`` at its sequence.
    """
    out: list[VerifiedCheckpoint] = []
    unchecked = 0
    for a in recorded.anchors:
        in_force = next(
            (c for c in reversed(recorded.configs) if c.sequence < a.sequence and c.complete),
            None,
        )
        if in_force is None:
            unchecked += 1
            continue
        found = _verify_under(recorded, a, in_force, platform_keys)
        if isinstance(found, Failure):
            return tuple(out), unchecked, found
        out.append(found)
    return tuple(out), unchecked, None


def _verify_under(
    recorded: RecordedAnchoring,
    anchor: RecordedAnchor,
    config: RecordedConfig,
    platform_keys: tuple[bytes, ...],
) -> VerifiedCheckpoint | Failure:
    oid, where = recorded.originator_id, f"the configuration recorded at sequence {config.sequence}"
    try:
        policy = TrustPolicy(
            recorded.origin,
            note.Verifier.from_key(config.checkpoint_key),
            platform_keys,
            config.node,
            tuple(note.Verifier.from_key(v) for v in config.validators),
            config.threshold,
        )
    except (PolicyError, note.NoteError) as exc:
        return Failure(config.sequence, oid, "anchor-record-malformed", f"{where}: {exc}")
    try:
        verified = verify_receipt(anchor.receipt, policy).checkpoint
    except ReceiptError as exc:
        return Failure(
            anchor.sequence,
            oid,
            "anchor-rejected",
            f"the receipt recorded at sequence {anchor.sequence} (checkpoint size "
            f"{anchor.size}) does not verify under {where}: {exc}",
        )
    if verified.size != anchor.size or verified.root != anchor.root:
        return Failure(
            anchor.sequence, oid, "anchor-rejected", "a receipt for another size or root"
        )
    return verified
