"""The anchoring worker: tree → signed checkpoint → anchor node → receipt back into the ledger.

Layer: anchors (application service on the ledger side). It reads the chain through the
``ChainStore`` port and never holds a ledger lock while talking to the node, so ledger writes
are never blocked; the only ledger write is the receipt event, one short command signed by the
platform key (DESIGN "Shape").

A round (:meth:`AnchoringWorker.anchor_once`):

1. catch the persistent tree up with the chain (``anchors.tree``);
2. ask the node for the latest receipt it holds for our origin and verify it (trust policy);
   a held size above ours, or a held root that our tree does not reproduce, is a local
   truncation or fork; a held size *below* the receipts the chain itself recorded
   (``AnchorLog``) is a node restored to an older state: each stops the round with
   :class:`~anchors.errors.RollbackDetected` (never papered over);
3. record a held receipt the ledger lacks (e.g. after a crash between POST and record);
4. skip when nothing but our own receipt events is new (else receipts would anchor receipts
   forever);
5. ask the ``gate`` (the ledger's rollback guard) whether the ledger may write, then sign the
   checkpoint of the whole tree, POST it with the RFC 9162 consistency proof from the held
   size (C2SP tlog-witness add-checkpoint) and the signed block header of the latest receipt
   the chain recorded (header ``Caseledger-Anchored-Block``: a node that lacks that block was
   rolled back and refuses, ``node-rolled-back``); a stale ``old`` (409 with the held size) is
   retried once from the size the node names;
6. verify the receipt and record it in the ledger (``ledger.domain.anchoring.AnchorLog``).

:meth:`AnchoringWorker.run` repeats rounds when ``every_entries`` new entries exist or
``every_seconds`` passed since the last anchor with something new, and backs off exponentially
(``backoff_initial`` doubling to ``backoff_max``) while the node is unreachable; defaults keep
the anchoring lag well under 10 s once the node answers. With nothing to anchor it still runs
steps 1-2 every ``check_seconds`` (:meth:`AnchoringWorker.check`), so a rolled-back log or node
is found while the ledger is idle. A :class:`~anchors.errors.RollbackDetected` calls
``on_alarm(code, detail)`` (``serve`` records it in the head state file: every process refuses
writes, ``/readyz`` answers 503) and is logged at ERROR; the next round whose checks pass calls
``on_clear()``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from eventsourcing.application import AggregateNotFoundError

from anchors import note
from anchors.checkpoints import CHECKPOINT_SECRET, checkpoint_signer, ledger_origin, sign_checkpoint
from anchors.errors import (
    AnchorError,
    NodeRefused,
    NodeUnavailable,
    RollbackDetected,
    TreeDiverged,
)
from anchors.node.client import NodeClient
from anchors.node.protocol import AddCheckpoint
from anchors.policy import TrustPolicy
from anchors.receipt import Receipt, VerifiedReceipt, verify_block, verify_receipt
from anchors.tree import PersistentTree, open_tree_store
from ledger.domain.anchoring import ANCHOR_TOPICS, AnchorLog
from ledger.errors import LedgerError

__all__ = [
    "CITY_ENV",
    "LEDGER_DIVERGED",
    "LEDGER_ROLLED_BACK",
    "NODE_ROLLED_BACK",
    "AnchoringWorker",
    "LedgerAnchors",
    "RoundResult",
    "WorkerSettings",
    "open_ledger_anchors",
]

log = logging.getLogger("caseledger.anchors")

LEDGER_ROLLED_BACK: Final = "ledger-rolled-back"
LEDGER_DIVERGED: Final = "ledger-diverged"
NODE_ROLLED_BACK: Final = "anchor-node-rolled-back"
CITY_ENV: Final = "CASELEDGER_CITY"
DEFAULT_CITY: Final = "guangzhou"


@dataclass(frozen=True)
class WorkerSettings:
    """When to anchor and how to retry (defaults keep lag < 10 s)."""

    every_entries: int = 1000
    every_seconds: float = 2.0
    poll_seconds: float = 0.1
    backoff_initial: float = 0.2
    backoff_max: float = 3.0
    check_seconds: float = 2.0

    def __post_init__(self) -> None:
        if (
            self.every_entries < 1
            or self.every_seconds <= 0
            or self.poll_seconds <= 0
            or self.check_seconds <= 0
        ):
            raise AnchorError("worker settings: intervals must be positive")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise AnchorError("worker settings: 0 < backoff_initial <= backoff_max")


@dataclass(frozen=True)
class RoundResult:
    """What one round did: the size now anchored, the log size, and the new receipt if any."""

    anchored_size: int
    log_size: int
    receipt: VerifiedReceipt | None
    action: str  # "anchored" | "recorded-held" | "up-to-date" | "only-receipts"
    lag_seconds: float = 0.0


class LedgerAnchors:
    """The ledger side of anchoring: chain, tree, origin, checkpoint key, receipt recording."""

    def __init__(
        self,
        app: Any,
        tree: PersistentTree,
        origin: str,
        checkpoint_key: note.Signer,
        platform: Any,
    ) -> None:
        self.app = app
        self.chain = app.chain
        self.tree = tree
        self.origin = origin
        self.checkpoint_key = checkpoint_key
        self.platform = platform

    @property
    def verifier_key(self) -> str:
        return self.checkpoint_key.verifier().to_key()

    def policy(self, client: NodeClient) -> TrustPolicy:
        """The trust policy: our keys plus the node's published validator keys."""
        keys = client.keys()
        return TrustPolicy(
            self.origin,
            self.checkpoint_key.verifier(),
            (self.platform.public_key,),
            keys.node,
            keys.validators,
            keys.threshold,
        )

    def anchor_log(self) -> AnchorLog | None:
        try:
            found: AnchorLog = self.app.repository.get(AnchorLog.create_id(self.origin))
        except AggregateNotFoundError:
            return None
        return found

    def recorded_size(self) -> int:
        found = self.anchor_log()
        return 0 if found is None else int(found.size)

    def record(
        self, receipt: Receipt, verified: VerifiedReceipt, policy: TrustPolicy | None = None
    ) -> None:
        """Record a verified receipt as an ``AnchorLog`` event signed by the platform key,
        preceded (same command) by ``AnchorLog.Configured`` when ``policy``, the configuration
        it was verified under, is not the one the chain recorded last (docs/ANCHORING.md §4)."""
        found = self.anchor_log()
        if found is None:
            found = AnchorLog(origin=self.origin, checkpoint_key=self.verifier_key)
        if verified.checkpoint.size <= found.size:
            return
        if policy is not None:
            found.configure(
                policy.checkpoint_key.to_key(),
                policy.node,
                [v.to_key() for v in policy.validators],
                policy.threshold,
            )
        found.anchored(
            verified.checkpoint.size,
            verified.checkpoint.root,
            receipt.checkpoint,
            receipt.block,
            receipt.tx_index,
            list(receipt.tx_proof),
        )
        self.app.save_signed(found, signer=self.platform)


def open_ledger_anchors(
    app: Any, storage: Any, keystore: Any, platform: Any, *, city: str | None = None
) -> LedgerAnchors:
    """Wire the ledger side: migrate the tree tables (idempotent), fix the origin, load keys.

    The origin is fixed the first time (``anchor_meta``) from ``city`` (or ``$CASELEDGER_CITY``)
    and the genesis entry hash. Raises ``AnchorError`` if the ledger has no genesis yet.
    """
    store = open_tree_store(storage)
    store.migrate()
    origin = store.get_meta("origin")
    if origin is None:
        genesis = app.chain.select_entries(1, 1)
        if not genesis:
            raise AnchorError("the ledger has no genesis entry yet (run caseledger migrate)")
        chosen = ledger_origin(
            city or os.environ.get(CITY_ENV) or DEFAULT_CITY, genesis[0].entry_hash
        )
        origin = store.set_meta_once("origin", chosen)
    signer = checkpoint_signer(origin, keystore.secret(CHECKPOINT_SECRET))
    return LedgerAnchors(app, PersistentTree(store), origin, signer, platform)


def only_receipts_after(chain: Any, anchored: int, size: int) -> bool:
    """Whether the log's entries after ``anchored`` up to ``size`` are only the anchoring's own
    receipt records (at most three: ``Opened``, ``Configured``, ``Anchored``): anchoring them
    would record another receipt, for ever. Such a log counts as anchored at ``size``."""
    if not 0 < size - anchored <= 3:
        return False
    return all(
        e.topic in ANCHOR_TOPICS for e in chain.select_entries(anchored + 1, size - anchored)
    )


class AnchoringWorker:
    """Runs anchoring rounds against one node; see the module docstring."""

    def __init__(
        self,
        anchors: LedgerAnchors,
        client: NodeClient,
        settings: WorkerSettings | None = None,
        policy: TrustPolicy | None = None,
        *,
        gate: Callable[[], None] | None = None,
        on_alarm: Callable[[str, str], None] | None = None,
        on_clear: Callable[[], None] | None = None,
    ) -> None:
        self.anchors = anchors
        self.client = client
        self.settings = settings or WorkerSettings()
        self._policy = policy
        self.gate = gate
        self.on_alarm = on_alarm
        self.on_clear = on_clear
        self.alarm: RollbackDetected | None = None
        self._maybe_alarmed = on_clear is not None  # an alarm a previous run left behind
        self._registered = False
        self.anchored_size = 0
        self.rounds = 0
        self.failures = 0
        self.last_error = ""
        self.lags: list[float] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def policy(self) -> TrustPolicy:
        if self._policy is None:
            self._policy = self.anchors.policy(self.client)
        return self._policy

    def _ensure_registered(self) -> None:
        if not self._registered:
            self.client.register(self.anchors.origin, self.anchors.verifier_key)
            self._registered = True

    def _compare(self) -> tuple[int, Receipt | None, VerifiedReceipt | None, AnchorLog | None]:
        """Steps 1-2: (log size, held receipt, verified, the chain's AnchorLog). Raises
        ``RollbackDetected``, ``NodeUnavailable``, ``NodeRefused``, ``AnchorError``."""
        a = self.anchors
        # 1. the tree catches up with the chain.
        try:
            size = a.tree.catch_up(a.chain)
        except TreeDiverged as exc:
            head = a.chain.chain_head()
            top, leaves = (0 if head is None else head.sequence), a.tree.size()
            if top < leaves:
                raise RollbackDetected(
                    LEDGER_ROLLED_BACK,
                    f"the log ends at sequence {top} but the anchoring tree built from it has "
                    f"{leaves} leaves: entries {top + 1}–{leaves} are missing",
                ) from exc
            raise RollbackDetected(
                LEDGER_DIVERGED, f"the anchoring tree no longer matches the log ({exc})"
            ) from exc
        self._ensure_registered()
        policy = self.policy()
        # 2. what the node holds for us, verified, against the log and the recorded receipts.
        held = self.client.latest(a.origin)
        held_size, held_verified = 0, None
        if held is not None:
            held_verified = verify_receipt(held, policy)
            held_size = held_verified.checkpoint.size
            if held_size > size:
                raise RollbackDetected(
                    LEDGER_ROLLED_BACK,
                    f"the node holds a cosigned checkpoint of size {held_size} but the local "
                    f"log has {size} entries: entries {size + 1}–{held_size} are missing "
                    "(the log was truncated or restored from an older copy, or this is a fork)",
                )
            if a.tree.root(held_size) != held_verified.checkpoint.root:
                raise RollbackDetected(
                    LEDGER_DIVERGED,
                    f"the local tree's root at the anchored size {held_size} differs from the "
                    "cosigned one: the log was rewritten (or this is a fork)",
                )
        recorded = a.anchor_log()
        if recorded is not None and not _sealed_by(recorded.block, policy):
            recorded = None  # a receipt of another node (anchoring moved): nothing to compare
        if recorded is not None and held_size < int(recorded.size):
            raise RollbackDetected(
                NODE_ROLLED_BACK,
                f"the node holds size {held_size} of {a.origin} but the chain recorded its "
                f"cosigned receipt for size {recorded.size} (block "
                f"{_block_height(recorded.block)}): the node was restored to an older state; "
                "anchoring stopped",
            )
        return size, held, held_verified, recorded

    def check(self) -> None:
        """Steps 1-2 only (nothing is written to the ledger or the node); see ``_compare``."""
        self._compare()

    def check_and_report(self) -> RollbackDetected | None:
        """Steps 1-2 now, reported through ``on_alarm`` / ``on_clear`` instead of raised; the
        finding or None. Raises ``NodeUnavailable``, ``NodeRefused``, ``AnchorError``."""
        try:
            self.check()
        except RollbackDetected as exc:
            self._alarmed(exc)
            return exc
        self._cleared()
        return None

    def anchor_once(self) -> RoundResult:
        """One round (steps 1-6). Raises ``RollbackDetected``, ``NodeUnavailable``,
        ``NodeRefused``, ``AnchorError``, and what the ``gate`` raises."""
        a = self.anchors
        size, held, held_verified, recorded = self._compare()
        policy = self.policy()
        held_size = 0 if held_verified is None else held_verified.checkpoint.size
        self._cleared()
        # 3. a held receipt the ledger has not recorded yet.
        if held is not None and held_verified is not None and a.recorded_size() < held_size:
            self._may_write()
            a.record(held, held_verified, policy)
            self.anchored_size = held_size
            return RoundResult(held_size, size, held_verified, "recorded-held")
        if size == held_size:
            self.anchored_size = held_size
            return RoundResult(held_size, size, None, "up-to-date")
        # 4. nothing new but our own receipts?
        if only_receipts_after(a.chain, held_size, size):
            self.anchored_size = size
            return RoundResult(held_size, size, None, "only-receipts")
        # 5. sign and submit, retrying once from the size the node names.
        self._may_write()
        root = a.tree.root(size)
        signed = sign_checkpoint(a.checkpoint_key, size, root)
        presented = recorded.block if recorded is not None and recorded.block else None
        for attempt in (1, 2):
            proof = a.tree.consistency_proof(held_size, size)
            try:
                receipt = self.client.add_checkpoint(
                    AddCheckpoint(held_size, tuple(proof), signed), presented_block=presented
                )
                break
            except NodeRefused as refused:
                if refused.code == "node-rolled-back":
                    raise RollbackDetected(NODE_ROLLED_BACK, refused.detail) from refused
                if (
                    attempt == 2
                    or refused.code != "old-size-mismatch"
                    or refused.size is None
                    or refused.size > size
                ):
                    raise
                held_size = refused.size
        # 6. verify and record.
        verified = verify_receipt(receipt, policy)
        if verified.checkpoint.size != size or verified.checkpoint.root != root:
            raise AnchorError("the node returned a receipt for another checkpoint")
        first = a.chain.select_entries(held_size + 1, 1)
        lag = time.time() - first[0].timestamp / 1e6 if first else 0.0
        a.record(receipt, verified, policy)
        self.anchored_size = size
        self.lags.append(lag)
        return RoundResult(size, size, verified, "anchored", lag)

    def _may_write(self) -> None:
        """Ask the ledger's gate (raises while the ledger is read-only)."""
        if self.gate is not None:
            self.gate()

    def _cleared(self) -> None:
        """The checks passed: clear an alarm this worker (or an earlier run) raised."""
        if self.alarm is not None or self._maybe_alarmed:
            if self.alarm is not None:
                log.warning("anchoring resumed: the node and the log agree again")
            self.alarm = None
            self._maybe_alarmed = False
            if self.on_clear is not None:
                self.on_clear()

    def _alarmed(self, exc: RollbackDetected) -> None:
        """Stop anchoring and raise the alarm (ERROR; sizes and hashes only, no personal data)."""
        self.alarm = exc
        self._maybe_alarmed = False
        log.error("ALARM anchoring stopped: %s", exc)
        if self.on_alarm is not None:
            self.on_alarm(exc.code, exc.detail)

    # -- continuous mode -------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Anchor until ``stop`` is set, with exponential backoff while the node is down."""
        stop = stop or self._stop
        s = self.settings
        backoff = 0.0
        last_anchor = 0.0
        last_check = float("-inf")
        while not stop.is_set():
            try:
                head = self.anchors.chain.chain_head()
                head_size = 0 if head is None else head.sequence
                new = head_size - self.anchored_size
                due = self.alarm is None and (
                    new >= s.every_entries
                    or (new > 0 and time.monotonic() - last_anchor >= s.every_seconds)
                )
                if due:
                    result = self.anchor_once()
                    self.rounds += 1
                    last_anchor = last_check = time.monotonic()
                    backoff = 0.0
                    if result.action == "anchored":
                        log.info(
                            "anchored size %d (lag %.2f s)",
                            result.anchored_size,
                            result.lag_seconds,
                        )
                elif time.monotonic() - last_check >= (
                    s.backoff_max if self.alarm is not None else s.check_seconds
                ):
                    last_check = time.monotonic()
                    self.check()
                    self._cleared()
            except RollbackDetected as exc:
                self.failures += 1
                self.last_error = str(exc)
                if self.alarm is None or self.alarm.detail != exc.detail:
                    self._alarmed(exc)
                last_check = time.monotonic()
                stop.wait(s.poll_seconds)
                continue
            except LedgerError as exc:  # the ledger is read-only: nothing is submitted
                self.failures += 1
                self.last_error = str(exc)
                log.warning("anchoring paused: %s", exc)
                stop.wait(s.backoff_max)
                continue
            except (NodeUnavailable, NodeRefused) as exc:
                self.failures += 1
                self.last_error = str(exc)
                backoff = min(max(backoff * 2, s.backoff_initial), s.backoff_max)
                log.warning("anchoring failed (%s); retrying in %.1f s", exc, backoff)
                stop.wait(backoff)
                continue
            except AnchorError as exc:
                self.failures += 1
                self.last_error = str(exc)
                log.error("anchoring stopped: %s", exc)
                backoff = s.backoff_max
                stop.wait(backoff)
                continue
            stop.wait(s.poll_seconds)

    def start(self) -> None:
        """Run in a daemon thread (``stop()`` ends it)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="anchoring", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _sealed_by(block: str, policy: TrustPolicy) -> bool:
    """Whether a recorded receipt's block was sealed by the node ``policy`` names (after a
    validator rotation the chain's last receipt may come from the node it left)."""
    try:
        verify_block(block, policy)
    except AnchorError:
        return False
    return True


def _block_height(block: str) -> str:
    """The height in a recorded signed block header, or ``?`` (for a message only)."""
    from anchors.receipt import parse_block_header

    try:
        return str(parse_block_header(note.parse_note(block).text).height)
    except Exception:
        return "?"
