"""Results and their delivery over a real ``caseledger serve`` (SQLite and PostgreSQL):

- a pick-up at the hall without a valid ID is refused (FZ·20), with one it is signed off;
- an express company not licensed for official documents (GZ16·16), and postage charged in
  advance (PY·16), are refused with their rule — recording nothing;
- ``GET /v1/results`` announces closed cases' results to anyone, without a token and without
  personal data (GZ20·18, GZ16·18);
- ``GET /v1/results/mine`` is the applicant's own page (GZ16·13), reached through their channel
  (a kiosk or the portal's token) with a serial of theirs and its verification code only."""

from __future__ import annotations

from typing import Any

from tests.api import http_world
from tests.api.http_world import World

world = http_world.world  # the served city, one per backend and module


TO_RESULT = (
    ("pre-review", None),
    ("acceptance", None),
    ("approval", {"conclusion": "准予许可"}),
    ("result-document", {"title": "食品经营许可证"}),
)
TO_CLOSED = (("dispatches", {"method": "online"}), ("sign-off", {"recipient": "applicant"}))


def _steps(world: World, serial: str, steps: Any) -> None:
    """Post each (path, body) of ``steps`` to the case as the food department; each is 200."""
    for path, body in steps:
        r = world.as_("food").post(f"/v1/cases/{serial}/{path}", json=body)
        assert r.status_code == 200, (path, r.text)


def _result_issued(world: World, **over: Any) -> dict[str, Any]:
    """A submitted case driven to ``result_issued`` with its e-certificate; its receipt."""
    receipt = world.submit(**over)
    serial = receipt["serial"]
    _steps(world, serial, TO_RESULT)
    world.issue_certificate(serial, "JY1440106" + serial[-7:].replace("-", "0"))
    return receipt


def test_a_pick_up_needs_a_valid_id_FZ_20(world: World) -> None:
    serial = _result_issued(world, delivery="on_site")["serial"]
    food = world.as_("food")
    r = food.post(f"/v1/cases/{serial}/dispatches", json={"method": "on_site"})
    assert r.status_code == 200, r.text
    head = world.chain_head()
    for body in (
        {"recipient": "applicant"},
        {"recipient": "applicant", "id_check": {"document": "resident_id_card", "valid": False}},
        {"recipient": "applicant", "id_check": {"document": "student_card"}},
    ):
        r = food.post(f"/v1/cases/{serial}/sign-off", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["rule"] == "FZ·20" and r.json()["type"].endswith("/pickup-without-valid-id")
    assert world.chain_head() == head  # nothing recorded
    r = food.post(
        f"/v1/cases/{serial}/sign-off",
        json={"recipient": "agent", "id_check": {"document": "resident_id_card"}},
    )
    assert r.status_code == 200 and r.json()["state"] == "delivered", r.text


def test_an_unlicensed_courier_and_postage_in_advance_are_refused_GZ16_16_PY_16(
    world: World,
) -> None:
    serial = _result_issued(world, delivery="courier", mailing_address="广州市越秀区1号")["serial"]
    food = world.as_("food")
    head = world.chain_head()
    for body, rule, code in (
        ({"courier": "sf_express"}, "GZ16·16", "courier-not-licensed"),
        ({"courier_fee": "charged_in_advance"}, "PY·16", "courier-fee-not-on-delivery"),
        ({"courier_fee": "prepaid_by_department"}, "PY·16", "courier-fee-not-on-delivery"),
    ):
        r = food.post(
            f"/v1/cases/{serial}/dispatches",
            json={"method": "courier", "waybill": "EMS1234567890", **body},
        )
        assert r.status_code == 422, r.text
        assert (r.json()["rule"], r.json()["field"]) == (rule, next(iter(body)))
        assert r.json()["type"].endswith("/" + code)
    assert world.chain_head() == head
    r = food.post(
        f"/v1/cases/{serial}/dispatches",
        json={"method": "courier", "waybill": "EMS1234567890", "courier": "ems"},
    )
    assert r.status_code == 200 and r.json()["state"] == "dispatched", r.text


def test_closed_results_are_announced_to_anyone_without_personal_data_GZ20_18(
    world: World,
) -> None:
    closed = _result_issued(world)["serial"]
    _steps(world, closed, (*TO_CLOSED, ("close", None)))
    still_open = _result_issued(world)["serial"]
    anyone = world.served.client()  # no token: announced to the public
    r = anyone.get("/v1/results", params={"department": "GZ-SCJG", "limit": 500})
    assert r.status_code == 200, r.text
    items = {i["serial"]: i for i in r.json()["items"]}
    assert closed in items and still_open not in items
    shown = items[closed]
    assert shown["result"] == "准予许可" and shown["item_name"] == "食品经营许可"
    assert shown["department"] == "GZ-SCJG" and shown["approved"] is True
    assert set(shown) == {
        "serial",
        "department",
        "item_code",
        "item_name",
        "result",
        "approved",
        "decided_on",
        "closed_on",
    }
    assert world.applicant not in r.text and "13800138000" not in r.text
    assert anyone.get("/v1/results", params={"department": "NH-JTJ"}).json()["total"] == 0


def test_the_applicant_page_needs_their_serial_and_code_GZ16_13(world: World) -> None:
    receipt = _result_issued(world)
    serial, code = receipt["serial"], receipt["verification_code"]
    r = world.as_("food").post(f"/v1/cases/{serial}/dispatches", json={"method": "online"})
    assert r.status_code == 200, r.text
    proof = {"X-Serial": serial, "X-Verification-Code": code}
    r = world.as_("kiosk").get("/v1/results/mine", headers=proof)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["page"] == "市民个人网页"
    mine = {i["serial"]: i for i in page["items"]}
    assert mine[serial]["result"] == "准予许可" and mine[serial]["delivery_method"] == "online"
    assert mine[serial]["sms_sent_at"]  # the result SMS went out (FZ·20)
    wrong = "000000" if code != "000000" else "111111"
    r = world.as_("food").get(
        "/v1/results/mine", headers={"X-Serial": serial, "X-Verification-Code": wrong}
    )
    assert r.status_code == 404, r.text
    assert world.served.client().get("/v1/results/mine", headers=proof).status_code == 401
    assert world.as_("supervisor").get("/v1/results/mine", headers=proof).status_code == 403
