"""Benchmark: anchoring — proofs from the persistent tree, node round trips, lag under writes.

Run: ``python -m bench.anchoring [--sizes 1000000,10000000] [--pg URL] [--seconds 20]``.
Prints one JSON line per measurement and a JSON report at the end.

* Tree: the 1M/10M-entry trees are built DIRECTLY from synthetic leaf hashes
  (``leaf_hash(i as 8 bytes)``) with ``PersistentTree.append`` in batches — the same code path
  as catching up from the chain, without writing 10M ledger events first. SQLite (the ledger's
  file format, WAL); optionally PostgreSQL for the 1M tree.
* Proofs: inclusion (random leaf, full size) and consistency (random old size → full size),
  each one batched read; p50/p99 over 1,000 of each.
* Node: ``caseledger node serve`` as its own process; checkpoint round trip = sign +
  POST add-checkpoint (tlog-witness body) + verify the receipt; sustained checkpoints/s with
  8 concurrent ledgers (group commit seals them into shared blocks).
* Lag: a real SQLite ledger written continuously by one thread while the anchoring worker
  (default settings) anchors it; lag = age of the oldest unanchored entry when its receipt
  returns.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anchors import merkle
from anchors.checkpoints import checkpoint_signer, sign_checkpoint
from anchors.node.client import NodeClient
from anchors.node.protocol import AddCheckpoint
from anchors.policy import TrustPolicy
from anchors.receipt import verify_receipt
from anchors.tree import PersistentTree, PostgresTreeStore, SQLiteTreeStore


def _pct(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "p50_ms": round(at(0.50) * 1000, 3),
        "p99_ms": round(at(0.99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "n": len(ordered),
    }


def _emit(row: dict[str, Any]) -> dict[str, Any]:
    print(json.dumps(row), flush=True)
    return row


def build_tree(store: Any, size: int, batch: int = 250_000) -> float:
    tree = PersistentTree(store)
    began = time.perf_counter()
    n = tree.size()
    while n < size:
        count = min(batch, size - n)
        n = tree.append([merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(n, n + count)])
    return time.perf_counter() - began


def bench_proofs(backend: str, store: Any, size: int) -> dict[str, Any]:
    build = build_tree(store, size)
    tree = PersistentTree(store)
    rng = random.Random(size)
    inclusion, consistency = [], []
    for _ in range(1000):
        index = rng.randrange(size)
        began = time.perf_counter()
        proof = tree.inclusion_proof(index, size)
        inclusion.append(time.perf_counter() - began)
        old = rng.randrange(1, size)
        began = time.perf_counter()
        tree.consistency_proof(old, size)
        consistency.append(time.perf_counter() - began)
    root = tree.root(size)
    assert merkle.verify_inclusion(
        merkle.leaf_hash(index.to_bytes(8, "big")), index, size, proof, root
    )
    return _emit(
        {
            "bench": "proofs",
            "backend": backend,
            "size": size,
            "build_seconds": round(build, 1),
            "build_leaves_per_s": round(size / build) if build else None,
            "inclusion": _pct(inclusion),
            "consistency": _pct(consistency),
        }
    )


def start_node(data: Path) -> tuple[Any, str]:
    from tests.anchors.processes import NodeProcess

    node = NodeProcess(data).start()
    return node, node.url


class _Log:
    """A synthetic log with its own origin and key, anchored at the node."""

    def __init__(self, client: NodeClient, index: int) -> None:
        self.origin = f"caseledger.bench{index}.example/{os.urandom(8).hex()}"
        self.signer = checkpoint_signer(self.origin, os.urandom(32))
        self.leaves: list[bytes] = []
        self.size = 0
        self.root = merkle.EMPTY_ROOT
        self.client = client
        client.register(self.origin, self.signer.verifier().to_key())
        keys = client.keys()
        self.policy = TrustPolicy(
            self.origin,
            self.signer.verifier(),
            (bytes(32),),
            keys.node,
            keys.validators,
            keys.threshold,
        )

    def round(self, grow: int = 10) -> float:
        self.leaves += [merkle.leaf_hash(os.urandom(32)) for _ in range(grow)]
        began = time.perf_counter()
        new_size = len(self.leaves)
        proof = merkle.consistency_proof(self.leaves, self.size) if self.size else []
        signed = sign_checkpoint(self.signer, new_size, merkle.root(self.leaves))
        receipt = self.client.add_checkpoint(AddCheckpoint(self.size, tuple(proof), signed))
        verify_receipt(receipt, self.policy)
        elapsed = time.perf_counter() - began
        self.size = new_size
        return elapsed


def bench_node(tmp: Path, seconds: float) -> list[dict[str, Any]]:
    node, url = start_node(tmp / "node")
    rows = []
    try:
        client = NodeClient(url)
        log = _Log(client, 0)
        samples = [log.round() for _ in range(500)]
        rows.append(_emit({"bench": "checkpoint_round_trip", **_pct(samples)}))
        logs = [_Log(NodeClient(url), i + 1) for i in range(8)]
        stop = time.monotonic() + seconds
        counts = [0] * len(logs)

        def pump(i: int) -> None:
            while time.monotonic() < stop:
                logs[i].round(grow=5)
                counts[i] += 1

        height_before = client.health()["height"]
        threads = [threading.Thread(target=pump, args=(i,)) for i in range(len(logs))]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        blocks = client.health()["height"] - height_before
        rows.append(
            _emit(
                {
                    "bench": "node_sustained",
                    "clients": len(logs),
                    "seconds": round(elapsed, 1),
                    "checkpoints": sum(counts),
                    "checkpoints_per_s": round(sum(counts) / elapsed, 1),
                    "blocks": blocks,
                    "checkpoints_per_block": round(sum(counts) / max(1, blocks), 2),
                }
            )
        )
    finally:
        node.stop()
    return rows


def bench_lag(tmp: Path, seconds: float) -> dict[str, Any]:
    from anchors.worker import WorkerSettings
    from tests.anchors.fixtures import wire
    from tests.helpers import new_ledger

    node, url = start_node(tmp / "node-lag")
    try:
        ledger = new_ledger(f"sqlite:///{tmp / 'lag.sqlite3'}")
        anchored = wire(ledger, url, settings=WorkerSettings())
        anchored.worker.start()
        stop = time.monotonic() + seconds
        written = 0
        while time.monotonic() < stop:
            ledger.note(lines=4)  # one command of 5 events
            written += 5
        head = ledger.app.chain.chain_head()
        target = head.sequence if head else 0
        began = time.perf_counter()
        while anchored.worker.anchored_size < target and time.perf_counter() - began < 30:
            time.sleep(0.01)
        drain = time.perf_counter() - began
        lags = anchored.worker.lags
        anchored.close()
        return _emit(
            {
                "bench": "anchoring_lag",
                "seconds": seconds,
                "events_written": written,
                "events_per_s": round(written / seconds),
                "rounds": len(lags),
                "lag_p50_s": round(statistics.median(lags), 3) if lags else None,
                "lag_p99_s": round(sorted(lags)[int(0.99 * (len(lags) - 1))], 3) if lags else None,
                "lag_max_s": round(max(lags), 3) if lags else None,
                "drain_after_writes_stop_s": round(drain, 3),
                "worker": "defaults: every 1000 entries or 2 s",
            }
        )
    finally:
        node.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--pg", default="", help="also build the 1M tree on this PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-trees", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    tmp = Path(tempfile.mkdtemp(prefix="caseledger-anchor-bench-"))
    out: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "tree_note": "1M/10M trees built directly from synthetic leaf hashes (not from 10M "
        "ledger events) with PersistentTree.append",
    }
    try:
        if not args.skip_trees:
            rows = []
            for size in (int(s) for s in args.sizes.split(",")):
                store = SQLiteTreeStore(str(tmp / f"tree-{size}.sqlite3"))
                store.migrate()
                conn = store._connect()
                conn.execute("PRAGMA journal_mode=WAL")
                rows.append(bench_proofs("sqlite", store, size))
                store.close()
            if args.pg:
                from ledger.storage.urls import parse_storage_url

                s = parse_storage_url(args.pg)
                schema = f"bench_{os.urandom(4).hex()}"
                pg = PostgresTreeStore(
                    f"host={s.host} port={s.port} user={s.user} dbname={s.dbname}", schema
                )
                pg.migrate()
                try:
                    rows.append(bench_proofs("postgres", pg, 1_000_000))
                finally:
                    import psycopg

                    pg.close()
                    with psycopg.connect(pg.conninfo, autocommit=True) as c:
                        c.execute(f'DROP SCHEMA "{schema}" CASCADE')
            out["proofs"] = rows
        out["node"] = bench_node(tmp, args.seconds / 2)
        out["lag"] = bench_lag(tmp, args.seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
