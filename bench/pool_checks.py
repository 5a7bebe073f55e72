"""Benchmark: what self-healing pools cost (``ledger.storage.pg_pool.heal``).

Run: ``python -m bench.pool_checks [--pg URL] [--rounds N] [--ops N]``. A healed pool runs an
empty statement on every borrowed connection (so a connection whose backend was killed is
replaced instead of failing the request). Measured on PostgreSQL, healed and unchecked rounds
alternated and the medians taken: (1) one pooled borrowing with ``SELECT 1``; (2) one-event
chained, signed ledger commands (the ledger's eventsourcing pool). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.domain import Aggregate, event
from psycopg_pool import ConnectionPool

from ledger.chain.signing import Ed25519Signer
from ledger.services.application import open_ledger
from ledger.storage import pg_pool
from ledger.storage.urls import parse_storage_url


class Mark(Aggregate):
    @event("Made")
    def __init__(self, n: int) -> None:
        self.n = n


def _unchecked(target: Any) -> None:
    found = getattr(target, "pool", target)
    if isinstance(found, ConnectionPool):
        found._check = None


def _rate(op: Callable[[], None], ops: int) -> float:
    began = time.perf_counter()
    for _ in range(ops):
        op()
    return ops / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    base = parse_storage_url(args.pg)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        rows = _measure(f"{args.pg}?schema={schema}", args.rounds, args.ops)
    finally:
        with psycopg.connect(base.conninfo, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print("| operation | unchecked /s | healed /s | ratio |")
    print("|---|---:|---:|---:|")
    for name, plain, healed in rows:
        print(f"| {name} | {plain:,.0f} | {healed:,.0f} | {healed / plain:.2f} |")


def _measure(url: str, rounds: int, ops: int) -> list[tuple[str, float, float]]:
    storage = parse_storage_url(url)
    healed_pool = pg_pool.pool(storage.conninfo)
    plain_pool = pg_pool.pool(storage.conninfo, search_path="public")  # the same, another key
    _unchecked(plain_pool)

    def borrow(found: ConnectionPool[Any]) -> Callable[[], None]:
        def op() -> None:
            with found.connection() as conn:
                conn.execute("SELECT 1")

        return op

    ledger = open_ledger(url, migrate=True)
    platform = Ed25519Signer.generate("platform")
    ledger.bootstrap(platform)
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]

    def command() -> None:
        ledger.save(Mark(n=1), signer=platform)

    results: dict[str, list[float]] = {k: [] for k in ("b0", "b1", "c0", "c1")}
    for _ in range(rounds):
        results["b0"].append(_rate(borrow(plain_pool), ops))
        results["b1"].append(_rate(borrow(healed_pool), ops))
        _unchecked(datastore)
        results["c0"].append(_rate(command, ops // 4))
        pg_pool.heal(datastore)
        results["c1"].append(_rate(command, ops // 4))
    ledger.close()
    pg_pool.close_all()
    med = {k: statistics.median(v) for k, v in results.items()}
    return [
        ("pooled borrowing + `SELECT 1`", med["b0"], med["b1"]),
        ("1-event chained command", med["c0"], med["c1"]),
    ]


if __name__ == "__main__":
    main()
