"""A real ``caseledger serve`` fails closed when its database is rolled back (both backends).

The adversary has the database but not the keystore directory: an older copy of the ledger is
restored under the running server (SQLite: the copy written back page by page with SQLite's
backup API, as a restore tool does; PostgreSQL: the tail deleted with SQL), or while it is
down. The server then answers ``/readyz`` 503 naming the finding, refuses every write with an
RFC 9457 problem (``ledger-rolled-back``), keeps answering reads, and logs an ALARM. The
operator accepts the loss with ``caseledger rollback accept``; afterwards no serial number the
lost history gave is given again. The anchor node's whole data directory restored to an
older height stops anchoring and makes the server read-only until the newer node is back.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.demo.attacks import truncate as truncate_chain
from ledger.domain.serials import parse_serial
from ledger.storage.head_state import HeadStateFile, KnownHead
from ledger.storage.urls import parse_storage_url
from tests.anchors.processes import NodeProcess
from tests.api.conftest import Served, run_cli, start_server, stop_server
from tests.api.http_world import FOOD, PDF, case_body, guide, register_applicant

PROBLEM = "application/problem+json"


@dataclass
class City:
    """A served city just big enough to submit cases."""

    served: Served
    admin: str
    food: str
    applicant: str = ""
    material: dict[str, Any] | None = None
    serials: list[str] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        return self.served.client(token)

    def ready(self) -> httpx.Response:
        with self.client() as c:
            return c.get("/readyz")

    def submit(self) -> httpx.Response:
        assert self.material is not None
        with self.client(self.food) as c:
            return c.post("/v1/cases", json=case_body(self.applicant, self.material))

    def submitted(self) -> int:
        """Submit a case; its serial number's counter."""
        r = self.submit()
        assert r.status_code == 201, r.text
        self.serials.append(r.json()["serial"])
        return parse_serial(r.json()["serial"]).counter

    def head(self) -> int:
        return int(self.ready().json()["chain_head"])


def _city(served: Served) -> City:
    city = City(served, served.token("admin"), served.token("department", FOOD))
    with city.client(city.admin) as c:
        r = c.post(
            "/v1/admin/departments", json={"code": FOOD, "name": "市场监督管理局", "city": "广州市"}
        )
        assert r.status_code == 201, r.text
    with city.client(city.food) as c:
        r = c.post("/v1/catalogue/items", json={"guide": guide()})
        assert r.status_code == 201, r.text
        r = c.post("/v1/materials", files={"file": ("a.pdf", PDF, "application/pdf")})
        assert r.status_code == 201, r.text
        city.material = dict(r.json())
        city.applicant = register_applicant(c)
    return city


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def city(storage_url: str, keys: Path) -> Iterator[City]:
    served = start_server(storage_url, keys)
    try:
        city = _city(served)
    except BaseException:
        stop_server(served)
        raise
    try:
        yield city
    finally:
        stop_server(city.served)  # the server the test left running (it may have restarted it)


def _sqlite_copy(url: str, into: Path) -> None:
    """A consistent copy of a live SQLite ledger (what an operator's backup job writes)."""
    source = sqlite3.connect(parse_storage_url(url).path)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _sqlite_write_back(copy: Path, url: str) -> None:
    """Write the copy back over the live file, under the running server."""
    source = sqlite3.connect(copy)
    target = sqlite3.connect(parse_storage_url(url).path, timeout=30)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _wait_for(check: Any, what: str, seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _assert_read_only(city: City, code: str) -> dict[str, Any]:
    ready = city.ready()
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "read-only" and body["reason"] == code
    refused = city.submit()
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith(PROBLEM)
    problem = refused.json()
    assert problem["type"].endswith("/" + code) and problem["status"] == 503
    assert problem["detail"]
    return dict(body)


def test_an_older_copy_restored_under_a_running_serve_is_refused_then_accepted_without_reuse(
    storage_url: str, city: City, tmp_path: Path
) -> None:
    first = city.submitted()
    keep = city.head()
    older = tmp_path / "older.sqlite3"
    if parse_storage_url(storage_url).is_sqlite:
        _sqlite_copy(storage_url, older)
    lost = [city.submitted() for _ in range(3)]
    known = city.head()
    # The server records the head it has seen at least every 0.5 s (the documented window).
    state = HeadStateFile(Path(city.served.env["CASELEDGER_KEYSTORE"]))
    _wait_for(
        lambda: (state.read().head or KnownHead(b"0" * 32, 1, b"0" * 32)).sequence >= known,
        "the head state file to reach the head",
    )
    # The rollback, under the running server.
    if parse_storage_url(storage_url).is_sqlite:
        _sqlite_write_back(older, storage_url)
    else:
        truncate_chain(storage_url, keep=keep)
    # The views, now ahead of the log, may alarm first (503 "unavailable"); the guard's check
    # of the head follows within its window and takes precedence.
    _wait_for(lambda: city.ready().json().get("status") == "read-only", "/readyz read-only")
    body = _assert_read_only(city, "ledger-rolled-back")
    assert f"entries {keep + 1}–" in body["detail"] and "are missing" in body["detail"]
    with city.client(city.food) as c:  # reads keep working
        read = c.get(f"/v1/cases/{city.serials[0]}")
        assert read.status_code == 200 and read.json()["serial"] == city.serials[0]
    assert city.ready().status_code == 503  # and the refusal lasts
    # The operator's procedure: stop, look, decide.
    stop_server(city.served)
    assert city.served.process.stderr is not None
    log = city.served.process.stderr.read().decode()
    assert "ALARM ledger is read-only: ledger-rolled-back" in log
    status = run_cli("rollback", "status", "--db", storage_url, env=city.served.env)
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"entries {keep + 1}–{known}" in status.stdout
    writer = run_cli("backup", "--db", storage_url, "-o", str(tmp_path / "b"), env=city.served.env)
    assert writer.returncode == 2
    assert writer.stderr.count("\n") == 1 and "ledger-rolled-back" in writer.stderr
    accepted = run_cli(
        "rollback", "accept", "--db", storage_url, "--reason", "restored copy", env=city.served.env
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"lost entries {keep + 1}–{known}" in accepted.stdout
    verified = run_cli("verify", "--db", storage_url, env=city.served.env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # Writable again; the day's numbers go on above everything the lost history gave.
    city.served = start_server(storage_url, Path(city.served.env["CASELEDGER_KEYSTORE"]))
    assert city.ready().status_code == 200
    assert city.submitted() > max([first, *lost])


def test_an_older_copy_restored_while_serve_is_down_is_refused_from_the_first_request(
    storage_url: str, keys: Path, tmp_path: Path
) -> None:
    served = start_server(storage_url, keys)
    city = _city(served)
    keep = city.head()
    older = tmp_path / "older.sqlite3"
    sqlite = parse_storage_url(storage_url).is_sqlite
    if sqlite:
        _sqlite_copy(storage_url, older)
    city.submitted()
    city.submitted()
    stop_server(served)  # a clean shutdown records the head it leaves
    if sqlite:
        live = Path(parse_storage_url(storage_url).path)
        for suffix in ("-wal", "-shm"):
            live.with_name(live.name + suffix).unlink(missing_ok=True)
        shutil.copy(older, live)  # a plain file copy, while the server is down
    else:
        truncate_chain(storage_url, keep=keep)
    city.served = start_server(storage_url, keys)
    try:
        _assert_read_only(city, "ledger-rolled-back")
    finally:
        stop_server(city.served)


def test_a_node_restored_to_an_older_height_makes_serve_read_only_until_it_is_back(
    storage_url: str, keys: Path, tmp_path: Path
) -> None:
    node = NodeProcess(tmp_path / "node").start()
    served = start_server(storage_url, keys, "--node", node.url)
    city = City(served, "", "")
    try:

        def anchored() -> int:
            r = city.ready()
            return int(r.json()["anchoring"]["anchored_size"]) if r.status_code == 200 else 0

        _wait_for(lambda: anchored() >= 1, "a first anchor", 30)
        node.stop()
        old = tmp_path / "node-old"
        shutil.copytree(node.data, old)
        node.start()
        city = _city(served)  # more writes, anchored at a later block and recorded in the chain
        before = anchored()
        _wait_for(lambda: anchored() > before, "a later anchor", 30)
        node.stop()
        newer = tmp_path / "node-newer"
        shutil.copytree(node.data, newer)
        shutil.rmtree(node.data)
        shutil.copytree(old, node.data)  # store, HEAD marker and keys together
        node.start()
        _wait_for(lambda: city.ready().json().get("status") == "read-only", "read-only", 30)
        body = _assert_read_only(city, "anchor-node-rolled-back")
        assert "the node was restored to an older state" in body["detail"]
        # The node's operators bring the newer store back: anchoring and writes resume.
        node.stop()
        shutil.rmtree(node.data)
        shutil.copytree(newer, node.data)
        node.start()
        _wait_for(lambda: city.ready().status_code == 200, "/readyz 200 again", 30)
        assert city.submit().status_code == 201
    finally:
        stop_server(city.served)
        node.stop()
    assert served.process.stderr is not None
    assert (
        "ALARM anchoring stopped: anchor-node-rolled-back" in served.process.stderr.read().decode()
    )
