"""Load client for bench/http.py: runs in its own process, bounded in count and time.

Usage: python -m bench.http_load submit BASE TOKEN PAYLOAD_JSON COUNT CONCURRENCY
       python -m bench.http_load progress BASE TOKEN SERIALS_JSON RATE SECONDS
Prints one JSON line with throughput and latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid

import httpx


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def submit(base: str, token: str, payload: dict, count: int, concurrency: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            began = time.perf_counter()
            r = await client.post(
                "/v1/cases", json=payload, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
            )
            latencies.append(time.perf_counter() - began)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    return {
        "kind": "submit",
        "count": count,
        "concurrency": concurrency,
        "commands_per_s": round(count / seconds, 1),
        "p50_ms": round(_pct(latencies, 50), 2),
        "p99_ms": round(_pct(latencies, 99), 2),
        "statuses": statuses,
    }


async def progress(base: str, token: str, serials: list[str], rate: float, seconds: float) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * seconds)

    async def one(client: httpx.AsyncClient, serial: str) -> None:
        began = time.perf_counter()
        r = await client.get(f"/v1/cases/{serial}", headers=headers)
        latencies.append(time.perf_counter() - began)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    async with httpx.AsyncClient(
        base_url=base, timeout=30, limits=httpx.Limits(max_connections=200)
    ) as client:
        began = time.perf_counter()
        tasks = []
        for i in range(total):  # open loop at a fixed rate
            target = began + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, serials[i % len(serials)])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return {
        "kind": "progress",
        "rate": rate,
        "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "p50_ms": round(_pct(latencies, 50), 2),
        "p99_ms": round(_pct(latencies, 99), 2),
        "mean_ms": round(statistics.mean(latencies) * 1000, 2),
        "statuses": statuses,
    }


def main() -> None:
    kind, base, token = sys.argv[1:4]
    if kind == "submit":
        payload = json.loads(sys.argv[4])
        out = asyncio.run(submit(base, token, payload, int(sys.argv[5]), int(sys.argv[6])))
    else:
        serials = json.loads(sys.argv[4])
        out = asyncio.run(progress(base, token, serials, float(sys.argv[5]), float(sys.argv[6])))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
