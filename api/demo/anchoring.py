"""Demo stage "anchoring": the node as its own process, continuous anchoring, offline proofs.

Layer: api (demo). Starts ``caseledger node serve`` in a subprocess on a free loopback port
(data under ``<out>/node``), anchors the demo's chain with the background worker, records the
receipts in the ledger, writes ``<out>/anchoring/{policy.json, checkpoint.txt, bundle-*.json}``,
verifies the bundle offline, stops the node, and then shows on COPIES of the ledger (SQLite
files under ``<out>/anchoring``, or PostgreSQL schemas ``<schema>_tampered_*`` beside the
ledger's) that a truncated and a rewritten (re-signed with the stolen platform key, every hash
recomputed) log both pass the plain chain check and are caught against the anchors.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from api.demo.main import DemoContext, Stage
from api.lifetime import child_environment
from ledger.chain.recorders.base import CHAIN_TABLE
from ledger.storage.urls import StorageURL, parse_storage_url

NODE_READY_SECONDS = 20.0


def free_port() -> int:
    """A loopback port free now (the child binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_command(data: Path, port: int, *extra: str) -> list[str]:
    """``caseledger node serve`` on ``data`` at loopback ``port``, run by this interpreter (the
    demo's node and the tests' :class:`tests.anchors.processes.NodeProcess`)."""
    serve = ["node", "serve", "--data", str(data), "--port", str(port), *extra]
    return [sys.executable, "-m", "api.cli", *serve]


def start_node(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``caseledger node serve`` as a child process; returns it and its URL once healthy."""
    port = free_port()
    process = subprocess.Popen(
        node_command(data, port),
        env=child_environment(),  # ends with the demo, even a killed one
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url)
    except BaseException:  # not healthy, or the demo stopped meanwhile: no node left behind
        stop_node(process)
        raise
    return process, url


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + NODE_READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the anchor node did not start: {err.strip()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the anchor node did not answer /healthz")


def stop_node(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    if process.stderr is not None:
        process.stderr.close()


def _busiest_aggregate(chain: Any, head: int) -> str:
    """The aggregate with most events that is not a key or the anchor log (a case, usually)."""
    from ledger.domain.anchoring import ANCHOR_TOPICS
    from ledger.domain.keys import KEY_TOPICS

    counts: Counter[str] = Counter()
    for start in range(1, head + 1, 20_000):
        for e in chain.select_entries(start, 20_000):
            if e.topic not in KEY_TOPICS and e.topic not in ANCHOR_TOPICS:
                counts[str(e.originator_id)] += 1
    if not counts:  # a city with no cases yet: a key will do
        return str(chain.select_entries(2, 1)[0].originator_id)
    return counts.most_common(1)[0][0]


def start(ctx: DemoContext) -> None:
    """Start the node (its own process) and the anchoring worker before the cases are driven,
    so the log is anchored continuously while the city works."""
    from anchors.node.client import NodeClient
    from anchors.worker import AnchoringWorker, WorkerSettings, open_ledger_anchors

    runtime = ctx.runtime
    shutil.rmtree(ctx.out / "anchoring", ignore_errors=True)
    shutil.rmtree(ctx.out / "node", ignore_errors=True)
    (ctx.out / "anchoring").mkdir(parents=True)
    ctx.running["anchoring_started"] = time.perf_counter()
    process, url = start_node(ctx.out / "node")
    try:
        anchors = open_ledger_anchors(
            runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
        )
        client = NodeClient(url)
        settings = WorkerSettings(every_entries=500, every_seconds=0.3)
        worker = AnchoringWorker(anchors, client, settings)
        worker.start()
    except BaseException:  # the demo stopped (SIGTERM) or failed before the cleanup is set
        stop_node(process)
        raise
    ctx.running["anchoring"] = (process, url, anchors, client, worker)

    def cleanup() -> None:  # if a later stage fails before ``run`` stops them
        if "anchoring" in ctx.running:
            worker.stop()
            stop_node(process)

    ctx.running.setdefault("cleanups", []).append(cleanup)


def _no_lines(ctx: DemoContext) -> list[str]:
    return []


def run(ctx: DemoContext) -> None:
    from anchors.bundle import export_bundle, verify_bundle

    runtime = ctx.runtime
    out = ctx.out / "anchoring"
    started = ctx.running.get("anchoring_started", time.perf_counter())
    if "anchoring" not in ctx.running:
        start(ctx)
    process, url, anchors, client, worker = ctx.running.pop("anchoring")
    try:
        began = time.perf_counter()
        deadline = time.monotonic() + 60
        head = runtime.ledger.chain.chain_head()
        target = head.sequence if head else 0
        while worker.anchored_size < target and time.monotonic() < deadline:
            time.sleep(0.05)
        catch_up = time.perf_counter() - began
        worker.stop()
        final = worker.anchor_once()  # the receipts' own entries are anchored next round
        policy = worker.policy()
        (out / "policy.json").write_bytes(policy.to_json())
        found = anchors.anchor_log()
        assert found is not None
        (out / "checkpoint.txt").write_text(found.checkpoint, encoding="utf-8")
        head = runtime.ledger.chain.chain_head()
        aggregate = _busiest_aggregate(runtime.ledger.chain, head.sequence if head else 0)
        bundle = export_bundle(runtime.ledger, anchors.tree, policy, aggregate)
        bundle_path = out / f"bundle-{aggregate}.json"
        bundle_path.write_bytes(bundle)
        report = verify_bundle(bundle_path.read_bytes(), policy)  # offline: bytes + policy
        tiles = _mirror_tiles(runtime.ledger, anchors, policy, out / "tiles")
        node_alarms = len(client.alarms())
    finally:
        stop_node(process)
    summary: dict[str, Any] = {
        "node": url,
        "origin": anchors.origin,
        "rounds": worker.rounds + 1,
        "anchored_size": found.size,
        "catch_up_seconds": round(catch_up, 2),
        "block_height": final.receipt.block.height if final.receipt else None,
        "cosigners": list(report.cosigners),
        "validators": len(policy.validators),
        "bundle": str(bundle_path),
        "bundle_bytes": len(bundle),
        "bundle_events": report.versions,
        "policy": str(out / "policy.json"),
        "policy_fingerprint": policy.fingerprint_text(),
        "checkpoint": str(out / "checkpoint.txt"),
        "alarms": node_alarms,
        "tiles": tiles,
        "seconds": round(time.perf_counter() - started, 2),
    }
    summary["tamper"] = _tamper_demo(ctx, policy, found.checkpoint, out)
    ctx.summary["anchoring"] = summary
    (out / "anchoring.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


def _mirror_tiles(ledger: Any, anchors: Any, policy: Any, target: Path) -> dict[str, Any]:
    """The log as ``serve`` publishes it (C2SP tlog-tiles: the cosigned checkpoint, every hash
    tile and entry bundle of its tree), written to ``target`` as an auditor's mirror, then read
    back by the independent reader (``caseledger tiles verify DIR``) against the policy."""
    from anchors.tile_reader import CHECKPOINT_PATH, DirectorySource, read_log
    from anchors.tiled_log import TiledLog, published_checkpoint
    from anchors.tiles import tiles_for_size

    published = published_checkpoint(ledger, anchors.origin)
    assert published is not None

    def entry_hashes(first: int, count: int) -> list[bytes]:
        return [e.entry_hash for e in ledger.chain.select_entries(first, count)]

    log = TiledLog(anchors.tree.store.read, entry_hashes)
    written = 0
    (target / CHECKPOINT_PATH).parent.mkdir(parents=True, exist_ok=True)
    (target / CHECKPOINT_PATH).write_text(published.note, encoding="utf-8")
    for tile in tiles_for_size(published.size):
        data = log.tile(tile, published.size)
        assert data is not None
        path = target.joinpath(*tile.path.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += len(data)
    report = read_log(DirectorySource(target), policy)
    return {
        "dir": str(target),
        "size": published.size,
        "bytes": written,
        "resources": report.resources,
        "entries": len(report.entry_hashes),
    }


# --- tamper demonstration (on copies) -------------------------------------------------------------

TREE_TABLES = ("anchor_tree_nodes", "anchor_tree_state", "anchor_meta")
"""The anchoring tree's tables, copied with the chain (``anchors.tree``)."""


def copy_ledger(storage: StorageURL, events: str, kind: str, out: Path) -> StorageURL:
    """A copy of the chain, its events and the anchoring tree to tamper with: a SQLite file
    ``<out>/tampered-<kind>.sqlite3``, or the PostgreSQL schema ``<schema>_tampered_<kind>``
    in the same database (replaced if it exists)."""
    if storage.is_sqlite:
        target = out / f"tampered-{kind}.sqlite3"
        target.unlink(missing_ok=True)
        with sqlite3.connect(storage.path) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return parse_storage_url(f"sqlite:///{target}")
    import psycopg
    from psycopg import sql

    source = storage.schema or "public"
    schema = f"{source}_tampered_{kind}"
    with psycopg.connect(storage.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        create = sql.SQL("CREATE TABLE {t} (LIKE {s} INCLUDING ALL EXCLUDING DEFAULTS)")
        fill = sql.SQL("INSERT INTO {t} SELECT * FROM {s}")
        for table in (events, CHAIN_TABLE, *TREE_TABLES):
            names = {"s": sql.Identifier(source, table), "t": sql.Identifier(schema, table)}
            conn.execute(create.format(**names))  # no defaults: nothing refers to the source
            conn.execute(fill.format(**names))
    return dataclasses.replace(storage, schema=schema)


def _tamper_demo(ctx: DemoContext, policy: Any, checkpoint: str, out: Path) -> dict[str, Any]:
    """Three copies of the ledger, attacked the way an operator with database access would:
    a whole command deleted and the chain relinked (no key needed), the tail cut, and a
    rewrite by someone holding every key. Plain ``verify`` catches the first; the anchors
    catch the other two (docs/FORMAT.md §8)."""
    from anchors.anchored_verify import collect_anchors, verify_against_anchors
    from anchors.tree import PersistentTree, open_tree_store
    from api.demo import attacks
    from ledger.chain.verification import verify_chain
    from ledger.services.application import open_ledger

    anchors, _ = collect_anchors([checkpoint], policy)
    size = anchors[-1].size
    keystore = ctx.runtime.keystore
    every_key = {r.key_id: keystore.signer(r.key_id) for r in keystore.records()}
    results: dict[str, Any] = {}
    storage = ctx.runtime.settings.storage
    recorder: Any = ctx.runtime.ledger.recorder  # a chained recorder: it names its tables
    events = str(recorder.events_table_name)
    for kind in ("keyless", "truncated", "rewritten"):
        copy = copy_ledger(storage, events, kind, out)
        url = copy.url()
        if kind == "keyless":
            attacks.delete_command(url, size // 2)
        elif kind == "truncated":
            attacks.truncate(url, size - 7)
        else:
            attacks.rename_actor(url, 2, every_key)
        ledger = open_ledger(copy)
        store = open_tree_store(copy)
        try:
            plain = verify_chain(ledger.chain)
            report = verify_against_anchors(ledger.chain, anchors, tree=PersistentTree(store))
        finally:
            store.close()
            ledger.close()
        failure = plain.failure or report.failure
        results[kind] = {
            "database": copy.redacted(),
            "plain_verify": "fails" if plain.failure else "passes",
            "caught_by": "plain verify" if plain.failure else "anchors" if failure else None,
            "caught": failure is not None,
            "sequence": failure.sequence if failure else None,
            "reason": failure.reason if failure else None,
            "detail": failure.detail if failure else None,
        }
    return results


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("anchoring")
    if not s:
        return []
    out = [
        f"anchoring      node {s['node']} (own process); {s['origin']} anchored to size "
        f"{s['anchored_size']:,} ({s['rounds']} rounds, backlog caught up in "
        f"{s['catch_up_seconds']} s), cosigned by {len(s['cosigners'])} of "
        f"{s['validators']} validators",
        f"proof bundle   {s['bundle']} ({s['bundle_bytes']:,} bytes, {s['bundle_events']} "
        "events) verified offline",
        f"trust policy   {s['policy']} (fingerprint {s['policy_fingerprint']}); "
        f"checkpoint {s['checkpoint']}",
    ]
    if "tiles" in s:
        t = s["tiles"]
        out.append(
            f"tiled log      {t['dir']}: C2SP tlog-tiles of size {t['size']:,} ({t['bytes']:,} "
            f"bytes); read back as an auditor's mirror: {t['resources']} resources, all "
            f"{t['entries']:,} entries checked against the cosigned root"
        )
    attacks = {
        "keyless": "a whole command deleted, chain relinked without a key",
        "truncated": "the tail cut",
        "rewritten": "an event rewritten and re-signed with every key",
    }
    for kind, t in s.get("tamper", {}).items():
        verdict = (
            f"caught by {t['caught_by']} at sequence {t['sequence']} ({t['reason']})"
            if t["caught"]
            else "NOT CAUGHT"
        )
        out.append(f"tamper         {attacks[kind]}: {verdict}")
    return out


START = Stage("anchoring-start", start, _no_lines)
STAGE = Stage("anchoring", run, lines)
