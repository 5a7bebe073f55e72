"""Faults have the right answers: a real ``caseledger serve`` whose database is pulled away.

PostgreSQL: the server runs as a role of its own, so the test kills exactly its backends
(``pg_terminate_backend``) — mid-request, while it waits for a lock the test holds, or idle
between requests — and refuses its connections (``CONNECTION LIMIT 0``: "too many
connections for role"). SQLite: its files are corrupted or removed under it. Every fault is
503 ``storage-unavailable`` with ``Retry-After``, never a 500 or a 4xx refusal; nothing is
recorded half-done, and the client's retry with the same ``Idempotency-Key`` records once
and answers as the first success did.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.domain.identity import resident_id_check_character
from tests.api.conftest import start_server, stop_server
from tests.api.http_world import World, _setup
from tests.api.outage import Outage, in_background, kill_while_waiting, role_storage
from tests.conftest import require_postgres

PROBLEM = "application/problem+json"


def key() -> str:
    return str(uuid.uuid4())


def applicant_body(first17: str) -> dict[str, Any]:
    return {
        "kind": "natural_person",
        "credential_kind": "resident_id",
        "credential": first17 + resident_id_check_character(first17),
        "name": "李四",
        "phone": "13900139000",
        "authentication_level": "advanced",
        "authentication_method": "face",
    }


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == PROBLEM
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["type"].endswith("/storage-unavailable") and body["status"] == 503


def retry_while_unavailable(call: Callable[[], httpx.Response]) -> httpx.Response:
    """What a client does: retry a 503 (sooner than ``Retry-After`` says, to keep tests short)."""
    deadline = time.monotonic() + 30
    while True:
        r = call()
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def topics(world: World, head: int) -> list[list[str]]:
    return [[t.rsplit(".", 1)[-1] for t in c] for c in world.commands_since(head)]


# --- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Outage]]:
    require_postgres()
    with role_storage() as (url, outage):
        served = start_server(url, tmp_path_factory.mktemp("faults") / "keys")
        try:
            yield _setup(served), outage
        finally:
            stop_server(served)


@pytest.mark.postgres
def test_a_backend_killed_mid_command_is_503_and_the_retry_records_once(
    pg: tuple[World, Outage],
) -> None:
    world, outage = pg
    head = world.chain_head()
    same = {"Idempotency-Key": key()}
    body = applicant_body("11010519491231003")
    with outage.locked("subject_keys"), world.served.client(world.tokens["food"]) as food:
        thread, out = in_background(lambda: food.post("/v1/applicants", json=body, headers=same))
        assert kill_while_waiting(outage, thread, every=False) == 1
        thread.join(60)
    assert_unavailable(out[0])
    assert topics(world, head) == []  # nothing half-done

    first = world.as_("food").post("/v1/applicants", json=body, headers=same)
    assert first.status_code == 201, first.text
    again = world.as_("food").post("/v1/applicants", json=body, headers=same)
    assert (again.status_code, again.content) == (201, first.content)
    assert topics(world, head) == [["Registered"]]


@pytest.mark.postgres
def test_a_ledger_write_killed_at_every_attempt_is_503_and_the_retry_submits_once(
    pg: tuple[World, Outage],
) -> None:
    world, outage = pg
    head = world.chain_head()
    same = {"Idempotency-Key": key()}
    with outage.locked("caseledger_events"), world.served.client(world.tokens["food"]) as food:
        thread, out = in_background(
            lambda: food.post("/v1/cases", json=world.submit_body(), headers=same)
        )
        killed = kill_while_waiting(outage, thread, every=True)
        thread.join(60)
    assert killed >= 1
    assert_unavailable(out[0])
    assert topics(world, head) == []

    first = world.as_("food").post("/v1/cases", json=world.submit_body(), headers=same)
    assert first.status_code == 201, first.text
    again = world.as_("food").post("/v1/cases", json=world.submit_body(), headers=same)
    assert (again.status_code, again.content) == (201, first.content)
    assert sum("Submitted" in c for c in topics(world, head)) == 1


@pytest.mark.postgres
def test_backends_killed_between_requests_are_replaced_unnoticed(
    pg: tuple[World, Outage],
) -> None:
    world, outage = pg
    assert outage.kill() >= 1  # every pooled connection, the LISTEN one included
    food = world.as_("food")
    reader = world.as_("supervisor")  # reads every applicant (masked): the vault is used
    assert reader.get(f"/v1/applicants/{world.applicant}").status_code == 200
    serial = world.submit()["serial"]
    outage.kill()
    read = food.get(f"/v1/cases/{serial}")  # the read models kept following the log
    assert read.status_code == 200 and read.json()["serial"] == serial


@pytest.mark.postgres
def test_refused_connections_are_503_and_the_service_recovers_without_a_restart(
    pg: tuple[World, Outage],
) -> None:
    world, outage = pg
    fresh = world.served.token("supervisor")  # not yet seen by the server
    head = world.chain_head()
    same = {"Idempotency-Key": key()}
    body = applicant_body("11010519491231005")
    try:
        with outage.locked("subject_keys"), world.served.client(world.tokens["food"]) as food:
            thread, out = in_background(
                lambda: food.post("/v1/applicants", json=body, headers=same)
            )
            while thread.is_alive() and not outage.waiting():
                time.sleep(0.02)
            outage.refuse()  # the claim it holds cannot be released now
            thread.join(60)
        assert_unavailable(out[0])
        with world.served.client(fresh) as c:  # its token cannot even be looked up
            assert_unavailable(c.get(f"/v1/applicants/{world.applicant}"))
        began = time.monotonic()  # the gate is closed now: no request waits for a pool
        for _ in range(5):
            assert_unavailable(world.as_("supervisor").get(f"/v1/applicants/{world.applicant}"))
        assert time.monotonic() - began < 10
    finally:
        outage.restore()

    first = retry_while_unavailable(
        lambda: world.as_("food").post("/v1/applicants", json=body, headers=same)
    )
    assert first.status_code == 201, first.text  # no leftover claim made it wait or refuse
    again = world.as_("food").post("/v1/applicants", json=body, headers=same)
    assert (again.status_code, again.content) == (201, first.content)
    assert topics(world, head) == [["Registered"]]
    with world.served.client(fresh) as c:
        assert c.get(f"/v1/applicants/{world.applicant}").status_code == 200


def lost_answer_is_found_in_the_chain(world: World, forget: Callable[[], None]) -> None:
    """A case command committed, but its kept HTTP answer is gone (the answer's write met
    the fault): the retry answers from the chain's idempotency record, byte for byte."""
    head = world.chain_head()
    same = {"Idempotency-Key": key()}
    first = world.as_("food").post("/v1/cases", json=world.submit_body(), headers=same)
    assert first.status_code == 201, first.text
    forget()
    again = world.as_("food").post("/v1/cases", json=world.submit_body(), headers=same)
    assert (again.status_code, again.content) == (201, first.content)
    assert sum("Submitted" in c for c in topics(world, head)) == 1


@pytest.mark.postgres
def test_a_committed_case_command_whose_answer_was_lost_answers_the_same(
    pg: tuple[World, Outage],
) -> None:
    world, outage = pg
    table = f'"{outage.schema}".api_idempotency'
    lost_answer_is_found_in_the_chain(world, lambda: outage.admin.execute(f"DELETE FROM {table}"))


# --- SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    db = tmp_path / "ledger" / "ledger.sqlite3"
    served = start_server(f"sqlite:///{db}", tmp_path / "keys")
    try:
        yield _setup(served), db
    finally:
        stop_server(served)


def test_a_corrupted_sqlite_file_is_503_and_the_service_recovers_when_it_is_repaired(
    lite: tuple[World, Path],
) -> None:
    world, db = lite
    head = world.chain_head()
    keys = db.with_name(db.name + ".subject-keys.sqlite3")
    original = keys.read_bytes()[:100]
    same = {"Idempotency-Key": key()}
    body = applicant_body("11010519491231003")
    food = world.as_("food")
    with keys.open("r+b") as f:
        f.write(os.urandom(100))  # "file is not a database"
    try:
        reader = world.as_("supervisor")  # reads every applicant (masked): the vault is used
        assert_unavailable(reader.get(f"/v1/applicants/{world.applicant}"))
        assert_unavailable(food.post("/v1/applicants", json=body, headers=same))
    finally:
        with keys.open("r+b") as f:
            f.write(original)
    assert topics(world, head) == []
    first = food.post("/v1/applicants", json=body, headers=same)
    assert first.status_code == 201, first.text
    assert food.post("/v1/applicants", json=body, headers=same).content == first.content
    assert topics(world, head) == [["Registered"]]


def test_a_removed_ledger_directory_is_503_not_a_refusal(lite: tuple[World, Path]) -> None:
    world, db = lite
    food = world.as_("food")
    shutil.rmtree(db.parent)
    assert_unavailable(world.as_("supervisor").get(f"/v1/applicants/{world.applicant}"))
    # the uploaded material is gone with the directory: the store is missing, not the upload
    assert_unavailable(food.post("/v1/cases", json=world.submit_body()))


def test_a_committed_case_command_whose_answer_was_lost_answers_the_same_on_sqlite(
    lite: tuple[World, Path],
) -> None:
    world, db = lite

    def forget() -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM api_idempotency")

    lost_answer_is_found_in_the_chain(world, forget)
