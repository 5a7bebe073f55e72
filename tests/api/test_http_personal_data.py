"""Least privilege for applicants' personal data over HTTP (GZ20·25, NH·23, GZ16·21).

A department reads an applicant only while it holds a case of theirs or a grant; anything
else answers 404 with the body of another department's case. ``X-Purpose`` must be
printable UTF-8 text of at most 200 characters, else 422 naming it. Refusals record
nothing; every clear read is recorded with its purpose and basis. Against a real
``caseledger serve``, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import httpx
import pytest

from ledger.domain.access import PersonalDataAccess, PersonalDataGrant
from ledger.domain.identity import resident_id_check_character
from ledger.services.application import open_ledger
from tests.api import http_world
from tests.api.http_world import TRANSPORT, World

world = http_world.world  # the served city, one per backend and module
PROBLEM = "application/problem+json"
PURPOSE = {"X-Purpose": quote("核对申请人身份（受理审查）")}
CLEAR = {"unmasked": "true"}
_serial = itertools.count(100)


def fresh_applicant(world: World) -> str:
    first17 = f"11010519491231{next(_serial):03d}"
    return world.register_applicant(first17 + resident_id_check_character(first17))


def recorded(world: World, head: int, topic: str) -> list[Any]:
    """The aggregates of the events with ``topic`` recorded after chain entry ``head``."""
    found = world.as_("auditor").get("/v1/audit/entries", params={"from": head + 1}).json()
    ids = [e["originator_id"] for e in found["entries"] if e["topic"].endswith(topic)]
    ledger = open_ledger(world.served.db)
    try:
        return [ledger.repository.get(UUID(i)) for i in ids]
    finally:
        ledger.close()


def another_departments_case(world: World) -> httpx.Response:
    serial = world.submit()["serial"]
    return world.as_("transport").get(f"/v1/cases/{serial}")


def test_a_department_without_a_case_of_the_applicant_cannot_tell_it_exists(
    world: World,
) -> None:
    applicant = fresh_applicant(world)
    world.submit(applicant=applicant)  # food holds a case; transport does not
    reference = another_departments_case(world)
    assert reference.status_code == 404
    head = world.chain_head()
    transport = world.as_("transport")
    answers = [
        transport.get(f"/v1/applicants/{applicant}"),
        transport.get(f"/v1/applicants/{applicant}", params=CLEAR, headers=PURPOSE),
        transport.get(f"/v1/applicants/{uuid4()}", params=CLEAR, headers=PURPOSE),
        world.as_("stranger").get(f"/v1/applicants/{applicant}", params=CLEAR, headers=PURPOSE),
    ]
    for r in answers:
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert r.content == reference.content  # the same body, byte for byte
    assert world.chain_head() == head  # nothing recorded


def test_the_department_holding_a_case_reads_clear_data_and_the_read_is_recorded(
    world: World,
) -> None:
    applicant = fresh_applicant(world)
    food = world.as_("food")
    assert food.get(f"/v1/applicants/{applicant}").status_code == 404  # no case yet
    serial = world.submit(applicant=applicant)["serial"]
    masked = food.get(f"/v1/applicants/{applicant}").json()
    assert masked["unmasked"] is False and masked["name"] == "张*丰"
    head = world.chain_head()
    r = food.get(f"/v1/applicants/{applicant}", params=CLEAR, headers=PURPOSE)
    assert r.status_code == 200, r.text
    assert r.json()["unmasked"] is True and r.json()["name"] == "张三丰"
    (read,) = recorded(world, head, "PersonalDataRead")
    assert isinstance(read, PersonalDataAccess)
    assert read.subject_id == UUID(applicant) and read.basis == f"case:{serial}"
    assert read.purpose == "核对申请人身份（受理审查）" and read.reader_department == "GZ-SCJG"


@pytest.mark.parametrize(
    ("purpose", "code"),
    [
        (None, "purpose-required"),
        ("%20%20", "purpose-required"),
        ("check%00identity", "invalid-purpose"),
        ("bell%07", "invalid-purpose"),
        ("%E2%80%AEexe.pdf", "invalid-purpose"),  # a right-to-left override
        ("%FF%FEnot-utf8", "purpose-invalid-utf8"),
        ("%E6%A0", "purpose-invalid-utf8"),  # a cut UTF-8 sequence
        ("x" * 201, "invalid-purpose"),
        (quote("核") * 201, "invalid-purpose"),
    ],
)
def test_a_bad_purpose_is_422_naming_x_purpose_and_records_nothing(
    world: World, purpose: str | None, code: str
) -> None:
    applicant = fresh_applicant(world)
    world.submit(applicant=applicant)
    head = world.chain_head()
    headers = {} if purpose is None else {"X-Purpose": purpose}
    r = world.as_("food").get(f"/v1/applicants/{applicant}", params=CLEAR, headers=headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "X-Purpose" and body["type"].endswith(f"/{code}")
    assert body["rule"] == "GZ20·25" and body["detail"].startswith("X-Purpose: ")
    assert world.chain_head() == head


def test_an_over_long_raw_purpose_header_is_422_naming_it(world: World) -> None:
    applicant = fresh_applicant(world)
    world.submit(applicant=applicant)
    head = world.chain_head()
    r = world.as_("food").get(
        f"/v1/applicants/{applicant}", params=CLEAR, headers={"X-Purpose": "y" * 2401}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "X-Purpose"
    assert world.chain_head() == head


def test_supervisors_and_admins_read_masked_data_only(world: World) -> None:
    applicant = fresh_applicant(world)
    reference = another_departments_case(world)
    head = world.chain_head()
    for who in ("supervisor", "admin"):
        client = world.as_(who)
        masked = client.get(f"/v1/applicants/{applicant}")
        assert masked.status_code == 200 and masked.json()["name"] == "张*丰"
        clear = client.get(f"/v1/applicants/{applicant}", params=CLEAR, headers=PURPOSE)
        assert (clear.status_code, clear.content) == (404, reference.content)
    for who in ("kiosk", "auditor", "archivist"):
        assert world.as_(who).get(f"/v1/applicants/{applicant}").status_code == 403
    assert world.chain_head() == head


def test_a_supervisors_grant_lets_one_department_read_and_the_read_names_the_grant(
    world: World,
) -> None:
    applicant = fresh_applicant(world)
    world.submit(applicant=applicant)  # food's case; transport handles a complaint about it
    transport = world.as_("transport")
    assert transport.get(f"/v1/applicants/{applicant}").status_code == 404
    head = world.chain_head()
    r = world.as_("supervisor").post(
        f"/v1/applicants/{applicant}/access-grants",
        json={"department": TRANSPORT, "reason": "12345 投诉核查", "hours": 24},
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["kind"] == "personal_data_grant" and grant["detail"]["department"] == TRANSPORT
    (recorded_grant,) = recorded(world, head, "Granted")
    assert isinstance(recorded_grant, PersonalDataGrant)
    assert recorded_grant.reason == "12345 投诉核查" and recorded_grant.until is not None

    head = world.chain_head()
    clear = transport.get(f"/v1/applicants/{applicant}", params=CLEAR, headers=PURPOSE)
    assert clear.status_code == 200 and clear.json()["name"] == "张三丰"
    (read,) = recorded(world, head, "PersonalDataRead")
    assert read.basis == f"grant:{grant['id']}@{grant['detail']['version']}"
    assert read.reader_department == TRANSPORT
    other = world.as_("stranger").get(f"/v1/applicants/{applicant}")
    assert other.status_code == 404  # the grant names one department


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"department": "ZZ-NONE", "reason": "核查", "hours": 1}, 422),
        ({"department": TRANSPORT, "reason": "核查", "hours": 0}, 422),
        ({"department": TRANSPORT, "reason": "核查", "hours": 169}, 422),
        ({"department": TRANSPORT, "reason": "核\x00查", "hours": 1}, 422),
        ({"department": TRANSPORT, "reason": "", "hours": 1}, 422),
    ],
)
def test_a_bad_grant_is_refused_and_records_nothing(
    world: World, body: dict[str, Any], status: int
) -> None:
    applicant = fresh_applicant(world)
    head = world.chain_head()
    r = world.as_("supervisor").post(f"/v1/applicants/{applicant}/access-grants", json=body)
    assert r.status_code == status, r.text
    assert world.chain_head() == head


def test_only_supervisors_grant_and_only_for_applicants_that_exist(world: World) -> None:
    applicant = fresh_applicant(world)
    body = {"department": TRANSPORT, "reason": "核查", "hours": 1}
    head = world.chain_head()
    for who in ("food", "transport", "kiosk", "auditor"):
        r = world.as_(who).post(f"/v1/applicants/{applicant}/access-grants", json=body)
        assert r.status_code == 403, (who, r.text)
    missing = world.as_("supervisor").post(f"/v1/applicants/{uuid4()}/access-grants", json=body)
    assert missing.status_code == 404
    assert world.chain_head() == head
