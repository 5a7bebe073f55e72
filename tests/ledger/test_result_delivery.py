"""Delivering a result (RULES.md "Further obligations"), through the case service:

- FZ·20 "业务办结后，网上办事平台自动发送短信告知申请人审批结果": every dispatch records the result
  SMS — the result, the channel, the time — to the applicant's phone, sealed under their
  subject key (the clear number is in no event);
- FZ·20 "由申请人携有效证件前往服务大厅领取": a pick-up is signed off only on a valid ID;
- GZ16·16 "通过国家法律、法规认可的从事运输国家公文材料的快递企业递送": an express company not
  licensed for official documents is refused;
- PY·16 "快递服务费用一律采用“到付”的方式由服务对象自行结算": postage is paid on delivery — charged
  in advance never, carried by the department only where its city chose it.

Each refusal records nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledger.domain.city_rules import CITY_RULES, STRICTER, CityRules
from ledger.domain.personal_data import Sealed
from ledger.domain.result_delivery import (
    LICENSED_COURIERS,
    CourierFee,
    IdCheck,
    IdDocument,
    check_courier_fee,
)
from ledger.domain.rules import (
    CourierFeeNotOnDelivery,
    CourierNotLicensed,
    PickupWithoutValidId,
)
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import World
from tests.ledger.test_case_lifecycle import refused

world = lifecycle.world  # a fresh SQLite world per test
ADDRESS = "广州市天河区天河路1号"
PHONE = "13800138000"  # the case world registers every applicant with this number


def _result_issued(world: World, *, delivery: str = "online") -> str:
    """A window food case approved, its result document and e-certificate issued (GZ16·15)."""
    serial = world.submit_food(channel="window", delivery=delivery).serial
    world.cases.accept(serial, signer=world.food)
    world.cases.approve(serial, signer=world.food)
    world.cases.issue_result_document(serial, signer=world.food)
    world.issue_certificate(serial, serial=re.sub(r"[^0-9A-Z]", "", serial.upper())[-12:])
    return serial


def _disapproved(world: World) -> str:
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    world.cases.disapprove(serial, ["经营场所与申报布局不符"], signer=world.food)
    return serial


def _by_courier(world: World, serial: str, **over: Any) -> Any:
    """Dispatch ``serial`` by courier (EMS waybill, an address), ``over`` changing the rest."""
    return world.cases.dispatch(
        serial,
        "courier",
        **{"waybill": "EMS1234567890", "mailing_address": ADDRESS, "signer": world.food} | over,
    )


def _events(world: World, serial: str, name: str) -> list[Any]:
    case = world.case(serial)
    return [
        e
        for e in world.ledger.repository.event_store.get(case.id)
        if type(e).__qualname__.endswith("." + name)
    ]


# --- the result SMS (FZ·20) -----------------------------------------------------------------


def test_every_dispatch_records_the_result_sms_with_the_result_channel_and_time(
    world: World,
) -> None:
    """FZ·20: the approval result goes out by SMS when the result is sent."""
    serial = _result_issued(world)
    world.cases.dispatch(serial, "online", signer=world.food)
    [dispatched] = _events(world, serial, "Dispatched")
    notice = dispatched.result_notice
    assert notice["channel"] == "sms" and notice["sent"] is True
    assert notice["result"] == "准予许可"
    assert notice["sent_at"] == world.clock.now()
    assert "食品经营许可" in notice["text"] and serial in notice["text"]
    assert "审批结果：准予许可" in notice["text"]
    assert "网上办事" in notice["text"]  # online: pushed to the applicant's page
    sealed = Sealed(world.enterprise.id, "phone", notice["phone"])
    assert world.vault.open(sealed) == PHONE


def test_the_phone_number_is_sealed_never_clear_in_the_chain(world: World) -> None:
    """FZ·20's SMS names the applicant's number only under their subject key."""
    serial = _result_issued(world)
    world.cases.dispatch(serial, "online", signer=world.food)
    rows = world.ledger.recorder.select_notifications(start=1, limit=10_000)
    assert any(serial.encode() in n.state for n in rows)  # the events are readable here
    assert not any(PHONE.encode() in n.state for n in rows)


def test_a_disapproval_sms_says_so_and_a_pick_up_needs_an_id(world: World) -> None:
    """FZ·20: the result may be 不予许可; on site the SMS says to bring a valid ID."""
    serial = _disapproved(world)
    world.cases.dispatch(serial, "on_site", signer=world.food)
    [dispatched] = _events(world, serial, "Dispatched")
    assert dispatched.result_notice["result"] == "不予许可"
    assert "请携带有效身份证件到服务大厅窗口领取" in dispatched.result_notice["text"]


# --- pick-up with a valid ID (FZ·20) -----------------------------------------------------------


def test_a_pick_up_without_a_valid_id_is_refused_and_records_nothing(world: World) -> None:
    """FZ·20 "由申请人携有效证件前往服务大厅领取"."""
    serial = _result_issued(world, delivery="on_site")
    world.cases.dispatch(serial, "on_site", signer=world.food)
    error = refused(
        world, PickupWithoutValidId, lambda: world.cases.sign_off(serial, signer=world.food)
    )
    assert error.rule == "FZ·20" and error.field == "id_check"
    expired = IdCheck(IdDocument.RESIDENT_ID_CARD, valid=False)
    error = refused(
        world,
        PickupWithoutValidId,
        lambda: world.cases.sign_off(serial, signer=world.food, id_check=expired),
    )
    assert error.field == "id_check.valid"
    with pytest.raises(PickupWithoutValidId) as caught:
        IdCheck("library_card")
    assert caught.value.field == "id_check.document" and caught.value.rule == "FZ·20"
    assert world.case(serial).state.value == "dispatched"


def test_a_pick_up_on_a_valid_id_records_the_document_type_only(world: World) -> None:
    """FZ·20: the delivery receipt (送达回证) records which ID was checked, not its number."""
    serial = _result_issued(world, delivery="on_site")
    world.cases.dispatch(serial, "on_site", signer=world.food)
    outcome = world.cases.sign_off(serial, "agent", signer=world.food, id_check=IdCheck("passport"))
    assert outcome.state.value == "delivered"
    assert outcome.document is not None
    assert outcome.document.body["id_check"] == {"document": "passport", "valid": True}


def test_an_online_delivery_needs_no_id_at_the_hall(world: World) -> None:
    """FZ·20 checks an ID at the hall only: an online result is signed off by the portal."""
    serial = _result_issued(world)
    world.cases.dispatch(serial, "online", signer=world.food)
    outcome = world.cases.sign_off(serial, signer=world.portal)
    assert outcome.document is not None and "id_check" not in outcome.document.body


# --- licensed couriers (GZ16·16), fees on delivery (PY·16) ----------------------------------


def test_an_express_company_not_licensed_for_official_documents_is_refused(
    world: World,
) -> None:
    """GZ16·16: only a courier recognised to carry official documents (the postal enterprise)."""
    serial = _result_issued(world, delivery="courier")
    for courier in ("sf_express", "zto"):
        error = refused(
            world,
            CourierNotLicensed,
            lambda c=courier: _by_courier(world, serial, courier=c),  # type: ignore[misc]
        )
        assert error.rule == "GZ16·16" and error.field == "courier"
    assert set(LICENSED_COURIERS) == {"ems", "china_post"}


def test_a_licensed_courier_goes_with_the_fee_on_delivery_and_the_sms_says_so(
    world: World,
) -> None:
    """GZ16·16 and PY·16: EMS by default, 到付 recorded; the SMS names courier and waybill."""
    serial = _result_issued(world, delivery="courier")
    outcome = _by_courier(world, serial)
    assert outcome.state.value == "dispatched"
    [dispatched] = _events(world, serial, "Dispatched")
    assert dispatched.courier == "ems"
    assert dispatched.courier_fee == "cash_on_delivery"
    assert (
        "中国邮政速递物流（EMS）寄递，运单号EMS1234567890，快递费到付"
        in (dispatched.result_notice["text"])
    )


def test_postage_charged_in_advance_or_carried_by_the_department_is_refused(
    world: World,
) -> None:
    """PY·16 "一律采用“到付”": the stricter default refuses both other modes."""
    serial = _result_issued(world, delivery="courier")
    for fee in ("charged_in_advance", "prepaid_by_department", "cash"):
        error = refused(
            world,
            CourierFeeNotOnDelivery,
            lambda f=fee: _by_courier(  # type: ignore[misc]
                world, serial, courier="china_post", courier_fee=f
            ),
        )
        assert error.rule == "PY·16" and error.field == "courier_fee"


def test_department_paid_postage_is_a_per_city_setting_off_by_default() -> None:
    """PY·16 is the stricter reading and no seed allows free postage: off everywhere unless a
    city sets it; postage charged in advance stays refused even then."""
    assert STRICTER.department_paid_postage is False
    assert all(not rules.department_paid_postage for rules in CITY_RULES.values())
    free = CityRules(name="a city carrying the postage", department_paid_postage=True)
    allowed = free.department_paid_postage
    assert check_courier_fee("prepaid_by_department", department_paid_allowed=allowed) is (
        CourierFee.PREPAID_BY_DEPARTMENT
    )
    with pytest.raises(CourierFeeNotOnDelivery):
        check_courier_fee("charged_in_advance", department_paid_allowed=allowed)
