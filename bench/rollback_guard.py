"""Benchmark: what failing closed on rollback costs (docs/BENCHMARKS.md).

Run: ``python -m bench.rollback_guard [--db URL] [--rounds N] [--quiet N] [--busy N]
[--threads T]``. Starts a real ``caseledger serve`` on a fresh ledger (default: a fresh
PostgreSQL schema), sets a department, an item and an applicant up over HTTP (as bench/http.py
does), stops it, then measures in-process through the application services:

- one head-state-file update (write temp + fsync + rename + fsync of the directory): what a
  guard tick that advances the head, and every serial-number reservation, pays;
- one guard tick (compare the log with the file and advance it): what ``serve`` pays every
  0.5 s;
- the write gate's check (every save);
- case submissions with the serial floors (reservations recorded before their command) against
  the same submissions without them, in alternating rounds of the same run: one submitter at a
  time (every submission reserves its own number, so every one writes the file) and ``T``
  concurrent submitters (numbers come in blocks, so one write serves many submissions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.http import bench_ledger, set_up_served, spawn_cli, submit_in_process, wait_until_up
from tests.api.conftest import free_port


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(samples[len(samples) // 2] * 1000, 3),
        "p99_ms": round(samples[int(len(samples) * 0.99)] * 1000, 3),
    }


def _timed(action: Callable[[], Any], count: int) -> list[float]:
    out = []
    for _ in range(count):
        began = time.perf_counter()
        action()
        out.append(time.perf_counter() - began)
    return out


def _serve_and_setup(env: dict[str, str]) -> dict[str, Any]:
    port = free_port()
    server = spawn_cli(env, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", server)
        return set_up_served(base, env)[1]
    finally:
        server.terminate()
        server.wait(30)


def measure(env: dict[str, str], payload: dict[str, Any], args: argparse.Namespace) -> Any:
    os.environ.update(env)
    from api.bootstrap import open_runtime
    from api.http.schemas import CaseCreate
    from api.services import build_services
    from api.settings import load_settings
    from ledger.services.numbering import SerialNumbering
    from ledger.storage.head_state import HeadStateFile

    runtime = open_runtime(load_settings())
    services = build_services(runtime)
    body = CaseCreate.model_validate(payload)
    signer = runtime.keystore.current_signer("dept:GZ-SCJG")
    guard = runtime.guard
    out: dict[str, Any] = {}

    scratch = HeadStateFile(Path(tempfile.mkdtemp(prefix="caseledger-head-")))
    numbers = itertools.count(1)
    day = dt.date(2026, 11, 23)
    out["state_file_update"] = _percentiles(  # lock, read, raise one floor, write, fsync
        _timed(
            lambda: scratch.update(lambda s: s.with_serial("GZ-SCJG", day, next(numbers), day)),
            500,
        )
    )
    out["guard_tick"] = _percentiles(_timed(guard.tick, 300))
    gate = _timed(guard.require_writable, 100_000)
    out["write_gate_ns"] = round(statistics.median(gate) * 1e9)

    def submit() -> None:
        submit_in_process(services, body, signer)

    def rate(count: int, threads: int) -> float:
        began = time.perf_counter()
        if threads == 1:
            for _ in range(count):
                submit()
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda _: submit(), range(count)))
        return count / (time.perf_counter() - began)

    with_floors = services.cases.numbering
    without = SerialNumbering()
    rounds: dict[str, list[float]] = {}
    submit()  # warm caches
    for _ in range(args.rounds):
        for label, numbering in (("without", without), ("with", with_floors)):
            services.cases.numbering = numbering
            rounds.setdefault(f"quiet_{label}", []).append(rate(args.quiet, 1))
            rounds.setdefault(f"busy_{label}", []).append(rate(args.busy, args.threads))
    for key, values in rounds.items():
        out[f"{key}_per_s"] = round(statistics.median(values), 1)
    for kind in ("quiet", "busy"):
        out[f"{kind}_ratio"] = round(out[f"{kind}_with_per_s"] / out[f"{kind}_without_per_s"], 3)
    runtime.close()
    shutil.rmtree(scratch.directory, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet", type=int, default=150)
    parser.add_argument("--busy", type=int, default=400)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    with bench_ledger(args.db, "g", "caseledger-guard-bench-") as (db, env):
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "db": "postgresql" if "postgresql" in db else "sqlite",
            "load_before": os.getloadavg(),
        }
        payload = _serve_and_setup(env)
        report.update(measure(env, payload, args))
        report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
