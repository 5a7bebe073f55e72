"""The kiosk verification code reaches the applicant on the application receipt (KIOSK.md
"Verification codes", FZ·6, GZ16·18): the submission's answer carries the code of its serial,
a repeat the same, the chain's idempotency record (which answers the repeat) and the logs
none; and a case submitted over HTTP is then
found at a real ``/kiosk`` with that code — on a real ``caseledger serve``, SQLite and
PostgreSQL."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from api.http.routes_common import IdempotencyStore
from kiosk.codes import SECRET_NAME, verification_code
from ledger.services.application import open_ledger
from ledger.services.idempotency import IdempotencyRecord
from ledger.storage.keystore import Keystore
from ledger.storage.urls import parse_storage_url
from tests.api import http_world
from tests.api.conftest import PASSPHRASE, start_server, stop_server
from tests.api.http_world import World, _setup

world = http_world.world
KIOSK_ID = "GZ-TH-017"


def code_of(world: World, serial: str) -> str:
    """The code as the keystore's secret gives it, computed here independently."""
    keystore = Keystore.open(world.served.env["CASELEDGER_KEYSTORE"], PASSPHRASE)
    return verification_code(keystore.secret(SECRET_NAME, create=False), serial)


def test_the_application_receipt_carries_the_kiosk_code_of_its_serial(world: World) -> None:
    answer = world.submit()
    assert re.fullmatch(r"\d{6}", answer["verification_code"]), answer
    assert answer["verification_code"] == code_of(world, answer["serial"])
    assert answer["document"]["kind"] == "application_receipt"
    assert answer["verification_code"] not in str(answer["document"])  # not in the sealed body


def test_a_repeat_gets_the_same_code_and_the_record_it_is_answered_from_holds_none(
    world: World,
) -> None:
    food = world.as_("food")
    key = str(uuid.uuid4())
    first = food.post("/v1/cases", json=world.submit_body(), headers={"Idempotency-Key": key})
    again = food.post("/v1/cases", json=world.submit_body(), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201, first.text
    assert first.content == again.content
    code = first.json()["verification_code"]
    assert code == code_of(world, first.json()["serial"])
    token_id = world.tokens["food"].split("_")[1]
    # A case command keeps no answer of its own: its repeat is answered from the chain.
    assert IdempotencyStore(parse_storage_url(world.served.db)).get(token_id, key) is None
    ledger = open_ledger(world.served.db)
    try:
        record = ledger.repository.get(IdempotencyRecord.id_for(f"{token_id}:{key}"))
    finally:
        ledger.close()
    assert record.result["serial"] == first.json()["serial"]
    assert code not in repr(record.result)


def test_other_steps_carry_no_code(world: World) -> None:
    serial = world.submit()["serial"]
    step = world.as_("food").post(f"/v1/cases/{serial}/pre-review")
    assert step.status_code == 200, step.text
    assert step.json()["verification_code"] is None


def test_a_case_submitted_over_http_is_found_at_the_kiosk_with_its_code(world: World) -> None:
    made = world.cli(
        "token", "create", "--db", world.served.db, "--role", "kiosk", "--name", KIOSK_ID
    )
    assert made.returncode == 0, made.stderr
    kiosk = world.served.client(made.stdout.strip())
    submitted = kiosk.post("/v1/cases", json=world.submit_body(channel="kiosk"))
    assert submitted.status_code == 201, submitted.text
    serial, code = submitted.json()["serial"], submitted.json()["verification_code"]
    # A case a department submitted for the portal is found the same way, at this kiosk.
    other = world.submit()
    for found_serial, found_code in ((serial, code), (other["serial"], other["verification_code"])):
        page = kiosk.post("/kiosk/query", data={"serial": found_serial, "code": found_code})
        assert page.status_code == 200, page.text
        assert found_serial in page.text
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refused = kiosk.post("/kiosk/query", data={"serial": serial, "code": wrong})
    assert refused.status_code == 404


def test_the_code_is_written_to_no_log(tmp_path: Path) -> None:
    served = start_server(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path / "keys")
    try:
        logged_world = _setup(served)
        answer = logged_world.submit()
    finally:
        stop_server(served)
    assert served.process.stderr is not None
    log = served.process.stderr.read().decode("utf-8", "replace")
    served.process.stderr.close()
    assert "Uvicorn running" in log or "Application startup" in log  # the log was captured
    assert not re.search(rf"(?<!\d){answer['verification_code']}(?!\d)", log), log
