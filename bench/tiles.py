"""Benchmark: the tiled log — full tiles under load, and bytes per proof vs the JSON routes.

Run: ``python -m bench.tiles [--size 70000] [--rate 200] [--seconds 15] [--db URL]``.
A served-style ledger (keystore, platform key) is grown to ``--size`` entries and anchored
once to a real ``caseledger node serve``; then a real ``caseledger serve`` (one process, no
node) publishes it and the load client (bench/http_load.py, its own process) GETs at a fixed
rate for ``--seconds``: (0) first, every full tile once from one client, in sequence — each
read from the database (a process keeps the full tiles it served, ``anchors.tiled_log``); (1)
full tiles at the fixed rate — every full hash tile and entry bundle of the tree in turn, no
token; (2) as the baseline in the same run, ``GET /v1/audit/inclusion`` for random
leaves with an auditor token. (3) In-process, the same full tiles read through
``anchors.tiled_log`` without HTTP and without its cache (each from the database).

Bytes per proof: the body of ``/v1/audit/inclusion`` and ``/v1/audit/consistency`` answers
(mean over random leaves and old sizes), against the tiles a client needs to compute the same
proof — the fewest tiles whose hashes hold every proof element (a hash inside a tile level is
recomputed from the tile's own hashes), each full or partial as the tree has it — and the
whole log (every tile and bundle) divided by its entries, which is what an auditor who checks
every entry pays per entry. Bounded in count and time; loopback only. Prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.domain import Aggregate, event

from anchors import merkle
from anchors.tiled_log import TiledLog
from anchors.tiles import TILE_HEIGHT, Tile, tiles_for_size
from bench.http import run_load_client, spawn_cli, wait_until_up
from tests.api.conftest import free_port, run_cli

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase for the keystore"
EVENTS_PER_COMMAND = 5_000


class BenchEntry(Aggregate):
    """Entries for the benchmark: one signed command of many small events."""

    @event("Opened")
    def __init__(self) -> None:
        self.count = 0

    @event("Added")
    def add(self) -> None:
        self.count += 1


def _pct(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 3),
    }


def build(db: str, keystore: Path, node_url: str, size: int) -> dict[str, Any]:
    """Grow the ledger to ``size`` entries and anchor it once; the anchored size and root."""
    from anchors.node.client import NodeClient
    from anchors.worker import AnchoringWorker, open_ledger_anchors
    from api.bootstrap import open_runtime
    from api.settings import Settings
    from ledger.storage.urls import parse_storage_url

    runtime = open_runtime(Settings(parse_storage_url(db), keystore, PASSPHRASE), migrate=True)
    try:
        signer = runtime.platform_signer()
        began = time.perf_counter()
        while True:
            head = runtime.ledger.chain.chain_head()
            missing = size - (0 if head is None else head.sequence)
            if missing <= 0:
                break
            entry = BenchEntry()
            for _ in range(min(missing, EVENTS_PER_COMMAND) - 1):
                entry.add()
            runtime.ledger.save(entry, signer=signer)
        written = time.perf_counter() - began
        anchors = open_ledger_anchors(
            runtime.ledger, runtime.settings.storage, runtime.keystore, signer
        )
        result = AnchoringWorker(anchors, NodeClient(node_url, timeout=30.0)).anchor_once()
        return {"entries": size, "write_seconds": round(written, 1), "anchored": result.action}
    finally:
        runtime.close()


def in_process(db: str, size: int, paths: list[str], count: int) -> dict[str, Any]:
    """The same full tiles read without HTTP: the tree store and the chain, in this process."""
    from anchors.tiles import parse_tile_path
    from anchors.tree import open_tree_store
    from ledger.services.application import open_ledger
    from ledger.storage.urls import parse_storage_url

    storage = parse_storage_url(db)
    store = open_tree_store(storage)
    ledger = open_ledger(storage)
    try:
        log = TiledLog(
            store.read,
            lambda first, n: [e.entry_hash for e in ledger.chain.select_entries(first, n)],
            cached=0,  # every read from the database
        )
        samples: dict[str, list[float]] = {"hash_tiles": [], "entry_bundles": []}
        for i in range(count):
            tile = parse_tile_path(paths[i % len(paths)])
            began = time.perf_counter()
            assert log.tile(tile, size) is not None
            kind = "entry_bundles" if tile.is_entries else "hash_tiles"
            samples[kind].append(time.perf_counter() - began)
    finally:
        store.close()
        ledger.close()
    return {kind: {"reads": len(s), **_pct(s)} for kind, s in samples.items()}


def _ranges(plan: Any) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []

    def record(start: int, end: int) -> bytes:
        found.append((start, end))
        return bytes(merkle.HASH_SIZE)

    plan(record)
    return found


def _subtrees(start: int, end: int, out: list[tuple[int, int]]) -> None:
    """The complete aligned subtrees (tree level, index) whose RFC 9162 fold is [start, end)."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        out.append((n.bit_length() - 1, start // n))
        return
    k = 1 << ((n - 1).bit_length() - 1)
    _subtrees(start, start + k, out)
    _subtrees(start + k, end, out)


def tiles_holding(ranges: list[tuple[int, int]], size: int) -> set[Tile]:
    """The fewest tiles (full or partial as the tree of ``size`` has them) from which every
    range's hash can be computed: a subtree at tree level h, index k, comes from tile level
    h // 8, whose hashes k·2^(h mod 8) … (k+1)·2^(h mod 8) - 1 it folds."""
    tiles: set[Tile] = set()
    for start, end in ranges:
        parts: list[tuple[int, int]] = []
        _subtrees(start, end, parts)
        for height, index in parts:
            level, rest = divmod(height, TILE_HEIGHT)
            first = index << rest
            tile_index = first // 256
            hashes = size >> (TILE_HEIGHT * level)
            width = min(256, hashes - tile_index * 256)
            tiles.add(Tile(level, tile_index, width))
    return tiles


def proof_bytes(base: str, token: str, size: int, samples: int) -> dict[str, Any]:
    rng = random.Random(17)
    inclusion_json, inclusion_tiles, consistency_json, consistency_tiles = [], [], [], []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        for _ in range(samples):
            index = rng.randrange(size)
            body = c.get("/v1/audit/inclusion", params={"index": index, "size": size}).content
            inclusion_json.append(len(body))
            ranges = _ranges(lambda h, i=index: merkle.inclusion_proof_from(h, i, size))
            ranges.append((index, index + 1))  # the leaf itself
            inclusion_tiles.append(sum(t.width * 32 for t in tiles_holding(ranges, size)))
            old = rng.randrange(1, size)
            body = c.get("/v1/audit/consistency", params={"from": old, "to": size}).content
            consistency_json.append(len(body))
            ranges = _ranges(lambda h, o=old: merkle.consistency_proof_from(h, o, size))
            consistency_tiles.append(sum(t.width * 32 for t in tiles_holding(ranges, size)))
    every = tiles_for_size(size)
    whole = sum(t.width * (34 if t.is_entries else 32) for t in every)
    return {
        "inclusion_json_bytes": round(statistics.mean(inclusion_json)),
        "inclusion_tiles_bytes": round(statistics.mean(inclusion_tiles)),
        "consistency_json_bytes": round(statistics.mean(consistency_json)),
        "consistency_tiles_bytes": round(statistics.mean(consistency_tiles)),
        "whole_log_bytes": whole,
        "whole_log_bytes_per_entry": round(whole / size, 1),
        "whole_log_resources": len(every),
        "json_inclusion_per_entry": round(statistics.mean(inclusion_json)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="")
    parser.add_argument("--size", type=int, default=70_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="caseledger-tiles-bench-"))
    db = args.db or f"sqlite:///{tmp / 'ledger.sqlite3'}"
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(tmp / "keys"),
        "CASELEDGER_DB": db,
    }
    env.pop("CASELEDGER_NODE", None)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "db": "postgresql" if db.startswith("postgresql") else "sqlite",
        "load_before": os.getloadavg(),
    }
    node_port = free_port()
    node_args = ["node", "serve", "--data", str(tmp / "node"), "--port", str(node_port)]
    node = spawn_cli(env, *node_args)
    try:
        wait_until_up(f"http://127.0.0.1:{node_port}/healthz", node)
        report["ledger"] = build(db, tmp / "keys", f"http://127.0.0.1:{node_port}", args.size)
    finally:
        node.terminate()
        node.wait(30)
    port = free_port()
    server = spawn_cli(env, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    full = ["/" + t.path for t in tiles_for_size(args.size) if not t.is_partial]
    random.Random(5).shuffle(full)
    try:
        wait_until_up(f"{base}/healthz", server)
        token = run_cli("token", "create", "--role", "auditor", env=env, check=True).stdout.strip()
        rng = random.Random(11)
        inclusion = [
            f"/v1/audit/inclusion?index={rng.randrange(args.size)}&size={args.size}"
            for _ in range(1000)
        ]
        first_reads = []
        with httpx.Client(base_url=base, timeout=60) as c:  # every full tile once, uncached
            for path in full:
                began = time.perf_counter()
                c.get(path).raise_for_status()
                first_reads.append(time.perf_counter() - began)
        report["http_full_tiles_first_read"] = {"requests": len(full), **_pct(first_reads)}
        rate, seconds = str(args.rate), str(args.seconds)
        report["http_full_tiles"] = run_load_client(
            "get", base, "-", json.dumps(full), rate, seconds
        )
        report["http_json_inclusion"] = run_load_client(
            "get", base, token, json.dumps(inclusion), rate, seconds
        )
        report["bytes"] = proof_bytes(base, token, args.size, args.samples)
    finally:
        server.terminate()
        server.wait(30)
    report["in_process_full_tiles"] = in_process(
        db, args.size, [p.removeprefix("/") for p in full], 2000
    )
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
