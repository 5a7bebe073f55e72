"""Verification of the local log against cosigned checkpoints (anchors layer).

One responsibility: DESIGN invariant 3's last sentence — truncation and rewrite are caught
against anchors. The chain itself is verified by ``ledger.chain.verification.verify_chain``; this
module adds, numbered as the code does:

1. each candidate checkpoint from the node or a kept ``--checkpoint`` file is verified against
   the trust policy's configuration for its size (ledger key + k validator cosignatures); those
   from the node that fail are ignored and counted. The receipts the ledger recorded are not
   candidates that may be ignored: ``anchors.policy_check`` verifies each one (a recorded
   anchor that does not verify is a failure) and passes them in. Two verified checkpoints with
   different roots at one size fail (``conflicting-anchors``: the node cosigned a split view);
2. truncation: the log must have at least as many entries as the largest anchored size
   (``truncated``, naming the missing sequence range);
3. rewrite: the RFC 9162 root of the first ``size`` entries, recomputed from the stored entry
   hashes (the tree store is NOT trusted), must equal each anchored root; the first anchored
   size that differs fails (``rewritten``). The divergence lies after the last anchored size
   that still matches; when the operator's tree store still reproduces the cosigned root, its
   leaves are authenticated by inclusion proofs against that root and bisected (a chain
   rewrite changes every leaf from the first altered entry on) to name the exact first
   sequence;
4. the report says how much of the log is anchored and how old the oldest unanchored entry is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from anchors import merkle, note
from anchors.errors import AnchorError, ReceiptError
from anchors.policy import TrustPolicy
from anchors.receipt import VerifiedCheckpoint, verify_cosigned_checkpoint
from anchors.tree import PersistentTree
from ledger.chain.verification import Failure

__all__ = [
    "AnchorReport",
    "checkpoint_size",
    "collect_anchors",
    "failed_report",
    "verify_against_anchors",
    "verify_checkpoint_text",
]

PAGE: Final = 10_000


@dataclass(frozen=True)
class AnchorReport:
    """Outcome of the anchor checks (``failure`` names the first bad sequence)."""

    origin: str
    checkpoint_size: int
    checkpoint_root: bytes
    cosigners: tuple[str, ...]
    log_size: int
    anchors_checked: int
    anchors_ignored: int
    unanchored_entries: int
    lag_seconds: float
    failure: Failure | None = None
    policy_fingerprint: str = ""
    anchors_recorded: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def anchored_fraction(self) -> float:
        if self.log_size == 0:
            return 1.0
        return min(self.checkpoint_size, self.log_size) / self.log_size

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "checkpoint_size": self.checkpoint_size,
            "checkpoint_root": self.checkpoint_root.hex(),
            "cosigners": list(self.cosigners),
            "log_size": self.log_size,
            "anchored_fraction": round(self.anchored_fraction, 6),
            "anchors_checked": self.anchors_checked,
            "anchors_ignored": self.anchors_ignored,
            "anchors_recorded": self.anchors_recorded,
            "policy_fingerprint": self.policy_fingerprint,
            "unanchored_entries": self.unanchored_entries,
            "lag_seconds": round(self.lag_seconds, 3),
            "failure": None if self.failure is None else self.failure.as_dict(),
        }


def checkpoint_size(text: str) -> int | None:
    """The size a (not yet verified) cosigned checkpoint claims, or None if it has none."""
    body, sep, _ = text.partition("\n\n") if isinstance(text, str) else ("", "", "")
    if not sep:
        return None
    try:
        return note.parse_checkpoint(body + "\n").size
    except note.NoteError:
        return None


def verify_checkpoint_text(text: str, policy: TrustPolicy) -> VerifiedCheckpoint:
    """Verify a cosigned checkpoint under the policy's configuration for the size it claims
    (``TrustPolicy.for_size``). Raises ``ReceiptError``."""
    size = checkpoint_size(text)
    return verify_cosigned_checkpoint(text, policy if size is None else policy.for_size(size))


def collect_anchors(
    texts: Iterable[str], policy: TrustPolicy, *, verified: Iterable[VerifiedCheckpoint] = ()
) -> tuple[list[VerifiedCheckpoint], int]:
    """Step 1: the checkpoints that verify against the policy (by size), and how many did not.

    ``verified`` are checkpoints already verified elsewhere (the recorded ones); they join the
    result, deduplicated by (size, root)."""
    found: dict[tuple[int, bytes], VerifiedCheckpoint] = {}
    for cp in verified:
        found.setdefault((cp.size, cp.root), cp)
    ignored = 0
    for text in texts:
        try:
            cp = verify_checkpoint_text(text, policy)
        except ReceiptError:
            ignored += 1
            continue
        found.setdefault((cp.size, cp.root), cp)
    return sorted(found.values(), key=lambda c: c.size), ignored


def failed_report(chain: Any, origin: str, failure: Failure, fingerprint: str) -> AnchorReport:
    """A report for a failure found before any anchor could be checked (the trust policy)."""
    head = chain.chain_head()
    log_size = 0 if head is None else head.sequence
    return AnchorReport(
        origin=origin,
        checkpoint_size=0,
        checkpoint_root=b"",
        cosigners=(),
        log_size=log_size,
        anchors_checked=0,
        anchors_ignored=0,
        unanchored_entries=log_size,
        lag_seconds=0.0,
        failure=failure,
        policy_fingerprint=fingerprint,
    )


def _fold(frontier: list[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    acc = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        acc = merkle.node_hash(left, acc)
    return acc


def verify_against_anchors(
    chain: Any,
    anchors: Sequence[VerifiedCheckpoint],
    *,
    ignored: int = 0,
    tree: PersistentTree | None = None,
    now: float | None = None,
    policy_fingerprint: str = "",
    recorded: int = 0,
) -> AnchorReport:
    """Steps 1-4 against ``chain`` (a ``ChainStore``). Raises ``AnchorError`` if no anchor."""
    if not anchors:
        raise AnchorError("no checkpoint verifies against the trust policy")
    latest = anchors[-1]
    head = chain.chain_head()
    log_size = 0 if head is None else head.sequence

    def report(failure: Failure | None, lag: float = 0.0) -> AnchorReport:
        return AnchorReport(
            origin=latest.checkpoint.origin,
            checkpoint_size=latest.size,
            checkpoint_root=latest.root,
            cosigners=latest.cosigners,
            log_size=log_size,
            anchors_checked=len(anchors),
            anchors_ignored=ignored,
            unanchored_entries=max(0, log_size - latest.size),
            lag_seconds=lag,
            failure=failure,
            policy_fingerprint=policy_fingerprint,
            anchors_recorded=recorded,
        )

    # 1. one root per anchored size.
    by_size: dict[int, VerifiedCheckpoint] = {}
    for cp in anchors:
        other = by_size.setdefault(cp.size, cp)
        if other.root != cp.root:
            return report(
                Failure(
                    cp.size,
                    "",
                    "conflicting-anchors",
                    f"two cosigned checkpoints of size {cp.size} with different roots "
                    f"({other.root.hex()[:16]}…, {cp.root.hex()[:16]}…): the node cosigned a "
                    "split view",
                )
            )
    # 2. truncation.
    if log_size < latest.size:
        return report(
            Failure(
                log_size + 1,
                "",
                "truncated",
                f"the log ends at sequence {log_size} but checkpoint {latest.checkpoint.origin} "
                f"of size {latest.size} (cosigned by {', '.join(latest.cosigners)}) anchors "
                f"sequences {log_size + 1}..{latest.size}, which are missing",
            )
        )
    # 3. rewrite: stream the entries once, comparing the root at every anchored size.
    frontier: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    sizes = sorted(by_size)
    position, matched = 0, 0
    sequence = 1
    target = iter(sizes)
    next_size = next(target, None)
    while next_size is not None:
        entries = chain.select_entries(sequence, min(PAGE, next_size - position))
        if not entries:
            break
        for entry in entries:
            if entry.sequence != sequence:
                return report(
                    Failure(sequence, "", "missing-entry", f"found {entry.sequence} instead")
                )
            size, value = 1, merkle.leaf_hash(entry.entry_hash)
            while frontier and frontier[-1][0] == size:
                left_size, left = frontier.pop()
                size, value = left_size + size, merkle.node_hash(left, value)
            frontier.append((size, value))
            position, sequence = position + 1, sequence + 1
            if position == next_size:
                expected = by_size[next_size].root
                if _fold(frontier) != expected:
                    return report(_rewritten(chain, tree, matched, by_size[next_size]))
                matched = next_size
                next_size = next(target, None)
                if next_size is None:
                    break
    # 4. lag: the oldest entry not covered by the latest anchor.
    lag = 0.0
    if log_size > latest.size:
        first = chain.select_entries(latest.size + 1, 1)
        if first:
            lag = max(0.0, (now if now is not None else time.time()) - first[0].timestamp / 1e6)
    return report(None, lag)


def _rewritten(
    chain: Any, tree: PersistentTree | None, matched: int, anchor: VerifiedCheckpoint
) -> Failure:
    size = anchor.size
    first = _bisect(chain, tree, matched, anchor)
    exact = first is not None
    sequence = first if first is not None else matched + 1
    where = (
        f"the first rewritten entry is sequence {sequence} (bisected with the stored tree, "
        "authenticated against the cosigned root)"
        if exact
        else f"the divergence lies in sequences {matched + 1}..{size} (the last anchored size "
        f"that still matches is {matched})"
    )
    entries = chain.select_entries(sequence, 1)
    oid = str(entries[0].originator_id) if entries else ""
    return Failure(
        sequence,
        oid,
        "rewritten",
        f"the root of the first {size} entries is not the cosigned root "
        f"{anchor.root.hex()[:16]}… of checkpoint {anchor.checkpoint.origin} size {size}; {where}",
    )


def _bisect(
    chain: Any, tree: PersistentTree | None, matched: int, anchor: VerifiedCheckpoint
) -> int | None:
    """The first sequence whose stored (authenticated) leaf differs from the log, or None."""
    if tree is None:
        return None
    try:
        if tree.size() < anchor.size or tree.root(anchor.size) != anchor.root:
            return None

        def differs(index: int) -> bool | None:
            stored = tree.leaf(index)
            proof = tree.inclusion_proof(index, anchor.size)
            if stored is None or not merkle.verify_inclusion(
                stored, index, anchor.size, proof, anchor.root
            ):
                raise AnchorError("stored leaf not authenticated")
            entries = chain.select_entries(index + 1, 1)
            return not entries or merkle.leaf_hash(entries[0].entry_hash) != stored

        low, high = matched, anchor.size - 1  # the answer (a leaf index) lies in [low, high]
        if not differs(high):
            return None  # not a prefix-preserving rewrite: no single first sequence
        while low < high:
            mid = (low + high) // 2
            if differs(mid):
                high = mid
            else:
                low = mid + 1
        return low + 1
    except AnchorError:
        return None
