"""Benchmark: chained, signed writes vs a plain eventsourcing application; verify speed.

Run: ``python -m bench.ledger_writes [--pg URL] [--verify-events N]``. Both sides use
the same backend, aggregate, batch size and msgpack transcoder, so the difference
is the chain link and the signature. Prints a JSON report and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Transcoder

from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.keys import KeyRole
from ledger.encoding import MsgpackTranscoder
from ledger.services.application import LedgerApplication, open_ledger
from ledger.storage.urls import parse_storage_url


class Entry(Aggregate):
    @event("Opened")
    def __init__(self, title: str) -> None:
        self.title = title

    @event("Noted")
    def note(self, text: str) -> None:
        self.text = text


def _aggregate(events: int) -> Entry:
    agg = Entry(title="benchmark")
    for i in range(events - 1):
        agg.note(f"line {i}")
    return agg


class PlainApplication(Application[uuid.UUID]):
    name = "plain"

    def construct_transcoder(self) -> Transcoder:
        return MsgpackTranscoder()


def registered_signer(ledger: LedgerApplication, actor: str) -> Ed25519Signer:
    """Bootstrap a fresh ledger with a new platform key and register a new department key
    for ``actor``; that key's signer (what a benchmark's commands are signed with)."""
    platform_key, signer = Ed25519Signer.generate(), Ed25519Signer.generate(actor)
    ledger.bootstrap(platform_key)
    ledger.register_key(
        signer.public_key, signer.key_id, actor=actor, role=KeyRole.DEPARTMENT, by=platform_key
    )
    return signer


def _plain_env(url: str) -> dict[str, str]:
    s = parse_storage_url(url)
    if s.is_sqlite:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": s.path,
            "SQLITE_LOCK_TIMEOUT": "60",
        }
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": s.dbname,
        "POSTGRES_HOST": s.host,
        "POSTGRES_PORT": str(s.port),
        "POSTGRES_USER": s.user,
        "POSTGRES_PASSWORD": s.password,
        "POSTGRES_SCHEMA": s.schema,
        "POSTGRES_POOL_SIZE": "16",
        "POSTGRES_MAX_OVERFLOW": "16",
    }


def _rate(
    save: Callable[[Entry], Any], events: int, commands: int, writers: int, cpu: list[float]
) -> float:
    """Events per second of wall-clock time; appends to ``cpu`` the events per second of
    this process's CPU time (every thread; SQLite runs in it, PostgreSQL's server does not)."""

    def work(n: int) -> None:
        for _ in range(n):
            save(_aggregate(events))

    work(max(2, commands // 20))  # warm up
    per = commands // writers
    started, cpu_started = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=work, args=(per,)) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu.append(per * writers * events / (time.process_time() - cpu_started))
    return per * writers * events / (time.perf_counter() - started)


ROUNDS = 3
SCENARIOS = (
    ("1-event commands", 1, 3000, 1),
    ("100-event commands", 100, 300, 1),
    ("16 writers, 1-event commands", 1, 3200, 16),
)


def _fresh_urls(backend: str, base: str, tmp: Path) -> tuple[str, str, Callable[[], None]]:
    if backend == "sqlite":
        d = tmp / uuid.uuid4().hex
        d.mkdir()
        return f"sqlite:///{d}/chained.sqlite3", f"sqlite:///{d}/plain.sqlite3", lambda: None
    schemas = [f"b_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    s = parse_storage_url(base)
    conninfo = f"host={s.host} port={s.port} user={s.user} dbname={s.dbname}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{base}?schema={schemas[0]}", f"{base}?schema={schemas[1]}", drop


def bench_backend(
    backend: str, base: str, tmp: Path, *, rounds: int = ROUNDS, only: str | None = None
) -> list[dict[str, Any]]:
    rows = []
    for label, events, commands, writers in SCENARIOS:
        if only is not None and label != only:
            continue
        chained_url, plain_url, drop = _fresh_urls(backend, base, tmp)
        try:
            chained = open_ledger(chained_url, migrate=True)
            signer = registered_signer(chained, "bench")
            plain = PlainApplication(env={**_plain_env(plain_url), "CREATE_TABLE": "y"})
            plain_rates, chained_rates = [], []
            plain_cpu: list[float] = []
            chained_cpu: list[float] = []
            chained_save = partial(chained.save, signer=signer)
            load = [os.getloadavg()]
            for i in range(rounds):  # alternate, so load on a shared machine hits both sides
                if i % 2:
                    chained_rates.append(
                        _rate(chained_save, events, commands, writers, chained_cpu)
                    )
                plain_rates.append(_rate(plain.save, events, commands, writers, plain_cpu))
                if not i % 2:
                    chained_rates.append(
                        _rate(chained_save, events, commands, writers, chained_cpu)
                    )
                load.append(os.getloadavg())
            plain_rate = statistics.median(plain_rates)
            chained_rate = statistics.median(chained_rates)
            report = verify_chain(chained.chain)
            assert report.ok, report.failure
            rows.append(
                {
                    "backend": backend,
                    "scenario": label,
                    "plain_events_per_s": round(plain_rate),
                    "chained_events_per_s": round(chained_rate),
                    "ratio": round(chained_rate / plain_rate, 3),
                    "rounds": rounds,
                    "plain_spread": [round(min(plain_rates)), round(max(plain_rates))],
                    "chained_spread": [round(min(chained_rates)), round(max(chained_rates))],
                    "ratios_per_round": [
                        round(c / p, 3) for c, p in zip(chained_rates, plain_rates, strict=True)
                    ],
                    "process_cpu": {
                        "plain_events_per_cpu_s": round(statistics.median(plain_cpu)),
                        "chained_events_per_cpu_s": round(statistics.median(chained_cpu)),
                        "ratio": round(
                            statistics.median(chained_cpu) / statistics.median(plain_cpu), 3
                        ),
                        "ratios_per_round": [
                            round(c / p, 3) for c, p in zip(chained_cpu, plain_cpu, strict=True)
                        ],
                    },
                    "load_average_1_5_15": [[round(x, 2) for x in row] for row in load],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            chained.close()
            plain.close()
        finally:
            drop()
    return rows


def bench_verify(url: str, events: int, per_command: int) -> dict[str, Any]:
    app = open_ledger(url, migrate=True)
    platform_key = Ed25519Signer.generate()
    app.bootstrap(platform_key)
    signer = Ed25519Signer.generate()
    app.register_key(
        signer.public_key, signer.key_id, actor="bench", role=KeyRole.DEPARTMENT, by=platform_key
    )
    started = time.perf_counter()
    for _ in range(events // per_command):
        app.save(_aggregate(per_command), signer=signer)
    write_s = time.perf_counter() - started
    report = verify_chain(app.chain)
    assert report.ok, report.failure
    app.close()
    row = {
        "log_events": report.checked,
        "events_per_command": per_command,
        "verify_seconds": round(report.seconds, 2),
        "verify_events_per_s": round(report.checked / report.seconds),
        "write_events_per_s": round(events / write_s),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds per side")
    parser.add_argument("--scenario", help="only this scenario, e.g. '100-event commands'")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="caseledger-bench-"))
    out: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }
    try:
        if not args.skip_writes:
            out["writes"] = []
            for backend in args.backends.split(","):
                out["writes"] += bench_backend(
                    backend,
                    args.pg if backend == "postgres" else "",
                    tmp,
                    rounds=args.rounds,
                    only=args.scenario,
                )
        if not args.skip_verify:
            out["verify"] = [
                bench_verify(f"sqlite:///{tmp}/verify-10.sqlite3", args.verify_events, 10),
                bench_verify(
                    f"sqlite:///{tmp}/verify-1.sqlite3", max(1, args.verify_events // 10), 1
                ),
            ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
