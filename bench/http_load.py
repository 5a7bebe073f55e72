"""Load client for bench/http.py: its own process, raw HTTP/1.1 keep-alive over asyncio.

A general-purpose async HTTP client spent more CPU per request than the server it measured,
so this client writes requests and reads ``Content-Length`` bodies itself. Bounded in count
and time; loopback only.

Usage: python -m bench.http_load submit BASE TOKEN PAYLOAD_JSON COUNT CONCURRENCY
       python -m bench.http_load progress BASE TOKEN SERIALS_JSON RATE SECONDS
       python -m bench.http_load get BASE TOKEN PATHS_JSON RATE SECONDS   (TOKEN "-": none)
Prints one JSON line with throughput and latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlsplit


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


class Connection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        assert self.reader is not None
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        if length:
            await self.reader.readexactly(length)
        return status


async def submit(base: str, token: str, payload: dict, count: int, concurrency: int) -> dict:
    url = urlsplit(base)
    body = json.dumps(payload).encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = [count]

    async def worker() -> None:
        conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        while remaining[0] > 0:
            remaining[0] -= 1
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            }
            began = time.perf_counter()
            status = await conn.request("POST", "/v1/cases", headers, body)
            latencies.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
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
    """GET each case's progress at a fixed rate (see :func:`get`)."""
    out = await get(base, token, [f"/v1/cases/{s}" for s in serials], rate, seconds)
    return {**out, "kind": "progress"}


async def get(base: str, token: str, paths: list[str], rate: float, seconds: float) -> dict:
    """Open loop at a fixed rate: a request is sent at its scheduled time on a free connection."""
    url = urlsplit(base)
    headers = {"Authorization": f"Bearer {token}"} if token != "-" else {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * seconds)
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(Connection(url.hostname or "127.0.0.1", url.port or 80))

    async def one(scheduled: float, path: str) -> None:
        conn = await pool.get()
        try:
            status = await conn.request("GET", path, headers)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)  # includes any queueing delay
        statuses[status] = statuses.get(status, 0) + 1

    began = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = began + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, paths[i % len(paths)])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    return {
        "kind": "get",
        "rate": rate,
        "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "p50_ms": round(_pct(latencies, 50), 2),
        "p99_ms": round(_pct(latencies, 99), 2),
        "statuses": statuses,
    }


def main() -> None:
    kind, base, token = sys.argv[1:4]
    if kind == "submit":
        out = asyncio.run(
            submit(base, token, json.loads(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        )
    else:
        run = progress if kind == "progress" else get
        out = asyncio.run(
            run(base, token, json.loads(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
