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
from ledger.chain.recorders.base import CHAIN_TABLE
from ledger.storage.urls import StorageURL, parse_storage_url

NODE_READY_SECONDS = 20.0


def free_port() -> int:
    """A loopback port free now (the child binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_node(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``caseledger node serve`` as a child process; returns it and its URL once healthy."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "node",
            "serve",
            "--data",
            str(data),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + NODE_READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the anchor node did not start: {err.strip()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
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
    anchors = open_ledger_anchors(
        runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
    )
    client = NodeClient(url)
    worker = AnchoringWorker(anchors, client, WorkerSettings(every_entries=500, every_seconds=0.3))
    worker.start()
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
        "checkpoint": str(out / "checkpoint.txt"),
        "alarms": node_alarms,
        "seconds": round(time.perf_counter() - started, 2),
    }
    summary["tamper"] = _tamper_demo(ctx, policy, found.checkpoint, out)
    ctx.summary["anchoring"] = summary
    (out / "anchoring.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


# --- tamper demonstration (on copies) -------------------------------------------------------------

TREE_TABLES = ("anchor_tree_nodes", "anchor_tree_state", "anchor_meta")
"""The anchoring tree's tables, copied with the chain (``anchors.tree``)."""


class RawSQL:
    """Raw SQL on a copy of the ledger, as an operator with database access would write it:
    ``?`` placeholders, ``{events}`` for the events table and ``{row}`` for its row id (both
    differ between the backends)."""

    def __init__(self, storage: StorageURL, events: str) -> None:
        self.storage, self.events = storage, events
        self.row = "rowid" if storage.is_sqlite else "notification_id"

    def run(self, text: str, params: tuple[Any, ...] = ()) -> list[Any]:
        query = text.format(events=self.events, row=self.row)
        if self.storage.is_sqlite:
            with sqlite3.connect(self.storage.path) as conn:
                return conn.execute(query, params).fetchall()
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.storage.conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("SET search_path TO {}").format(sql.Identifier(self.storage.schema))
            )
            found = conn.execute(sql.SQL(query.replace("?", "%s")), params)
            return list(found.fetchall()) if found.description else []


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


def truncate_copy(db: RawSQL, keep: int) -> None:
    """Drop every chain entry (and its event) after sequence ``keep``: a truncated tail."""
    db.run(
        "DELETE FROM {events} WHERE {row} IN "
        f"(SELECT notification_id FROM {CHAIN_TABLE} WHERE sequence > ?)",
        (keep,),
    )
    db.run(f"DELETE FROM {CHAIN_TABLE} WHERE sequence > ?", (keep,))


def rewrite_copy(target: str | RawSQL, sequence: int, platform: Any) -> None:
    """Alter the event at ``sequence`` (a platform-signed key registration), re-sign its command
    with the stolen platform key and recompute every later entry hash: a rewritten chain.
    ``target`` is the copy (a SQLite file's path, or the copy's raw SQL)."""
    from ledger.chain.entries import command_message, sha256
    from ledger.encoding import canonical, decode
    from ledger.services.application import open_ledger

    if isinstance(target, RawSQL):
        db = target
    else:
        db = RawSQL(parse_storage_url(f"sqlite:///{target}"), "stored_events")
    ledger = open_ledger(db.storage)
    try:
        chain = ledger.chain
        link = chain.select_links(sequence, 1)[0]
        assert link.event is not None
        value = decode(link.event.state)
        value["actor"] = str(value.get("actor", "")) + " (rewritten)"
        new_state = canonical(value)
        db.run("UPDATE {events} SET state = ? WHERE {row} = ?", (new_state, link.notification_id))
        start = sequence - link.entry.command_index
        entries = list(chain.select_entries(start, 1_000_000))
        prev = chain.select_entries(start - 1, 1)[0].entry_hash
    finally:
        ledger.close()
    entries[sequence - start] = dataclasses.replace(
        entries[sequence - start], state_hash=sha256(new_state)
    )
    size = entries[0].command_size
    signature = platform.sign(command_message([e.digest for e in entries[:size]]))
    for e in entries:
        changed = dataclasses.replace(
            e, prev_hash=prev, signature=signature if e.sequence < start + size else e.signature
        )
        new_hash = changed.compute_hash()
        db.run(
            f"UPDATE {CHAIN_TABLE} SET prev_hash = ?, entry_hash = ?, state_hash = ?, "
            "signature = ? WHERE sequence = ?",
            (prev, new_hash, changed.state_hash, changed.signature, e.sequence),
        )
        prev = new_hash


def _tamper_demo(ctx: DemoContext, policy: Any, checkpoint: str, out: Path) -> dict[str, Any]:
    from anchors.anchored_verify import collect_anchors, verify_against_anchors
    from anchors.tree import PersistentTree, open_tree_store
    from ledger.chain.verification import verify_chain
    from ledger.services.application import open_ledger

    anchors, _ = collect_anchors([checkpoint], policy)
    size = anchors[-1].size
    results: dict[str, Any] = {}
    storage = ctx.runtime.settings.storage
    recorder: Any = ctx.runtime.ledger.recorder  # a chained recorder: it names its tables
    events = str(recorder.events_table_name)
    for kind in ("truncated", "rewritten"):
        copy = copy_ledger(storage, events, kind, out)
        db = RawSQL(copy, events)
        if kind == "truncated":
            truncate_copy(db, size - 7)
        else:
            rewrite_copy(db, 2, ctx.runtime.platform_signer())
        ledger = open_ledger(copy)
        store = open_tree_store(copy)
        try:
            chain_ok = verify_chain(ledger.chain).ok
            report = verify_against_anchors(ledger.chain, anchors, tree=PersistentTree(store))
        finally:
            store.close()
            ledger.close()
        failure = report.failure
        results[kind] = {
            "database": copy.redacted(),
            "chain_check_alone": "passes" if chain_ok else "fails",
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
        f"trust policy   {s['policy']}; checkpoint {s['checkpoint']}",
    ]
    for kind, t in s.get("tamper", {}).items():
        verdict = (
            f"caught at sequence {t['sequence']} ({t['reason']})" if t["caught"] else "NOT CAUGHT"
        )
        out.append(
            f"tamper         {kind} copy: chain check alone {t['chain_check_alone']}, "
            f"anchors {verdict}"
        )
    return out


START = Stage("anchoring-start", start, _no_lines)
STAGE = Stage("anchoring", run, lines)
