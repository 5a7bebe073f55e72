"""Issue #16 item 3 over HTTP, against a real ``caseledger serve`` on SQLite and PostgreSQL:
the three failures a regulator found are refused with the rule they break (422, ``rule`` and
``code``), and the chain head does not move.

a. a certificate result dispatched with no e-certificate (GZ16·15, NH·20, FZ·19);
b. another applicant rating someone else's case (GZ20·16, FZ·22, NH·25);
c. an unauthenticated applicant booking an appointment (FZ·8).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from ledger.domain.identity import resident_id_check_character
from tests.api import http_world
from tests.api.http_world import ITEM, World

world = http_world.world  # the served city, one per backend and module


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_character(first17)


def _refused(world: World, response: httpx.Response, head: int, code: str, rule: str) -> Any:
    """A 422 problem citing ``rule`` with ``code``; nothing was recorded (but the caller's
    channel key, enrolled on its first request: ``ledger.keys`` topics)."""
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/" + code) and problem["rule"] == rule, problem
    recorded = [topic for command in world.commands_since(head) for topic in command]
    assert all(topic.startswith("ledger.keys") for topic in recorded), recorded
    return problem


def _approved_with_result_document(world: World) -> str:
    serial = str(world.submit()["serial"])
    food = world.as_("food")
    for path, body in [
        ("pre-review", None),
        ("acceptance", None),
        ("approval", {"conclusion": "准予许可"}),
        ("result-document", {"title": "食品经营许可证"}),
    ]:
        r = food.post(f"/v1/cases/{serial}/{path}", json=body)
        assert r.status_code == 200, (path, r.text)
    return serial


def test_a_certificate_result_is_not_dispatched_before_its_e_certificate_GZ16_15(
    world: World,
) -> None:
    food = world.as_("food")
    serial = _approved_with_result_document(world)
    head = world.chain_head()
    r = food.post(f"/v1/cases/{serial}/dispatches", json={"method": "online"})
    problem = _refused(world, r, head, "case-not-closable", "GZ16·15, NH·20, FZ·19")
    assert "e-certificate" in problem["detail"]
    progress = food.get(f"/v1/cases/{serial}").json()
    assert (progress["state"], progress["certificate_ids"]) == ("result_issued", [])
    world.issue_certificate(serial, "JY14401060000003")
    r = food.post(f"/v1/cases/{serial}/dispatches", json={"method": "online"})
    assert r.status_code == 200 and r.json()["state"] == "dispatched", r.text


def test_only_the_cases_applicant_rates_it_GZ20_16_FZ_22_NH_25(world: World) -> None:
    serial = str(world.submit()["serial"])
    stranger = world.register_applicant(_resident_id("11010519491231051"))
    kiosk = world.as_("kiosk")
    body = {"system": "gbt39046", "code": 5, "channel": "kiosk", "reason": "办事效率低"}
    head = world.chain_head()
    r = kiosk.post(f"/v1/cases/{serial}/rating", json=body | {"applicant_id": stranger})
    problem = _refused(world, r, head, "rating-not-of-case", "GZ20·16, FZ·22, NH·25")
    assert problem["field"] == "applicant_id"
    r = kiosk.post(f"/v1/cases/{serial}/rating", json=body | {"applicant_id": world.applicant})
    assert r.status_code == 201, r.text


def test_booking_an_appointment_needs_the_basic_authentication_level_FZ_8(world: World) -> None:
    food, kiosk = world.as_("food"), world.as_("kiosk")
    r = food.post(
        "/v1/appointment-slots",
        json={
            "hall": "天河区政务服务中心",
            "service_item": ITEM,
            "starts_at": "2030-02-04T09:00:00+08:00",
            "ends_at": "2030-02-04T09:30:00+08:00",
            "capacity": 2,
        },
    )
    assert r.status_code == 201, r.text
    bookings = f"/v1/appointment-slots/{r.json()['id']}/bookings"
    unauthenticated = world.register_applicant(_resident_id("11010519491231052"), level="none")
    for applicant in (unauthenticated, str(uuid.uuid4())):
        head = world.chain_head()
        r = kiosk.post(bookings, json={"applicant_id": applicant})
        problem = _refused(world, r, head, "authentication-too-low", "FZ·8")
        assert "appointment" in problem["detail"]
    basic = world.register_applicant(_resident_id("11010519491231053"), level="basic")
    r = kiosk.post(bookings, json={"applicant_id": basic})
    assert r.status_code == 201, r.text
