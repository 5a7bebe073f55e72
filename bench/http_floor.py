"""The floor of bench/http.py's submission: the trivial app's endpoint with the ledger's
irreducible part of a submission and nothing else (``python -m bench.http --floor``).

``POST /v1/cases`` checks a bearer token (constant time), takes the JSON body as the trivial app
does, and saves it as one signed command through the ledger's own chained recorder
(``open_ledger``, group commit, the chain link in the write transaction): the case's event
carrying the body and a serial, and an idempotency record whose id comes from the
``Idempotency-Key`` header, so a repeated key fails at the write as the ledger's does. No rules,
no catalogue, applicant or key look-ups, no numbering, no receipt document, no sealed personal
data, no read models: what goal 1 of issue 18 cannot go below while it keeps signatures, the
chain and idempotency. Same uvicorn settings as ``caseledger serve`` and the trivial app.

Environment: ``BENCH_FLOOR_DB`` (a ledger made by :func:`prepare`), ``BENCH_FLOOR_SEED`` (hex of
the department key's seed), ``BENCH_FLOOR_TOKEN``.
"""

from __future__ import annotations

import hmac
import os
import secrets
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Header, HTTPException

from bench.ledger_writes import registered_signer
from ledger.chain.signing import Ed25519Signer
from ledger.services.application import open_ledger

_IDEMPOTENCY = uuid.UUID("6f6c0e64-6b1f-4c1e-9a52-2f6c6f6f7201")


class FloorCase(Aggregate):
    """A submitted application: the body as it came, and its serial."""

    @event("Submitted")
    def __init__(self, body: dict[str, Any], serial: str) -> None:
        self.body = body
        self.serial = serial


class FloorRequest(Aggregate):
    """An idempotency record: one per key, its id derived from the key."""

    @staticmethod
    def create_id(key: str, case_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(_IDEMPOTENCY, key)

    @event("Recorded")
    def __init__(self, key: str, case_id: uuid.UUID) -> None:
        self.case_id = case_id


def prepare(url: str) -> dict[str, str]:
    """Make the floor's ledger at ``url`` with a platform key and a department key; the
    environment its workers need."""
    ledger = open_ledger(url, migrate=True)
    department = registered_signer(ledger, "dept:FLOOR")
    ledger.close()
    return {
        "BENCH_FLOOR_DB": url,
        "BENCH_FLOOR_SEED": department.seed.hex(),
        "BENCH_FLOOR_TOKEN": secrets.token_urlsafe(32),
    }


app = FastAPI()

if "BENCH_FLOOR_DB" in os.environ:  # a worker; importing the module for tests opens nothing
    _ledger = open_ledger(os.environ["BENCH_FLOOR_DB"])
    _signer = Ed25519Signer(bytes.fromhex(os.environ["BENCH_FLOOR_SEED"]), "dept:FLOOR")
    _expected = f"Bearer {os.environ['BENCH_FLOOR_TOKEN']}".encode()

    @app.post("/v1/cases", status_code=201)
    def submit(
        body: dict[str, Any],
        authorization: str = Header(""),
        idempotency_key: str = Header(..., min_length=1, max_length=200),
    ) -> dict[str, str]:
        if not hmac.compare_digest(authorization.encode(), _expected):
            raise HTTPException(401, "authorization: not a valid token")
        case = FloorCase(body, uuid.uuid4().hex[:12])
        try:
            _ledger.save(case, FloorRequest(idempotency_key, case.id), signer=_signer)
        except IntegrityError:
            raise HTTPException(409, "idempotency_key: already recorded") from None
        return {"id": str(case.id), "serial": case.serial}
