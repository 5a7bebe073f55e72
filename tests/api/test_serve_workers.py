"""``caseledger serve --workers N``: one socket, N real worker processes, one of them following
the log and anchoring; SIGTERM stops them all, a dead worker stops the rest.

Every test starts the real command on port 0 (the chosen port is read from its log) on each
backend, and looks at the worker processes through ``/metrics`` (each worker labels itself
with its index and pid) and ``/proc``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from projections.registry import VIEWS
from tests.anchors.processes import NodeProcess
from tests.api.conftest import PASSPHRASE, ROOT, Served
from tests.api.http_world import World, _setup

WORKER_LINE = re.compile(
    r'caseledger_serve_worker\{background="(true|false)",pid="(\d+)",worker="(\d+)"\}'
)
FROZEN_LINE = re.compile(r"^caseledger_serve_frozen_objects (\S+)$", re.M)
STOP_WAIT = 90.0
"""Bound on how long a stopping server may take (a failing test, never a measured time)."""


@dataclass
class Workers:
    served: Served
    log: Path

    @property
    def parent(self) -> int:
        return self.served.process.pid

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]

    def started(self) -> dict[int, int]:
        """Worker index → pid, from the parent's log."""
        found = (re.search(r"worker (\d+) started \[(\d+)\]", x) for x in self.lines("started"))
        return {int(m[1]): int(m[2]) for m in found if m}

    def wait(self) -> int:
        return self.served.process.wait(timeout=STOP_WAIT)


def start_workers(db: str, tmp: Path, *extra: str, workers: int = 2) -> Workers:
    """``caseledger serve --workers N --port 0``, ready when every worker answers."""
    log = tmp / "serve.log"
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(tmp / "keys"),
    }
    argv = ["serve", "--db", db, "--port", "0", "--workers", str(workers), *extra]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    served = Served("", db, env, process)
    running = Workers(served, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited {process.returncode}: {log.read_text()}")
        port = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", log.read_text())
        if port and len(running.lines("Application startup complete")) == workers:
            served.url = f"http://127.0.0.1:{port[1]}"
            return running
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"serve --workers {workers} did not start: {log.read_text()}")


def stop(running: Workers) -> None:
    if running.served.process.poll() is None:
        running.served.process.terminate()
        try:
            running.wait()
        except subprocess.TimeoutExpired:
            running.served.process.kill()


@pytest.fixture
def two(storage_url: str, tmp_path: Path) -> Iterator[Workers]:
    running = start_workers(storage_url, tmp_path)
    try:
        yield running
    finally:
        stop(running)


def worker_of(client: httpx.Client) -> tuple[int, int, bool]:
    """(index, pid, background) of the worker answering on ``client``'s connection."""
    found = WORKER_LINE.search(client.get("/metrics").text)
    assert found is not None
    return int(found[3]), int(found[2]), found[1] == "true"


def one_client_per_worker(served: Served, token: str, workers: int = 2) -> dict[int, httpx.Client]:
    """A keep-alive client pinned to each worker (new connections until each has answered)."""
    pinned: dict[int, httpx.Client] = {}
    for _ in range(500):
        client = served.client(token)
        index, _, _ = worker_of(client)
        if index in pinned:
            client.close()
        else:
            pinned[index] = client
        if len(pinned) == workers:
            return pinned
    raise AssertionError(f"only workers {sorted(pinned)} answered 500 new connections")


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(x) for x in path.read_text().split()} if path.exists() else set()


def running_pids(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (neither gone nor a zombie)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state not in ("Z", "X"):
            alive.add(pid)
    return alive


def wait_gone(pids: set[int]) -> set[int]:
    deadline = time.monotonic() + STOP_WAIT
    while running_pids(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running_pids(pids)


# --- serving -------------------------------------------------------------------------------


def test_both_workers_answer_on_one_port_and_read_the_shared_read_models(two: Workers) -> None:
    world: World = _setup(two.served)
    pinned = one_client_per_worker(two.served, world.tokens["food"])
    seen = {index: worker_of(client) for index, client in pinned.items()}
    assert {index for index, _, _ in seen.values()} == {0, 1}
    assert {pid for _, pid, _ in seen.values()} == set(two.started().values())
    assert [index for index, _, background in seen.values() if background] == [0]
    assert set(two.started().values()) <= children(two.parent)
    for index, client in pinned.items():
        serial = world.submit()["serial"]  # on any worker
        r = client.get(f"/v1/cases/{serial}")
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "submitted"
        assert worker_of(client)[0] == index  # the same connection, the same worker


def test_a_burst_of_connections_reaching_a_busy_worker_waits_for_it(two: Workers) -> None:
    """Each worker listens on a socket of its own (``SO_REUSEPORT``), so the kernel spreads
    new connections among the workers. With one socket shared by all, a worker busy at that
    moment (here: stopped) got none of a burst — the other accepted every connection waiting
    and kept its keep-alive clients (a balancer's pool, a load test) for good, while the
    busy one idled afterwards. 32 connections are established while worker 1 is stopped."""
    address = ("127.0.0.1", int(two.served.url.rsplit(":", 1)[1]))
    busy = two.started()[1]
    taken = {0: 0, 1: 0}
    os.kill(busy, signal.SIGSTOP)
    try:
        burst = [socket.create_connection(address, timeout=60) for _ in range(32)]
        for conn in burst:
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: ledger\r\nConnection: close\r\n\r\n")
        time.sleep(0.5)  # worker 0 has accepted whatever it was given
    finally:
        os.kill(busy, signal.SIGCONT)
    try:
        for conn in burst:
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
            found = WORKER_LINE.search(answer.decode())
            assert found is not None, answer[:200]
            taken[int(found[3])] += 1
    finally:
        for conn in burst:
            conn.close()
    # Binomial(32, 1/2) below 4 on either side: about one run in a million.
    assert min(taken.values()) >= 4, taken


def test_a_rate_limit_holds_for_the_server_not_for_each_worker(two: Workers) -> None:
    """The public certificate-status query allows an address 2/s with bursts of 30. Each
    worker kept a whole limit of its own, so a client whose connections the kernel spread over
    two workers got twice the burst; now each worker holds half. 120 queries on new
    connections (both workers take some: Binomial(120, 1/2)) may pass at most the burst and
    what the rate refills meanwhile."""
    query = "/kiosk/api/status?subject=GZ20261207000001&hash=" + "ab" * 32
    taken: dict[int, int] = {0: 0, 1: 0}
    passed = refused = 0
    began = time.monotonic()
    for _ in range(120):
        with two.served.client() as client:  # a new connection each time
            r = client.get(query)
            if r.status_code == 200:
                passed += 1
                assert r.json()["status"] == "unknown"
            else:
                assert r.status_code == 429, r.text
                assert int(r.headers["Retry-After"]) >= 1
                refused += 1
            taken[worker_of(client)[0]] += 1
    elapsed = time.monotonic() - began
    assert min(taken.values()) >= 20, taken  # both workers were asked (about 1 in 10^9 not)
    assert refused > 0
    assert passed <= 30 + 2.0 * elapsed + 2, (passed, round(elapsed, 1), taken)


def test_each_worker_freezes_its_start_up_heap_out_of_garbage_collection(two: Workers) -> None:
    """api.serve.heap: a full collection over the start-up heap stopped a worker for 150-320 ms
    under load (docs/BENCHMARKS.md); frozen, the collector skips it."""
    pinned = one_client_per_worker(two.served, "")
    for client in pinned.values():
        found = FROZEN_LINE.search(client.get("/metrics").text)
        assert found is not None
        assert float(found[1]) > 10_000  # modules, the app, its models: far more than this


def test_only_worker_0_follows_the_log_and_starts_the_background_workers(two: Workers) -> None:
    followed = f"serving with {len(VIEWS)} read models following the log"
    assert len(two.lines(followed)) == 1, "worker 0, and only it, follows every view"
    # Each background worker (WORKER_FACTORIES) ran once: each warns that no node is configured.
    assert len(two.lines("no anchor node configured (CASELEDGER_NODE): the log is not")) == 1
    assert len(two.lines("no anchor node configured (CASELEDGER_NODE): ended cases")) == 1
    assert re.search(r"worker 0 \[\d+\] serving \(read-model follower", two.log.read_text())
    with two.served.client() as c:
        ready = c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["anchoring"] == {"configured": False}


def test_the_workers_hold_the_passphrase_in_neither_argv_nor_environment(two: Workers) -> None:
    assert PASSPHRASE in Path(f"/proc/{two.parent}/environ").read_text()  # as it was started
    for pid in two.started().values():
        for name in ("environ", "cmdline"):
            assert PASSPHRASE not in Path(f"/proc/{pid}/{name}").read_text(errors="replace")


def test_every_worker_reports_anchoring_and_serves_the_audit_policy(
    storage_url: str, tmp_path: Path
) -> None:
    node = NodeProcess(tmp_path / "node").start()
    try:
        running = start_workers(storage_url, tmp_path, "--node", node.url)
        try:
            world = _setup(running.served)
            world.submit()
            head = world.chain_head()
            for index, client in one_client_per_worker(
                running.served, world.tokens["auditor"]
            ).items():
                deadline = time.monotonic() + 60
                anchoring: dict[str, object] = {}
                while time.monotonic() < deadline:
                    anchoring = client.get("/readyz").json()["anchoring"]
                    if int(str(anchoring.get("anchored_size", 0))) >= head:
                        break
                    time.sleep(0.2)
                assert anchoring["configured"] is True, (index, anchoring)
                assert int(str(anchoring["anchored_size"])) >= head, (index, anchoring)
                policy = client.get("/v1/audit/policy")
                assert policy.status_code == 200, (index, policy.text)
                assert worker_of(client)[0] == index
        finally:
            stop(running)
    finally:
        node.stop()


# --- stopping ------------------------------------------------------------------------------


def test_sigterm_stops_every_worker_and_the_parent_exits_0(two: Workers) -> None:
    spawned = children(two.parent)
    assert set(two.started().values()) <= spawned
    two.served.process.send_signal(signal.SIGTERM)
    assert two.wait() == 0, two.log.read_text()
    assert wait_gone(spawned) == set()
    assert len(two.lines("Application shutdown complete")) == 2


def test_a_killed_worker_stops_the_others_and_the_parent_exits_non_zero(two: Workers) -> None:
    spawned = children(two.parent)
    workers = two.started()
    os.kill(workers[1], signal.SIGKILL)
    assert two.wait() != 0
    assert wait_gone(spawned) == set()
    assert two.lines(f"worker 1 [{workers[1]}] ended (exit code -9): stopped the others")
    assert len(two.lines("Application shutdown complete")) == 1  # worker 0, gracefully


def test_workers_must_be_at_least_one(sqlite_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--db", sqlite_url, "--workers", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers" in result.stderr


def test_a_second_server_on_a_taken_port_refuses_instead_of_sharing_it(
    two: Workers, tmp_path: Path
) -> None:
    """The workers' ``SO_REUSEPORT`` sockets let processes of one user share a port: a second
    ``serve`` (another ledger, say) must not join the first one's port and take half of its
    connections — it says the port is taken and exits 1, and the first keeps every request."""
    port = int(two.served.url.rsplit(":", 1)[1])
    other = tmp_path / "other"
    other.mkdir()
    env = {**two.served.env, "CASELEDGER_KEYSTORE": str(other / "keys")}
    argv = ["serve", "--db", f"sqlite:///{other / 'other.sqlite3'}", "--port", str(port)]
    second = subprocess.run(
        [sys.executable, "-m", "api.cli", *argv, "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a second server that joined the port would serve until killed
    )
    assert second.returncode == 1, second.stderr
    assert f"cannot bind 127.0.0.1 port {port}" in second.stderr
    assert "in use" in second.stderr
    pids = set()
    for _ in range(20):  # a new connection each: the kernel spreads them over the port's sockets
        with httpx.Client(base_url=two.served.url) as client:
            pids.add(worker_of(client)[1])
    assert pids <= set(two.started().values())


def test_sigterm_while_a_worker_is_still_starting_is_a_clean_stop(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A service manager may stop the server at any moment: SIGTERM as soon as worker 1 is
    spawned (it is still importing, before its own handler is set, and ends on the signal)
    stops everything with exit status 0, not as a failure."""
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(tmp_path / "keys"),
    }
    argv = ["serve", "--db", sqlite_url, "--port", "0", "--workers", "2"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *argv], cwd=ROOT, env=env, stderr=sink
        )
    try:
        deadline = time.monotonic() + 120
        while "worker 1 started" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_WAIT) == 0, log.read_text()
        assert "did not stop cleanly" not in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
