"""The anchor node as its own process, over HTTP on loopback, with a real ledger.

Normal anchoring; restarts keep state; a corrupted or stale store is refused on start; a node
down during writes loses nothing and the lag recovers; a forked, rolled-back or split-view
ledger is refused with an alarm; malformed requests are refused with clear errors.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from anchors import merkle, note
from anchors.checkpoints import sign_checkpoint
from anchors.errors import AnchorError, NodeRefused
from anchors.node.client import NodeClient
from anchors.node.protocol import AddCheckpoint
from anchors.receipt import verify_receipt
from anchors.worker import WorkerSettings
from ledger.chain.verification import verify_chain
from ledger.domain.anchoring import ANCHORED_TOPIC
from tests.anchors.fixtures import (
    node_fixture,  # noqa: F401
    shared_node_fixture,  # noqa: F401
    wire,
)
from tests.anchors.processes import NodeProcess
from tests.helpers import new_ledger


def _sqlite(tmp_path: Path, name: str = "ledger") -> str:
    return f"sqlite:///{tmp_path / (name + '.sqlite3')}"


def test_a_ledger_anchors_and_records_the_receipt_in_its_chain(
    tmp_path: Path, shared_node: NodeProcess
) -> None:
    a = wire(new_ledger(_sqlite(tmp_path)), shared_node.url)
    a.ledger.note(lines=3)
    result = a.worker.anchor_once()
    assert result.action == "anchored" and result.receipt is not None
    assert result.receipt.checkpoint.size == 6
    assert len(result.receipt.checkpoint.cosigners) == 3
    # The receipt is an event of the chain, signed by the platform key, and the chain verifies.
    head = a.ledger.app.chain.chain_head()
    assert head is not None and head.topic == ANCHORED_TOPIC
    assert head.key_id == a.ledger.platform.key_id
    assert verify_chain(a.ledger.app.chain).ok
    # Another round anchors the new entries, consistently with the first checkpoint.
    a.ledger.note(lines=1)
    second = a.worker.anchor_once()
    assert second.receipt is not None and second.receipt.block.height > 0
    assert second.anchored_size == head.sequence + 2
    a.close()


def test_a_restarted_node_keeps_its_state(tmp_path: Path, node: NodeProcess) -> None:
    a = wire(new_ledger(_sqlite(tmp_path)), node.url)
    a.ledger.note(lines=2)
    first = a.worker.anchor_once()
    node.stop()
    node.start()
    held = NodeClient(node.url).latest(a.anchors.origin)
    assert held is not None
    assert verify_receipt(held, a.worker.policy()).checkpoint.size == first.anchored_size
    a.ledger.note(lines=2)
    assert a.worker.anchor_once().action == "anchored"
    a.close()


def _blocks(data: Path, sql: str) -> None:
    with sqlite3.connect(data / "node.sqlite3") as conn:
        conn.execute(sql)


def test_a_corrupted_node_store_is_refused_on_start(tmp_path: Path, node: NodeProcess) -> None:
    a = wire(new_ledger(_sqlite(tmp_path)), node.url)
    a.ledger.note(lines=1)
    a.worker.anchor_once()
    a.close()
    node.stop()
    _blocks(node.data, "UPDATE checkpoints SET note = replace(note, 'testcity', 'othercity')")
    code, err = node.run_to_exit()
    assert code == 2
    assert "stale or corrupted" in err and "block 1" in err


def test_a_stale_node_store_is_refused_on_start(tmp_path: Path, node: NodeProcess) -> None:
    a = wire(new_ledger(_sqlite(tmp_path)), node.url)
    a.ledger.note(lines=1)
    a.worker.anchor_once()
    node.stop()
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(node.data / "node.sqlite3", backup)
    node.start()
    a.ledger.note(lines=1)
    a.worker.anchor_once()
    a.ledger.note(lines=1)
    a.worker.anchor_once()
    a.close()
    node.stop()
    for suffix in ("-wal", "-shm"):
        (node.data / f"node.sqlite3{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, node.data / "node.sqlite3")  # restored from an old copy
    code, err = node.run_to_exit()
    assert code == 2
    assert "stale" in err


def test_keys_without_a_store_are_refused(tmp_path: Path, node: NodeProcess) -> None:
    node.stop()
    (node.data / "node.sqlite3").unlink()
    code, err = node.run_to_exit()
    assert code == 2 and "store" in err


def test_writes_continue_while_the_node_is_down_and_anchoring_catches_up(
    tmp_path: Path, node: NodeProcess
) -> None:
    settings = WorkerSettings(
        every_entries=50,
        every_seconds=0.2,
        poll_seconds=0.05,
        backoff_initial=0.1,
        backoff_max=0.5,
    )
    a = wire(new_ledger(_sqlite(tmp_path)), node.url, settings=settings)
    a.worker.start()
    a.ledger.note(lines=2)
    deadline = time.monotonic() + 10
    while a.worker.anchored_size < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert a.worker.anchored_size >= 5
    node.stop()
    slowest = 0.0
    for _ in range(30):  # writes while the node is down: none waits for anchoring
        began = time.perf_counter()
        a.ledger.note(lines=2)
        slowest = max(slowest, time.perf_counter() - began)
        time.sleep(0.02)
    assert a.worker.failures > 0  # the worker noticed the node was down and backed off
    assert slowest < 1.0
    head = a.ledger.app.chain.chain_head()
    assert head is not None
    written = head.sequence
    node.start()  # same port, same data
    deadline = time.monotonic() + 15
    while a.worker.anchored_size < written and time.monotonic() < deadline:
        time.sleep(0.05)
    recovered = time.monotonic()
    assert a.worker.anchored_size >= written, a.worker.last_error
    a.worker.stop()
    held = NodeClient(node.url).latest(a.anchors.origin)
    assert held is not None
    assert verify_receipt(held, a.worker.policy()).checkpoint.size >= written
    assert recovered - deadline < 0  # caught up before the deadline: lag recovered
    a.close()


def test_a_forked_ledger_is_refused_and_raises_an_alarm(
    tmp_path: Path, shared_node: NodeProcess
) -> None:
    url = _sqlite(tmp_path, "original")
    a = wire(new_ledger(url), shared_node.url)
    a.ledger.note(lines=2)
    a.worker.anchor_once()
    # A copy of the database goes its own way: same origin, same (stolen) checkpoint key.
    fork_path = tmp_path / "fork.sqlite3"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(fork_path) as dst:
        src.backup(dst)
    a.ledger.note(lines=3)
    a.worker.anchor_once()
    from ledger.services.application import open_ledger
    from tests.helpers import Ledger

    fork_app = open_ledger(f"sqlite:///{fork_path}")
    fork = Ledger(f"sqlite:///{fork_path}", fork_app, a.ledger.platform, a.ledger.department)
    for _ in range(5):
        fork.note(lines=2)
    b = wire(fork, shared_node.url, seed=a.seed)
    assert b.anchors.origin == a.anchors.origin
    # Our own worker notices the fork itself and refuses to go on.
    with pytest.raises(AnchorError, match="fork"):
        b.worker.anchor_once()
    # The fork presents its checkpoint anyway, with the best proof its tree can make.
    client = NodeClient(shared_node.url)
    held = client.latest(a.anchors.origin)
    assert held is not None
    held_size = verify_receipt(held, a.worker.policy()).checkpoint.size
    size = b.anchors.tree.catch_up(fork.app.chain)
    with pytest.raises(NodeRefused) as refused:
        _post(
            client,
            held_size,
            b.anchors.tree.consistency_proof(held_size, size),
            sign_checkpoint(b.anchors.checkpoint_key, size, b.anchors.tree.root(size)),
        )
    assert refused.value.status == 422 and refused.value.code == "inconsistent"
    alarms = NodeClient(shared_node.url).alarms()
    assert any(x["origin"] == a.anchors.origin and x["kind"] == "inconsistent" for x in alarms)
    a.close()
    b.close()


def _post(client: NodeClient, old: int, proof: list[bytes], signed: str) -> None:
    client.add_checkpoint(AddCheckpoint(old, tuple(proof), signed))


def test_rollback_and_split_view_are_refused_with_alarms(
    tmp_path: Path, shared_node: NodeProcess
) -> None:
    a = wire(new_ledger(_sqlite(tmp_path)), shared_node.url)
    a.ledger.note(lines=3)
    size = a.worker.anchor_once().anchored_size
    client = NodeClient(shared_node.url)
    signer = a.anchors.checkpoint_key
    tree = a.anchors.tree
    # A smaller tree than the one anchored: a truncated log (rollback).
    with pytest.raises(NodeRefused) as smaller:
        _post(client, 0, [], sign_checkpoint(signer, size - 2, tree.root(size - 2)))
    assert (smaller.value.status, smaller.value.code, smaller.value.size) == (
        409,
        "smaller-size",
        size,
    )
    # Another root at the anchored size: a split view (422 as C2SP tlog-witness says: the
    # client's old size is right, its checkpoint is not; 409 only when old is stale).
    with pytest.raises(NodeRefused) as split:
        _post(client, size, [], sign_checkpoint(signer, size, bytes(32)))
    assert (split.value.status, split.value.code) == (422, "different-root")
    with pytest.raises(NodeRefused) as stale_split:
        _post(client, 0, [], sign_checkpoint(signer, size, bytes(32)))
    assert (stale_split.value.status, stale_split.value.size) == (409, size)
    kinds = {x["kind"] for x in client.alarms() if x["origin"] == a.anchors.origin}
    assert {"rollback", "split-view"} <= kinds
    # A truncated ledger's own worker refuses to anchor over the node's larger checkpoint.
    a.worker.anchors.tree.catch_up(a.ledger.app.chain)
    from tests.helpers import run_sql

    run_sql(a.ledger.url, "DELETE FROM chain_entries WHERE sequence > 3")
    from anchors.tree import TreeDiverged

    with pytest.raises((TreeDiverged, AnchorError)):
        a.worker.anchor_once()
    a.close()


def test_malformed_and_unauthorised_requests_are_refused(
    tmp_path: Path, shared_node: NodeProcess
) -> None:
    client = NodeClient(shared_node.url)
    a = wire(new_ledger(_sqlite(tmp_path)), shared_node.url)
    a.ledger.note(lines=1)
    a.worker.anchor_once()
    size = a.anchors.tree.size()
    root = a.anchors.tree.root(size)
    stranger, _ = note.generate_signer(a.anchors.origin)
    forged = sign_checkpoint(note.Signer.from_key(stranger), size, root)
    with pytest.raises(NodeRefused) as bad_sig:
        _post(client, 0, [], forged)
    assert bad_sig.value.status == 403
    other, _ = note.generate_signer("caseledger.nowhere.example/0000000000000000")
    with pytest.raises(NodeRefused) as unknown:
        _post(client, 0, [], sign_checkpoint(note.Signer.from_key(other), 1, merkle.EMPTY_ROOT))
    assert unknown.value.status == 404
    for body in (
        b"",
        b"old x\n\nnote",
        b"old 0\nnot-base64!\n\n" + forged.encode(),
        b"\xff\xfe",
        b"old 0\n" + b"A" * 100_000,
    ):
        request = urllib.request.Request(shared_node.url + "/add-checkpoint", data=body)
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request, timeout=5)
        assert http.value.code in (400, 413)
    with pytest.raises(NodeRefused) as rebind:
        client.register(a.anchors.origin, note.Signer.from_key(stranger).verifier().to_key())
    assert rebind.value.status == 409
    a.close()


def test_concurrent_submissions_are_sealed_into_shared_blocks(
    tmp_path: Path, shared_node: NodeProcess
) -> None:
    ledgers = [wire(new_ledger(_sqlite(tmp_path, f"l{i}")), shared_node.url) for i in range(4)]
    for x in ledgers:
        x.ledger.note(lines=1)
        x.worker._ensure_registered()
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda x=x: results.append(x.worker.anchor_once())) for x in ledgers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for x in ledgers:
        held = NodeClient(shared_node.url).latest(x.anchors.origin)
        assert held is not None
        verify_receipt(held, x.worker.policy())
        x.close()
