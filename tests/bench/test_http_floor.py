"""bench/http_floor.py is the floor goal 1 of issue 18 is measured against, so it must keep
what it claims: a real ``uvicorn`` worker that refuses a wrong token, saves each submission
as a signed, chained command (the chain verifies) and refuses a repeated idempotency key."""

from __future__ import annotations

import uuid

import httpx
import pytest

from bench.http import spawn_app, wait_until_up
from bench.http_floor import prepare
from ledger.chain.verification import verify_chain
from ledger.services.application import open_ledger
from tests.api.conftest import free_port

pytestmark = pytest.mark.postgres


def test_floor_submissions_are_signed_chained_and_idempotent(pg_schema_url: str) -> None:
    env = prepare(pg_schema_url)
    port = free_port()
    app = spawn_app("bench.http_floor:app", env, port, 1)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/docs", app)
        token = {"Authorization": f"Bearer {env['BENCH_FLOOR_TOKEN']}"}
        body = {"item_code": "GZ-SCJG-SPJY-001", "materials": [{"code": "APPLICATION"}]}
        with httpx.Client(base_url=base, timeout=30) as c:
            refused = c.post(
                "/v1/cases",
                json=body,
                headers={"Authorization": "Bearer wrong", "Idempotency-Key": "k0"},
            )
            assert refused.status_code == 401
            serials = []
            for _ in range(3):
                r = c.post(
                    "/v1/cases", json=body, headers={**token, "Idempotency-Key": str(uuid.uuid4())}
                )
                assert r.status_code == 201, r.text
                serials.append(r.json()["serial"])
            again = c.post("/v1/cases", json=body, headers={**token, "Idempotency-Key": "same"})
            assert again.status_code == 201
            repeat = c.post("/v1/cases", json=body, headers={**token, "Idempotency-Key": "same"})
            assert repeat.status_code == 409
            assert "idempotency_key" in repeat.text
    finally:
        app.terminate()
        app.wait(30)
    assert len(set(serials)) == 3
    ledger = open_ledger(pg_schema_url)
    try:
        report = verify_chain(ledger.chain)
        assert report.ok, report.failure
        head = ledger.chain.chain_head()
        assert head is not None
        # bootstrap and key registration, then two events (case, idempotency record) for
        # each of the four submissions that were recorded
        assert head.command_size == 2
        entries = ledger.chain.select_entries(1, 1000)
        floor_entries = [e for e in entries if e.topic.startswith("bench.http_floor:")]
        assert len(floor_entries) == 8
        assert {e.command_size for e in floor_entries} == {2}
    finally:
        ledger.close()
