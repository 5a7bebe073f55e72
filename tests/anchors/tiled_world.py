"""A ledger prepared the way ``caseledger serve`` opens it, grown to an exact size and anchored
to a real node process, for the tiled-log tests (tiles, proofs, the Go and Python readers).

Entries are written as one signed command of many small events (``tests.helpers.Note``), so a
tree of tens of thousands of leaves costs seconds; everything else is real: keystore, platform
key, chain, persistent tree, cosigned checkpoints recorded back into the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from anchors.node.client import NodeClient
from anchors.worker import AnchoringWorker, open_ledger_anchors
from api.bootstrap import Runtime, open_runtime
from api.settings import Settings
from ledger.storage.urls import parse_storage_url
from tests.api.conftest import PASSPHRASE
from tests.helpers import Note

MAX_EVENTS_PER_COMMAND = 5_000


@dataclass
class TiledWorld:
    """The ledger's URL and keystore, its trust policy file, and the cosigned checkpoints (note
    text) recorded by each anchoring, oldest first."""

    db: str
    keystore: Path
    policy: Path
    checkpoints: list[str] = field(default_factory=list)
    verifier_key: str = ""


def open_world_runtime(db: str, keystore: Path, *, migrate: bool = False) -> Runtime:
    return open_runtime(Settings(parse_storage_url(db), keystore, PASSPHRASE), migrate=migrate)


def grow_to(runtime: Runtime, size: int) -> None:
    """Write notes until the chain has exactly ``size`` entries (one per event)."""
    head = runtime.ledger.chain.chain_head()
    missing = size - (0 if head is None else head.sequence)
    if missing < 0:
        raise ValueError(f"the chain already has more than {size} entries")
    signer = runtime.platform_signer()
    while missing > 0:
        events = min(missing, MAX_EVENTS_PER_COMMAND)
        note = Note(title="tiles")
        for i in range(events - 1):
            note.write(f"line {i}")
        runtime.ledger.save(note, signer=signer)
        missing -= events


def anchor(runtime: Runtime, node_url: str, world: TiledWorld) -> str:
    """Anchor the whole chain once; returns the cosigned checkpoint recorded in the chain."""
    anchors = open_ledger_anchors(
        runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
    )
    try:
        worker = AnchoringWorker(anchors, NodeClient(node_url, timeout=10.0))
        result = worker.anchor_once()
        assert result.action == "anchored", result
        world.policy.write_bytes(worker.policy().to_json())
        world.verifier_key = anchors.verifier_key
        log = anchors.anchor_log()
        assert log is not None and log.size == result.anchored_size
        world.checkpoints.append(str(log.checkpoint))
        return str(log.checkpoint)
    finally:
        close = getattr(anchors.tree.store, "close", None)
        if close is not None:
            close()


def build_tiled_world(db: str, tmp: Path, node_url: str, sizes: tuple[int, ...]) -> TiledWorld:
    """A served-style ledger anchored once at each chain size of ``sizes`` (increasing)."""
    world = TiledWorld(db, tmp / "keys", tmp / "trust-policy.json")
    runtime = open_world_runtime(db, world.keystore, migrate=True)
    try:
        for size in sizes:
            grow_to(runtime, size)
            anchor(runtime, node_url, world)
    finally:
        runtime.close()
    return world
