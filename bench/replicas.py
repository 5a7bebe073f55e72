"""Benchmark: reads on a streaming hot standby (``serve --read-db``) beside reads on the primary.

Run: ``python -m bench.replicas [--submit N] [--concurrency C] [--rate R] [--seconds S]
[--pairs P]``. Makes a primary and a streaming standby on this machine (``tests.api.standby``:
initdb, pg_basebackup -R, two loopback ports), then runs ``caseledger serve --workers 1`` on the
primary twice in turn — without a read side, then with ``--read-db <standby>`` — and for each:

- N case submissions from C concurrent clients (bench/http_load.py), while a sampler measures
  the standby's replay lag: the time from a WAL position on the primary to its replay;
- progress GETs offered at a fixed R req/s for S seconds, R above what one worker can answer,
  so the achieved rate is one worker's capacity;
- P write-then-read pairs by one client: ``POST /v1/cases``, then ``GET /v1/cases/{serial}``
  sending back the write's ``Caseledger-Write-LSN`` (read-your-writes): the read's latency and
  which database answered it.

The CPU time the serve process and each PostgreSQL server used in each phase is read from
``/proc``, so the report gives CPU per request (what a core buys) beside the rates, which the
machine's other load moves. Bounded in count and time; loopback only.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.http import PASSPHRASE, run_load_client, set_up_served, spawn_cli, wait_until_up
from tests.api.conftest import free_port
from tests.api.standby import StreamingPair, start_pair

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants, in seconds."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(x) for x in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def postmaster(pair: StreamingPair, name: str) -> int:
    return int((pair.directory / name / "postmaster.pid").read_text().split()[0])


class Meter:
    """CPU used by the serve process and by each server between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.began: dict[str, float] = {}

    def start(self) -> None:
        self.began = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {n: cpu_seconds(pid) - self.began[n] for n, pid in self.pids.items()}


class LagSampler(threading.Thread):
    """Every 20 ms: the primary's WAL position now, then how long the standby takes to replay
    it (polled every 0.5 ms), in milliseconds."""

    def __init__(self, pair: StreamingPair) -> None:
        super().__init__(daemon=True)
        self.pair, self.halt = pair, threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        primary, standby = (
            psycopg.connect(
                host="127.0.0.1", port=port, user="root", dbname="postgres", autocommit=True
            )
            for port in (self.pair.primary_port, self.pair.standby_port)
        )
        with primary, standby:
            while not self.halt.is_set():
                row = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
                began = time.perf_counter()
                while not self.halt.is_set():
                    done = standby.execute(
                        "SELECT pg_last_wal_replay_lsn() >= %s", (row[0] if row else "0/0",)
                    ).fetchone()
                    if done and done[0]:
                        self.samples.append((time.perf_counter() - began) * 1000)
                        break
                    time.sleep(0.0005)
                time.sleep(0.02)

    def report(self) -> dict[str, Any]:
        self.halt.set()
        self.join(10)
        ordered = sorted(self.samples)
        if not ordered:
            return {"samples": 0}
        return {
            "samples": len(ordered),
            "p50_ms": round(ordered[len(ordered) // 2], 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)], 2),
            "max_ms": round(ordered[-1], 2),
        }


def write_then_read(
    base: str, token: str, payload: dict[str, Any], pairs: int, serials: list[str] | None = None
) -> dict[str, Any]:
    """``pairs`` times: submit, then read the case back sending the write's position (the
    serials submitted are added to ``serials``)."""
    latencies: list[float] = []
    sources: dict[str, int] = {}
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=base, timeout=60) as c:
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(pairs):
            r = c.post(
                "/v1/cases", json=payload, headers={**auth, "Idempotency-Key": str(uuid.uuid4())}
            )
            r.raise_for_status()
            headers = dict(auth)
            if "Caseledger-Write-LSN" in r.headers:
                headers["Caseledger-Write-LSN"] = r.headers["Caseledger-Write-LSN"]
            began = time.perf_counter()
            serial = r.json()["serial"]
            if serials is not None:
                serials.append(serial)
            read = c.get(f"/v1/cases/{serial}", headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[read.status_code] = statuses.get(read.status_code, 0) + 1
            source = read.headers.get("Caseledger-Read-From", "primary (no read side)")
            sources[source] = sources.get(source, 0) + 1
    latencies.sort()
    return {
        "pairs": pairs,
        "read_p50_ms": round(statistics.median(latencies), 2),
        "read_p99_ms": round(latencies[int(len(latencies) * 0.99)], 2),
        "read_from": sources,
        "statuses": statuses,
    }


def phase(
    pair: StreamingPair,
    env: dict[str, str],
    args: argparse.Namespace,
    read_side: bool,
    prepared: dict[str, Any],
) -> dict[str, Any]:
    port = free_port()
    extra = ["--read-db", pair.standby_url] if read_side else []
    server = spawn_cli(env, "serve", "--port", str(port), "--workers", "1", *extra)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        wait_until_up(f"{base}/healthz", server)
        if not prepared:
            dept, payload = set_up_served(base, env)
            serials: list[str] = []
            write_then_read(base, dept, payload, 100, serials)  # the cases the GETs read
            prepared.update(dept=dept, payload=payload, serials=serials)
        dept, payload, serials = prepared["dept"], prepared["payload"], prepared["serials"]
        meter = Meter(
            {
                "serve": server.pid,
                "primary": postmaster(pair, "primary"),
                "standby": postmaster(pair, "standby"),
            }
        )
        sampler = LagSampler(pair)
        sampler.start()
        meter.start()
        out["submit"] = run_load_client(
            "submit", base, dept, json.dumps(payload), str(args.submit), str(args.concurrency)
        )
        out["submit"]["cpu_ms_per_request"] = per_request(meter.stop(), args.submit)
        out["replay_lag_during_submissions"] = sampler.report()
        pair.wait_replayed()
        time.sleep(1.0)  # the views catch up on the primary and replay on the standby
        meter.start()
        out["progress"] = run_load_client(
            "progress", base, dept, json.dumps(serials), str(args.rate), str(args.seconds)
        )
        out["progress"]["cpu_ms_per_request"] = per_request(
            meter.stop(), int(args.rate * args.seconds)
        )
        out["write_then_read"] = write_then_read(base, dept, payload, args.pairs)
    finally:
        server.terminate()
        server.wait(30)
    return out


def per_request(used: dict[str, float], count: int) -> dict[str, float]:
    return {name: round(seconds * 1000 / count, 3) for name, seconds in used.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submit", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_before": os.getloadavg(),
    }
    pair = start_pair()
    keys = Path(tempfile.mkdtemp(prefix="caseledger-replicas-bench-"))
    try:
        env = {
            **os.environ,
            "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
            "CASELEDGER_KEYSTORE": str(keys / "keys"),
            "CASELEDGER_DB": pair.primary_url,
        }
        prepared: dict[str, Any] = {}
        report["primary_only"] = phase(pair, env, args, False, prepared)
        report["with_read_side"] = phase(pair, env, args, True, prepared)
    finally:
        pair.close()
        shutil.rmtree(keys, ignore_errors=True)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
