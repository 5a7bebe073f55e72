"""``caseledger serve --read-db``: the read routes on a real streaming hot standby.

A primary and its standby are made for this module (``tests.api.standby``); a real
``caseledger serve --db <primary> --read-db <standby> --workers 2`` runs on loopback, so a
client's write and its read may be answered by different processes. Writes go to the
primary and hand back their WAL position; a read that carries it waits for the standby to
replay it, and reads the primary instead when the standby lags (replay paused) or is stopped.
Which database answered is in ``Caseledger-Read-From``; that the standby really answers is
shown by what it cannot know yet (a case it has not replayed is not found there).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.http.read_side import READ_FROM_HEADER, WRITE_LSN_HEADER, parse_lsn
from tests.api.conftest import PASSPHRASE, run_cli, start_server, stop_server
from tests.api.http_world import FOOD, World, _setup
from tests.api.standby import StreamingPair, start_pair
from tests.api.test_serve_workers import start_workers, stop
from tests.conftest import _pg_base

BACK_WAIT = 60.0
"""Bound on how long reads may take to return to a restarted standby (a failing test)."""


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    made = start_pair()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def world(pair: StreamingPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("replica")
    running = start_workers(pair.primary_url, tmp, "--read-db", pair.standby_url, workers=2)
    try:
        yield _setup(running.served)
    finally:
        stop(running)


def fresh(world: World, who: str) -> httpx.Client:
    """A client with no cookie: it reads its writes only by the header it sends."""
    return world.served.client(world.tokens[who])


def submit(client: httpx.Client, world: World) -> tuple[str, str]:
    """A case submitted through ``client``: its serial and the write's WAL position."""
    r = client.post("/v1/cases", json=world.submit_body())
    assert r.status_code == 201, r.text
    return str(r.json()["serial"]), r.headers[WRITE_LSN_HEADER]


def read_case(client: httpx.Client, serial: str, lsn: str | None = None) -> httpx.Response:
    return client.get(f"/v1/cases/{serial}", headers={WRITE_LSN_HEADER: lsn} if lsn else {})


def test_a_read_after_a_write_sees_it_on_the_standby(world: World) -> None:
    with fresh(world, "food") as writer, fresh(world, "food") as reader:
        serial, lsn = submit(writer, world)
        assert parse_lsn(lsn) > 0
        assert writer.cookies.get("caseledger_write_lsn") == lsn
        r = read_case(reader, serial, lsn)  # another client, the position in the header
        assert r.status_code == 200, r.text
        assert r.headers[READ_FROM_HEADER] == "standby"
        assert r.json()["state"] == "submitted" and r.json()["serial"] == serial
        r = read_case(writer, serial)  # the writer's own cookie carries the position
        assert r.status_code == 200 and r.headers[READ_FROM_HEADER] == "standby"
        assert WRITE_LSN_HEADER not in r.headers  # reads hand back no position


def test_worklists_and_the_audit_reads_come_from_the_standby(world: World) -> None:
    with fresh(world, "food") as writer, fresh(world, "auditor") as auditor:
        serial, lsn = submit(writer, world)
        head = world.chain_head()
        r = auditor.get("/v1/audit/entries", params={"from": head}, headers={WRITE_LSN_HEADER: lsn})
        assert r.status_code == 200 and r.headers[READ_FROM_HEADER] == "standby"
        assert [e["sequence"] for e in r.json()["entries"]] == [head]
        r = auditor.get("/v1/audit/keys", headers={WRITE_LSN_HEADER: lsn})
        assert r.status_code == 200 and r.headers[READ_FROM_HEADER] == "standby"
        assert {k["actor"] for k in r.json()} >= {"platform"}
        r = writer.get(f"/v1/departments/{FOOD}/worklist")
        assert r.status_code == 200 and r.headers[READ_FROM_HEADER] == "standby"
        assert serial in r.text


def test_a_lagging_standby_sends_the_read_to_the_primary(world: World, pair: StreamingPair) -> None:
    pair.pause_replay()
    try:
        with fresh(world, "food") as writer, fresh(world, "food") as reader:
            serial, lsn = submit(writer, world)
            r = read_case(reader, serial, lsn)
            assert r.status_code == 200, r.text  # waited (bounded), then read the primary
            assert r.headers[READ_FROM_HEADER] == "primary"
            # Without the position the standby answers, as far as it has replayed: it has
            # not seen this case, which shows that it is the standby that answers.
            r = read_case(reader, serial)
            assert r.status_code == 404 and r.headers[READ_FROM_HEADER] == "standby"
            metrics = reader.get("/metrics").text  # the reader's connection: the same worker
            assert 'caseledger_reads_total{reason="lagging",source="primary"}' in metrics
    finally:
        pair.resume_replay()
    with fresh(world, "food") as reader:
        r = read_case(reader, serial, lsn)
        assert r.status_code == 200 and r.headers[READ_FROM_HEADER] == "standby"


def test_a_stopped_standby_sends_reads_to_the_primary_until_it_is_back(
    world: World, pair: StreamingPair
) -> None:
    pair.stop_standby()
    try:
        with fresh(world, "food") as writer, fresh(world, "auditor") as auditor:
            serial, lsn = submit(writer, world)
            r = read_case(writer, serial, lsn)
            assert r.status_code == 200, r.text
            assert r.headers[READ_FROM_HEADER] == "primary"
            r = auditor.get("/v1/audit/keys")
            assert r.status_code == 200 and r.headers[READ_FROM_HEADER] == "primary"
            metrics = writer.get("/metrics").text
            assert 'caseledger_reads_total{reason="unreachable",source="primary"}' in metrics
    finally:
        pair.start_standby()
    deadline = time.monotonic() + BACK_WAIT
    with fresh(world, "food") as reader:
        while True:
            r = read_case(reader, serial, lsn)
            assert r.status_code == 200, r.text
            if r.headers[READ_FROM_HEADER] == "standby" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert r.headers[READ_FROM_HEADER] == "standby"


def test_a_position_that_is_not_one_is_refused_naming_the_header(world: World) -> None:
    with fresh(world, "food") as reader:
        r = reader.get(f"/v1/departments/{FOOD}/worklist", headers={WRITE_LSN_HEADER: "12;34"})
    assert r.status_code == 422
    assert r.json()["field"] == WRITE_LSN_HEADER and WRITE_LSN_HEADER in r.json()["detail"]


def test_a_read_side_that_is_not_a_replica_of_the_ledger_is_refused(
    pair: StreamingPair, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE}
    keys = str(tmp_path / "keys")
    other = _pg_base()  # the machine's own server: another cluster altogether
    done = run_cli(
        "serve",
        "--db",
        pair.primary_url,
        "--read-db",
        other,
        "--port",
        "0",
        "--keystore",
        keys,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--read-db" in done.stderr and "is not a replica of --db" in done.stderr
    sqlite = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    done = run_cli("serve", "--db", sqlite, "--read-db", pair.standby_url, env=env, timeout=60)
    assert done.returncode != 0
    assert "--read-db: a read side is a PostgreSQL hot standby" in done.stderr


def test_a_standby_down_at_start_is_checked_and_read_once_it_answers(
    pair: StreamingPair, tmp_path: Path
) -> None:
    pair.sql(pair.primary_port, "CREATE DATABASE late", "postgres")
    pair.stop_standby()
    served = None
    try:
        served = start_server(
            pair.url(pair.primary_port, "late"),
            tmp_path / "keys",
            "--read-db",
            pair.url(pair.standby_port, "late"),
        )  # it starts: the standby is checked once it answers
        auditor = served.client(served.token("auditor"))
        r = auditor.get("/v1/audit/keys")
        assert r.status_code == 200, r.text
        assert r.headers[READ_FROM_HEADER] == "primary"
        pair.start_standby()
        deadline = time.monotonic() + BACK_WAIT
        while r.headers[READ_FROM_HEADER] != "standby" and time.monotonic() < deadline:
            time.sleep(0.2)
            r = auditor.get("/v1/audit/keys")
            assert r.status_code == 200, r.text
        assert r.headers[READ_FROM_HEADER] == "standby"
        assert {k["actor"] for k in r.json()} >= {"platform"}
        auditor.close()
    finally:
        if not (pair.directory / "standby" / "postmaster.pid").exists():
            pair.start_standby()
        if served is not None:
            stop_server(served)
