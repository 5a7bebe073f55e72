"""Shared anchoring fixtures: a real node process, and a ledger wired for anchoring.

Imported by the anchoring test modules (``from tests.anchors.fixtures import …``). The node is
``caseledger node serve`` in its own process (tests/anchors/processes.py); the ledger is a real
SQLite file or PostgreSQL schema (``tests.helpers.new_ledger``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anchors.checkpoints import checkpoint_signer, ledger_origin
from anchors.node.client import NodeClient
from anchors.tree import PersistentTree, open_tree_store
from anchors.worker import AnchoringWorker, LedgerAnchors, WorkerSettings
from ledger.storage.urls import parse_storage_url
from tests.anchors.processes import NodeProcess
from tests.helpers import Ledger


@dataclass
class Anchored:
    """A ledger with its anchoring side and a worker pointed at a node."""

    ledger: Ledger
    anchors: LedgerAnchors
    worker: AnchoringWorker
    seed: bytes

    def close(self) -> None:
        self.worker.stop()
        store = self.anchors.tree.store
        close = getattr(store, "close", None)
        if close is not None:
            close()
        self.ledger.app.close()


def wire(
    ledger: Ledger,
    node_url: str,
    *,
    seed: bytes | None = None,
    settings: WorkerSettings | None = None,
) -> Anchored:
    """Wire anchoring onto ``ledger`` (tree tables migrated, origin fixed from genesis)."""
    store = open_tree_store(parse_storage_url(ledger.url))
    store.migrate()
    genesis = ledger.app.chain.select_entries(1, 1)[0]
    origin = store.set_meta_once("origin", ledger_origin("testcity", genesis.entry_hash))
    seed = seed or os.urandom(32)
    anchors = LedgerAnchors(
        ledger.app, PersistentTree(store), origin, checkpoint_signer(origin, seed), ledger.platform
    )
    worker = AnchoringWorker(anchors, NodeClient(node_url, timeout=2.0), settings)
    return Anchored(ledger, anchors, worker, seed)


@pytest.fixture(scope="module", name="shared_node")
def shared_node_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node process for a whole module (origins differ per ledger, so tests don't clash)."""
    with NodeProcess(tmp_path_factory.mktemp("node")).start() as node:
        yield node


@pytest.fixture(name="node")
def node_fixture(tmp_path: Path) -> Iterator[NodeProcess]:
    """A node process of this test's own (for restarts and corruption)."""
    with NodeProcess(tmp_path / "node").start() as process:
        yield process
