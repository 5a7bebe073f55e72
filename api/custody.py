"""Backups, restores and the operator's decision after a rollback (DESIGN invariant 3, NH·22).

Layer: api (composition of ``ledger.storage.backup``, ``ledger.services.custody``,
``ledger.services.guard``, the anchor node and the read models). Used by ``caseledger backup``,
``caseledger restore`` and ``caseledger rollback status|accept`` (``api/cli/custody.py``);
the procedure is docs/OPERATIONS.md.

- :func:`assess` says what a (restored) ledger lacks: the entries after its head that this
  installation saw (head state file) and that the anchor node holds a cosigned checkpoint of.
- :func:`take` backs the ledger up and records the backup in the chain (``BackupLog.Taken``).
- :func:`accept` is the operator's explicit decision: it records ``BackupLog.RestoreAccepted``
  (restored head, lost range, newest lost head hash, the node's size, origins, serial floors,
  reason), resets the anchoring tree if it reaches past the log, moves anchoring to a new
  origin when the node anchored entries that are gone (or lost our receipts), resets the read
  models that read lost history, and resets the head state file: the ledger is writable again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from api.bootstrap import Runtime
from ledger.errors import LedgerError
from ledger.services.custody import backup_log, record_backup, record_restore
from ledger.services.guard import HEAD_DIVERGED, LOCAL_SOURCE, Fault, RollbackGuard
from ledger.storage.backup import BackupInfo, take_backup
from ledger.storage.head_state import HeadStateError, KnownHead
from ledger.storage.urls import StorageURL

__all__ = ["AcceptRefused", "Accepted", "Assessment", "NodeView", "accept", "assess", "take"]

NODE_ROLLED_BACK = "anchor-node-rolled-back"


class AcceptRefused(LedgerError):
    """``rollback accept`` cannot describe the loss exactly (the message says why)."""


@dataclass(frozen=True)
class NodeView:
    """What the anchor node holds for the ledger's origin."""

    origin: str
    size: int
    block: int
    verified: bool
    note: str = ""


@dataclass(frozen=True)
class Assessment:
    """The log's head, the newest head known, the node's checkpoint, and the faults."""

    head_sequence: int
    head_hash: bytes | None
    known: KnownHead | None
    node: NodeView | None
    node_error: str
    faults: tuple[Fault, ...]

    @property
    def writable(self) -> bool:
        return not self.faults

    def missing_known(self) -> tuple[int, int] | None:
        if self.known is None or self.known.sequence <= self.head_sequence:
            return None
        return self.head_sequence + 1, self.known.sequence

    def missing_anchored(self) -> tuple[int, int] | None:
        if self.node is None or self.node.size <= self.head_sequence:
            return None
        return self.head_sequence + 1, self.node.size

    def lines(self) -> list[str]:
        head = (
            f"sequence {self.head_sequence} (entry {self.head_hash.hex()[:16]}…)"
            if self.head_hash
            else "empty"
        )
        out = [f"log head         {head}"]
        if self.known is None:
            out.append("known head       none (no head state file beside the keystore)")
        else:
            out.append(
                f"known head       sequence {self.known.sequence} "
                f"(entry {self.known.entry_hash.hex()[:16]}…, head state file)"
            )
        known = self.missing_known()
        if known:
            out.append(
                f"missing (known)  entries {known[0]}–{known[1]} "
                f"({known[1] - known[0] + 1} entries this installation wrote or saw)"
            )
        if self.node is not None:
            trust = "verified" if self.node.verified else f"NOT verified: {self.node.note}"
            out.append(
                f"anchor node      {self.node.origin}: cosigned checkpoint of size "
                f"{self.node.size}, block {self.node.block} ({trust})"
            )
            anchored = self.missing_anchored()
            if anchored:
                out.append(
                    f"missing (anchored) entries {anchored[0]}–{anchored[1]} "
                    f"({anchored[1] - anchored[0] + 1} entries the node had anchored)"
                )
        elif self.node_error:
            out.append(f"anchor node      not consulted: {self.node_error}")
        if self.faults:
            for fault in self.faults:
                out.append(f"READ-ONLY        {fault.code}: {fault.detail}")
            out.append(
                "decide           restore a newer copy, or accept the loss: "
                "caseledger rollback accept --reason TEXT (docs/OPERATIONS.md)"
            )
        else:
            out.append("status           writable: the log holds the newest known head")
        return out


def tree_origin(storage: StorageURL) -> str | None:
    """The origin this ledger's tree store publishes under (None before the first checkpoint)."""
    from anchors.tree import open_tree_store

    store = open_tree_store(storage)
    try:
        store.migrate()
        return store.get_meta("origin")
    finally:
        store.close()


def _our_origins(client: Any, genesis: bytes) -> list[str]:
    """The origins registered at the node for this ledger (any city, any restart)."""
    ledger_id = genesis[:8].hex()
    return sorted(o for o in client.origins() if o.split("/")[1:2] == [ledger_id])


def _node_view(ledger: Any, storage: StorageURL, url: str, origin: str | None) -> NodeView | None:
    """The node's latest checkpoint of ``origin`` (or, for a log restored to before its first
    anchoring, of the ledger's origin at the node holding the most), verified under the policy
    built from the chain and the node when possible. Raises ``AnchorError`` when the node
    cannot be asked."""
    from anchors.node.client import NodeClient

    client = NodeClient(url)
    if origin:
        return _view_of(ledger, storage, client, origin)
    genesis = ledger.chain.select_entries(1, 1)
    if not genesis:
        return None
    views = [
        _view_of(ledger, storage, client, o) for o in _our_origins(client, genesis[0].entry_hash)
    ]
    found = [v for v in views if v is not None]
    return max(found, key=lambda v: v.size) if found else None


def _view_of(ledger: Any, storage: StorageURL, client: Any, origin: str) -> NodeView | None:
    from anchors import note
    from anchors.errors import AnchorError
    from anchors.receipt import parse_block_header, verify_receipt
    from api.anchoring import build_policy

    receipt = client.latest(origin)
    if receipt is None:
        return None
    try:
        verified = verify_receipt(receipt, build_policy(ledger, storage, client))
        return NodeView(origin, verified.checkpoint.size, verified.block.height, True)
    except AnchorError as exc:  # e.g. the restored log never recorded this origin's key
        checkpoint = note.parse_checkpoint(note.parse_note(receipt.checkpoint).text)
        block = parse_block_header(note.parse_note(receipt.block).text)
        return NodeView(origin, checkpoint.size, block.height, False, str(exc))


def assess(ledger: Any, storage: StorageURL, guard: RollbackGuard, node: str | None) -> Assessment:
    """What the ledger at ``storage`` holds against what is known of it (see module doc)."""
    from anchors.errors import AnchorError

    faults = guard.check()
    try:
        known = guard.state.read().head
    except HeadStateError:
        known = None
    head = ledger.chain.chain_head()
    origin = tree_origin(storage)
    view, error = None, ""
    if node:
        try:
            view = _node_view(ledger, storage, node, origin)
        except (AnchorError, ValueError) as exc:
            error = str(exc)
    return Assessment(
        0 if head is None else head.sequence,
        None if head is None else head.entry_hash,
        known,
        view,
        error,
        faults,
    )


def _restarts(ledger: Any, node: str | None, genesis: bytes) -> int:
    """How many times anchoring already restarted under a new origin: the most of what the
    chain recorded and what the node has registered (a restore may lose the record)."""
    from anchors.errors import AnchorError
    from anchors.node.client import NodeClient

    found = backup_log(ledger)
    most = 0 if found is None else found.restores
    if node:
        try:
            origins = _our_origins(NodeClient(node), genesis)
        except AnchorError:
            origins = []
        for origin in origins:
            _, _, tail = origin.partition("/restore-")
            if tail.isdigit():
                most = max(most, int(tail))
    return most


def take(runtime: Runtime, out: Any) -> tuple[BackupInfo, int]:
    """Back the ledger up into ``out`` and record it (``BackupLog.Taken``, platform key);
    (what the file holds, the sequence of the record). Raises ``BackupError``,
    ``LedgerRolledBack`` (a read-only ledger is not backed up: copy it for forensics)."""
    runtime.guard.require_writable()
    info = take_backup(runtime.settings.storage, out)
    record_backup(
        runtime.ledger, info, signer=runtime.platform_signer(), at=dt.datetime.now(dt.UTC)
    )
    head = runtime.ledger.chain.chain_head()
    return info, 0 if head is None else head.sequence


@dataclass(frozen=True)
class Accepted:
    """What ``rollback accept`` did."""

    restored_sequence: int
    lost: tuple[int, int] | None
    node_size: int
    origin_before: str
    origin_after: str
    tree_reset: bool
    views_reset: tuple[str, ...]
    recorded_at: int  # sequence of the RestoreAccepted entry


def accept(runtime: Runtime, *, reason: str, node: str | None) -> Accepted | None:
    """The operator's decision (see the module docstring); None when nothing needs one.

    Precondition: no ``serve`` runs on this ledger (its read models are reset here). Raises
    :class:`AcceptRefused` when the log diverges from the known head (restore a copy that ends
    before the divergence first), ``InvalidBackupRecord`` for a bad reason."""
    from anchors.checkpoints import restart_origin
    from anchors.errors import TreeDiverged
    from anchors.tree import PersistentTree, open_tree_store
    from projections.registry import VIEWS
    from projections.runner import reset_views_ahead

    ledger, storage, guard = runtime.ledger, runtime.settings.storage, runtime.guard
    seen = assess(ledger, storage, guard, node)
    if seen.writable:
        return None
    if any(f.code == HEAD_DIVERGED and f.source == LOCAL_SOURCE for f in seen.faults):
        raise AcceptRefused(
            "the log diverges from the newest known head (another history, not a shorter "
            "one): accepting cannot say what was lost; restore a backup that ends before the "
            "divergence (or the newer data), then accept"
        )
    head = ledger.chain.chain_head()
    genesis = ledger.chain.select_entries(1, 1)
    if head is None or not genesis:
        raise AcceptRefused("the log is empty: restore a backup first")
    try:
        serials = dict(guard.state.read().serials)
    except HeadStateError:
        serials = {}
    # The anchoring: a tree past the log is rebuilt; a node that anchored lost entries (or
    # lost our receipts) is continued under a new origin.
    store = open_tree_store(storage)
    try:
        store.migrate()
        origin = store.get_meta("origin") or ""
        tree = PersistentTree(store)
        tree_reset = False
        try:
            if tree.size() > head.sequence:
                raise TreeDiverged("the tree reaches past the log")
            tree.catch_up(ledger.chain)
        except TreeDiverged:
            store.reset()
            tree_reset = True
        node_size = 0 if seen.node is None else seen.node.size
        node_lost = any(f.code == NODE_ROLLED_BACK for f in seen.faults)
        new_origin = origin
        used = origin or (seen.node.origin if seen.node is not None else "")
        if used and (node_size > head.sequence or node_lost):
            new_origin = restart_origin(used, _restarts(ledger, node, genesis[0].entry_hash) + 1)
            store.set_meta("origin", new_origin)
    finally:
        store.close()
    # The read models that read lost history start again from the log.
    head_notification = ledger.recorder.max_notification_id() or 0
    views = tuple(reset_views_ahead(VIEWS, storage, ledger, head_notification))
    known = seen.known
    lost_to = max(head.sequence, node_size, 0 if known is None else known.sequence)
    lost_head = known.entry_hash if known and known.sequence > head.sequence else head.entry_hash
    record_restore(
        ledger,
        signer=runtime.platform_signer(),
        restored_sequence=head.sequence,
        restored_hash=head.entry_hash,
        lost_to=lost_to,
        lost_head_hash=lost_head,
        node_size=node_size,
        origin_before=origin,
        origin_after=new_origin,
        serial_floors=serials,
        reason=reason,
        at=dt.datetime.now(dt.UTC),
        bypass_gate=True,
    )
    recorded = ledger.chain.chain_head()
    assert recorded is not None
    guard.state.reset(KnownHead(genesis[0].entry_hash, recorded.sequence, recorded.entry_hash))
    guard.check()
    return Accepted(
        head.sequence,
        None if lost_to == head.sequence else (head.sequence + 1, lost_to),
        node_size,
        origin,
        new_origin,
        tree_reset,
        views,
        recorded.sequence,
    )
