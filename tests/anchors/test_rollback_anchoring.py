"""Rollbacks the anchoring finds, with a real node process and a real ledger on each backend.

An adversary restores the node's whole data directory (store, ``HEAD`` marker and keys
together) to an older height: the node's own start-up check passes, so the worker must see
that the node holds less than the receipts the chain recorded, and the node must refuse once
the ledger presents the newest block it holds a receipt from. An adversary restores the
ledger to an older copy below what the node anchored: the worker names the missing entries.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from anchors.checkpoints import sign_checkpoint
from anchors.errors import NodeRefused, RollbackDetected
from anchors.node.client import NodeClient
from anchors.node.protocol import AddCheckpoint
from anchors.worker import LEDGER_ROLLED_BACK, NODE_ROLLED_BACK
from api.demo.attacks import truncate as truncate_chain
from ledger.storage.backup import restore_backup, take_backup
from ledger.storage.urls import parse_storage_url
from tests.anchors.fixtures import Anchored, node_fixture, wire  # noqa: F401
from tests.anchors.processes import NodeProcess
from tests.helpers import new_ledger


def _height(node: NodeProcess) -> int:
    with urllib.request.urlopen(node.url + "/healthz", timeout=5) as r:
        return int(json.loads(r.read())["height"])


def _restore_dir(node: NodeProcess, copy: Path) -> None:
    node.stop()
    shutil.rmtree(node.data)
    shutil.copytree(copy, node.data)
    node.start()  # the node's own check passes: its HEAD marker went back with the store


def _anchored_twice_with_an_old_node_copy(
    storage_url: str, node: NodeProcess, tmp_path: Path
) -> tuple[Anchored, Path, int, int]:
    a = wire(new_ledger(storage_url), node.url)
    a.ledger.note(lines=2)
    first = a.worker.anchor_once().anchored_size
    node.stop()
    old = tmp_path / "node-old"
    shutil.copytree(node.data, old)
    node.start()
    a.ledger.note(lines=2)
    second = a.worker.anchor_once().anchored_size
    a.ledger.note(lines=1)
    return a, old, first, second


def test_a_node_restored_to_an_older_height_stops_anchoring(
    storage_url: str, node: NodeProcess, tmp_path: Path
) -> None:
    a, old, first, second = _anchored_twice_with_an_old_node_copy(storage_url, node, tmp_path)
    try:
        _restore_dir(node, old)
        height = _height(node)
        with pytest.raises(RollbackDetected) as found:
            a.worker.check()
        assert found.value.code == NODE_ROLLED_BACK
        assert f"holds size {first}" in found.value.detail
        assert f"receipt for size {second}" in found.value.detail
        with pytest.raises(RollbackDetected):
            a.worker.anchor_once()
        assert _height(node) == height  # nothing was submitted: no new block at old heights
    finally:
        a.close()


def test_a_node_restored_to_an_older_height_refuses_once_shown_a_newer_block(
    storage_url: str, node: NodeProcess, tmp_path: Path
) -> None:
    a, old, first, _ = _anchored_twice_with_an_old_node_copy(storage_url, node, tmp_path)
    try:
        _restore_dir(node, old)
        recorded = a.anchors.anchor_log()
        assert recorded is not None
        # What the issue saw: a consistent checkpoint from the node's (old) size is accepted
        # by a restored node, which then seals new blocks at heights it had given before. With
        # the newest block the ledger recorded presented, the node refuses and halts.
        tree, key = a.anchors.tree, a.anchors.checkpoint_key
        size = tree.catch_up(a.ledger.app.chain)
        request = AddCheckpoint(
            first,
            tuple(tree.consistency_proof(first, size)),
            sign_checkpoint(key, size, tree.root(size)),
        )
        client = NodeClient(node.url)
        with pytest.raises(NodeRefused) as refused:
            client.add_checkpoint(request, presented_block=recorded.block)
        assert (refused.value.status, refused.value.code) == (409, "node-rolled-back")
        assert "restored to an older state" in refused.value.detail
        with pytest.raises(NodeRefused) as again:  # halted: even without the header
            client.add_checkpoint(request)
        assert again.value.code == "node-rolled-back"
        kinds = [alarm["kind"] for alarm in client.alarms()]
        assert "node-rolled-back" in kinds
        # Restarted on the newer store, the node accepts again.
        node.stop()
        node.start()
    finally:
        a.close()


def test_a_presented_block_not_sealed_by_the_nodes_validators_is_refused_without_halting(
    storage_url: str, node: NodeProcess, tmp_path: Path
) -> None:
    a = wire(new_ledger(storage_url), node.url)
    try:
        a.ledger.note(lines=1)
        a.worker.anchor_once()
        recorded = a.anchors.anchor_log()
        assert recorded is not None
        forged = recorded.block.replace("height 1\n", "height 9\n")
        client = NodeClient(node.url)
        request = AddCheckpoint(0, (), "x")
        with pytest.raises(NodeRefused) as refused:
            client.add_checkpoint(request, presented_block=forged)
        assert (refused.value.status, refused.value.code) == (400, "malformed-block")
        a.ledger.note(lines=1)
        assert a.worker.anchor_once().action == "anchored"  # not halted
    finally:
        a.close()


def test_a_ledger_restored_below_the_anchored_size_names_the_missing_entries(
    storage_url: str, node: NodeProcess, tmp_path: Path
) -> None:
    a = wire(new_ledger(storage_url), node.url)
    try:
        a.ledger.note(lines=1)
        older = take_backup(parse_storage_url(storage_url), tmp_path / "older.backup")
        a.ledger.note(lines=3)
        anchored = a.worker.anchor_once().anchored_size
        restore_backup(parse_storage_url(storage_url), older.path)  # tree tables go back too
        with pytest.raises(RollbackDetected) as found:
            a.worker.check()
        assert found.value.code == LEDGER_ROLLED_BACK
        assert f"entries {older.head_sequence + 1}–{anchored} are missing" in found.value.detail
    finally:
        a.close()


def test_a_tail_deleted_under_the_anchoring_tree_is_a_rollback(
    storage_url: str, node: NodeProcess
) -> None:
    a = wire(new_ledger(storage_url), node.url)
    try:
        a.ledger.note(lines=3)
        anchored = a.worker.anchor_once().anchored_size
        truncate_chain(storage_url, keep=3)
        with pytest.raises(RollbackDetected) as found:
            a.worker.check()
        assert found.value.code == LEDGER_ROLLED_BACK
        assert f"entries 4–{anchored}" in found.value.detail
    finally:
        a.close()


@pytest.mark.parametrize("value", ["not base64!", "AAA", "/w==", "x" * 7000])
def test_a_malformed_presented_block_header_is_refused(value: str) -> None:
    from anchors.node.protocol import parse_presented_block

    with pytest.raises(NodeRefused) as refused:
        parse_presented_block(value)
    assert (refused.value.status, refused.value.code) == (400, "malformed-request")
