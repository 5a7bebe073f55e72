"""Benchmark: a view batch's whole rows into PostgreSQL — ``executemany`` against one ``COPY``.

Run: ``python -m bench.view_writes [--server URL] [--rounds 8] [--rows 3,8,16,85]
[--busy 0,1]`` (about two minutes). The choice ``projections.store.Tx`` makes for a run of
whole-row inserts (``COPY_FROM``): psycopg's ``executemany`` (each row a round of the
pipeline: its messages, a flush and a poll of the socket) or ``COPY … FROM STDIN`` with
``write_row``. Each round writes, for each batch size, 40 transactions of a batch into each
of eight 12-column tables (a view's shape: text and integers), both ways alternating, in a
fresh schema of ``--server``'s database (default ``$CASELEDGER_TEST_PG``, else
``postgresql://root@127.0.0.1:5432/caseledger``), dropped afterwards. ``--busy N`` runs N
Python threads spinning meanwhile, as a serving process's request threads contend for the
interpreter lock (each slows the run several times over). Reports the writing thread's CPU
per row (``time.thread_time``): medians and spreads (min–max) per batch size and busy count,
and the ratio COPY / ``executemany``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.sql import SQL

from bench.http import DEFAULT_PG, PG_ENV, _create_database_if_missing
from bench.rebuild import header

TABLES = 8
COLUMNS = 12
TRANSACTIONS = 40


def rows_of(batch: int, round_: int) -> list[tuple[Any, ...]]:
    """``batch`` rows of a view's shape: a text key, a number, then text and integers."""
    return [
        (f"r{round_}-{i}", i, *[(i * k if k % 2 == 0 else f"值{i}\t{k}") for k in range(10)])
        for i in range(batch)
    ]


def write(conn: psycopg.Connection[Any], way: str, batch: int, tag: str) -> float:
    """Write ``TRANSACTIONS`` batches into every table ``way`` ("executemany" or "copy");
    this thread's CPU seconds."""
    insert = [
        SQL(f"INSERT INTO w{t} VALUES ({', '.join(['%s'] * COLUMNS)})") for t in range(TABLES)
    ]
    copy = [SQL(f"COPY w{t} FROM STDIN") for t in range(TABLES)]
    began = time.thread_time()
    for n in range(TRANSACTIONS):
        rows = [(f"{tag}-{row[0]}", *row[1:]) for row in rows_of(batch, n)]
        with conn.transaction(), conn.cursor() as cur:
            for t in range(TABLES):
                if way == "copy":
                    with cur.copy(copy[t]) as out:
                        for row in rows:
                            out.write_row(row)
                else:
                    cur.executemany(insert[t], rows)
    return time.thread_time() - began


def create_tables(conn: psycopg.Connection[Any]) -> None:
    """The eight tables ``w0`` … ``w7`` in the connection's schema."""
    kinds = ["k TEXT", "n BIGINT"] + [
        f"c{k} {'BIGINT' if k % 2 == 0 else 'TEXT'}" for k in range(10)
    ]
    for t in range(TABLES):
        conn.execute(f"CREATE TABLE w{t} ({', '.join(kinds)}, PRIMARY KEY (k, n))")


@contextmanager
def busy(threads: int) -> Iterator[None]:
    """``threads`` Python threads spinning (holding the interpreter lock in turns)."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(200))

    workers = [threading.Thread(target=spin, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        stop.set()
        for w in workers:
            w.join()


def measure(
    server: str, rounds: int, sizes: Sequence[int], busies: Sequence[int]
) -> dict[str, Any]:
    schema = f"vw_{uuid.uuid4().hex[:10]}"
    _create_database_if_missing(server)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with psycopg.connect(server, autocommit=True, options=f"-c search_path={schema}") as conn:
            create_tables(conn)
            per_row: dict[str, list[float]] = {}
            for r in range(rounds):
                for threads in busies:
                    for batch in sizes:
                        ways = ("executemany", "copy") if r % 2 == 0 else ("copy", "executemany")
                        for way in ways:
                            with busy(threads):
                                cpu = write(conn, way, batch, f"{r}-{threads}-{batch}-{way}")
                            key = f"{way} rows={batch} busy={threads}"
                            per_row.setdefault(key, []).append(
                                1e6 * cpu / (batch * TABLES * TRANSACTIONS)
                            )
                for t in range(TABLES):
                    conn.execute(f"TRUNCATE w{t}")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    out: dict[str, Any] = {"cpu_us_per_row": {}, "copy_over_executemany": {}}
    for key, values in per_row.items():
        out["cpu_us_per_row"][key] = {
            "median": round(statistics.median(values), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
        }
    for threads in busies:
        for batch in sizes:
            tail = f"rows={batch} busy={threads}"
            copy = out["cpu_us_per_row"][f"copy {tail}"]["median"]
            many = out["cpu_us_per_row"][f"executemany {tail}"]["median"]
            out["copy_over_executemany"][tail] = round(copy / many, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--server", default=os.environ.get(PG_ENV) or DEFAULT_PG)
    parser.add_argument("--rows", default="3,8,16,85")
    parser.add_argument("--busy", default="0,1")
    args = parser.parse_args()
    report = header("view_writes")
    sizes = [int(s) for s in args.rows.split(",")]
    busies = [int(b) for b in args.busy.split(",")]
    report.update(measure(args.server.split("?", 1)[0], args.rounds, sizes, busies))
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
