"""Error root of the anchors package (anchors layer).

Every error raised by the anchoring code (tree store, checkpoints, policy, receipts, node,
worker, bundles) derives from :class:`AnchorError`, so the CLI and the HTTP edge map one
hierarchy. ``anchors.note.NoteError`` (a ``ValueError`` kept for the note library's own
contract) is caught and re-raised as one of these wherever untrusted notes enter.
"""

from __future__ import annotations

__all__ = [
    "AnchorError",
    "BundleError",
    "NodeRefused",
    "NodeStoreError",
    "NodeUnavailable",
    "PolicyError",
    "ReceiptError",
    "RollbackDetected",
    "TreeConflict",
    "TreeDiverged",
    "TreeStoreError",
]


class AnchorError(Exception):
    """Root of every error raised by the anchors package."""


class TreeStoreError(AnchorError):
    """The persistent Merkle tree could not be read or written (database error at the edge)."""


class TreeConflict(TreeStoreError):
    """Another writer appended to the tree first; reload and try again."""


class TreeDiverged(TreeStoreError):
    """The stored tree does not describe the chain it was built from (chain changed under it)."""


class PolicyError(AnchorError):
    """A trust policy is malformed or inconsistent."""


class ReceiptError(AnchorError):
    """A cosigned checkpoint or block receipt does not verify against the trust policy."""


class BundleError(AnchorError):
    """A proof bundle is malformed, or does not verify, or cannot be exported."""


class NodeStoreError(AnchorError):
    """The anchor node's own store is missing, stale or corrupted (the node refuses to start)."""


class NodeUnavailable(AnchorError):
    """The anchor node could not be reached or answered with a server error (retry later)."""


class RollbackDetected(AnchorError):
    """The local log and the anchor node disagree in a way only a rollback explains.

    ``code``: ``ledger-rolled-back`` (the node holds a checkpoint larger than the local log),
    ``ledger-diverged`` (the local tree has another root at the anchored size) or
    ``anchor-node-rolled-back`` (the node holds less than the receipts the chain recorded,
    or refuses because it was restored to an older height)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class NodeRefused(AnchorError):
    """The anchor node refused a request (HTTP 4xx); ``status`` and ``code`` say why."""

    def __init__(self, status: int, code: str, detail: str, size: int | None = None) -> None:
        super().__init__(f"node refused ({status} {code}): {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.size = size
