"""The service catalogue: 办事指南 fields (FZ·7, GZ16·18), online ≤ window (GZ16·10, GZ16·14,
NH·10, FZ·23), versioning, and storage in the signed ledger."""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from decimal import Decimal
from typing import Any

import pytest

from ledger.chain.verification import verify_chain
from ledger.domain.catalogue import (
    FormSpec,
    Guide,
    HandlingMode,
    ItemType,
    MaterialSpec,
    ResultType,
    Retention,
    ServiceItem,
    Sharing,
)
from ledger.domain.rules import (
    GuideCodeChanged,
    GuideOnlineExceedsWindow,
    InvalidGuide,
    PromisedLimitExceedsStatutory,
    ServiceItemWithdrawn,
    UnknownGuideVersion,
)
from ledger.encoding import canonical, decode
from ledger.errors import RuleViolation
from tests.ledger.conftest import DEPARTMENT_CODE, SignedLedger

ID_CARD = MaterialSpec("M01", "居民身份证", True, ("111",), online=True, window=True)
LICENCE_FORM = MaterialSpec("M02", "申请表", True, (), online=True, window=True)
FLOOR_PLAN = MaterialSpec("M03", "场所平面图", False, (), online=False, window=True)
APPLY_FORM = FormSpec(
    "F01", "申请书", "https://zwfw.example/f01-blank.docx", "https://zwfw.example/f01.pdf"
)


def make_guide(**changes: Any) -> Guide:
    values: dict[str, Any] = {
        "name": "食品经营许可（新办）",
        "basic_code": "000117001000",
        "implementation_code": "11440100MB2C92400X4440111700100001",
        "item_type": ItemType.LICENCE,
        "department": DEPARTMENT_CODE,
        "legal_basis": ("《中华人民共和国食品安全法》第三十五条",),
        "acceptance_conditions": "申请人具有与经营食品品种相适应的经营场所",
        "materials": (ID_CARD, LICENCE_FORM, FLOOR_PLAN),
        "window_steps": ("受理", "审查", "决定", "送达"),
        "online_steps": ("网上申请", "审查", "决定"),
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "fee": Decimal("0"),
        "fee_basis": "",
        "handling_modes": (HandlingMode.ONLINE_PRE_ACCEPTANCE, HandlingMode.WINDOW),
        "result_type": ResultType.CERTIFICATE,
        "result_sample": "食品经营许可证（样本）",
        "hotline": "12345",
        "retention": Retention.YEARS_30,
        "forms": (APPLY_FORM,),
        "full_online_exception": "《食品经营许可管理办法》：场所平面图须现场核验",
    }
    values.update(changes)
    return Guide(**values)


# --- the guide value --------------------------------------------------------------------------


def test_a_complete_guide_is_accepted_with_every_FZ_7_field() -> None:
    guide = make_guide()
    assert guide.item_type is ItemType.LICENCE
    assert guide.required_materials == (ID_CARD, LICENCE_FORM)
    assert guide.material("M03") == FLOOR_PLAN
    assert guide.is_online


def test_guide_round_trips_through_to_dict_and_canonical_bytes() -> None:
    guide = make_guide(fee=Decimal("12.50"), fee_basis="粤价〔2017〕1号")
    data = guide.to_dict()
    again = Guide.from_dict(decode(canonical(data)))
    assert again == guide
    assert again.to_dict() == data
    assert canonical(again.to_dict()) == canonical(data)


def test_material_spec_round_trips_through_to_dict() -> None:
    assert MaterialSpec.from_dict(decode(canonical(FLOOR_PLAN.to_dict()))) == FLOOR_PLAN


def test_a_material_spec_stores_every_field_it_has() -> None:
    """``to_dict`` is written out by hand: a field added to the class must be stored too."""
    spec = MaterialSpec(
        "M07",
        "不予共享的证明",
        False,
        ("112", "113"),
        online=False,
        window=True,
        sharing=Sharing.NOT_SHAREABLE,
        sharing_basis="《条例》第四条",
    )
    stored = spec.to_dict()
    assert set(stored) == {f.name for f in fields(MaterialSpec)}
    assert stored == asdict(spec) | {
        "certificate_types": ["112", "113"],
        "sharing": "not_shareable",
    }
    assert MaterialSpec.from_dict(decode(canonical(stored))) == spec


def test_guide_values_are_coerced_from_their_codes() -> None:
    guide = make_guide(
        item_type="01", retention="Y", result_type="other", handling_modes=["window"]
    )
    assert guide.item_type is ItemType.LICENCE
    assert guide.retention is Retention.PERMANENT
    assert guide.handling_modes == (HandlingMode.WINDOW,)


def test_guide_whose_online_steps_exceed_window_steps_is_rejected_FZ_23() -> None:
    with pytest.raises(GuideOnlineExceedsWindow) as caught:
        make_guide(online_steps=("申请", "预审", "受理", "审查", "决定"))
    assert caught.value.field == "online_steps"
    assert "FZ·23" in caught.value.rule and "GZ16·10" in caught.value.rule
    assert caught.value.code == "guide-online-exceeds-window"


def test_guide_whose_online_materials_exceed_window_materials_is_rejected_GZ16_14() -> None:
    online_only = MaterialSpec("M09", "网上承诺书", True, (), online=True, window=False)
    with pytest.raises(GuideOnlineExceedsWindow) as caught:
        make_guide(materials=(ID_CARD, online_only))
    assert caught.value.field == "materials"
    assert "M09" in str(caught.value)
    assert "GZ16·14" in caught.value.rule


def test_guide_with_as_many_online_steps_as_window_steps_is_accepted_NH_10() -> None:
    guide = make_guide(online_steps=("申请", "审查", "决定", "送达"))
    assert len(guide.online_steps) == len(guide.window_steps)


def test_promised_limit_longer_than_statutory_limit_is_rejected_FZ_7() -> None:
    with pytest.raises(PromisedLimitExceedsStatutory) as caught:
        make_guide(statutory_limit_days=10, promised_limit_days=15)
    assert caught.value.field == "promised_limit_days"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("basic_code", ""),
        ("implementation_code", "lower-case"),
        ("item_type", "99"),
        ("department", "x"),
        ("legal_basis", ()),
        ("acceptance_conditions", "  "),
        ("window_steps", ()),
        ("statutory_limit_days", -1),
        ("promised_limit_days", True),
        ("handling_modes", ()),
        ("result_type", "poster"),
        ("hotline", "call us"),
        ("retention", "D5"),
    ],
)
def test_guide_missing_or_malformed_field_is_rejected_naming_it_FZ_7(
    field: str, value: Any
) -> None:
    with pytest.raises(InvalidGuide) as caught:
        make_guide(**{field: value})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}:")
    assert caught.value.rule == "FZ·7, GZ16·18"


def test_charged_item_without_fee_basis_is_rejected_FZ_7() -> None:
    with pytest.raises(InvalidGuide) as caught:
        make_guide(fee=Decimal("50"), fee_basis="")
    assert caught.value.field == "fee_basis"


@pytest.mark.parametrize("fee", [1.5, Decimal("-1"), Decimal("0.001"), Decimal("NaN"), "abc"])
def test_fee_must_be_a_non_negative_yuan_amount_in_fen(fee: Any) -> None:
    with pytest.raises(InvalidGuide) as caught:
        make_guide(fee=fee, fee_basis="依据")
    assert caught.value.field == "fee"


def test_online_item_lists_its_online_steps_FZ_7() -> None:
    with pytest.raises(InvalidGuide) as caught:
        make_guide(online_steps=())
    assert caught.value.field == "online_steps"


def test_window_only_item_may_have_no_online_steps() -> None:
    guide = make_guide(online_steps=(), handling_modes=(HandlingMode.WINDOW,))
    assert not guide.is_online


def test_fully_online_item_may_not_demand_window_only_material_GZ20_26() -> None:
    with pytest.raises(InvalidGuide) as caught:
        make_guide(handling_modes=(HandlingMode.FULL_ONLINE,))
    assert caught.value.field == "materials"


def test_material_accepted_nowhere_is_rejected() -> None:
    with pytest.raises(InvalidGuide) as caught:
        MaterialSpec("M05", "无处提交", True, (), online=False, window=False)
    assert caught.value.field == "materials[M05]"


def test_duplicate_material_codes_are_rejected() -> None:
    with pytest.raises(InvalidGuide) as caught:
        make_guide(materials=(ID_CARD, replace(LICENCE_FORM, code="M01")))
    assert caught.value.field == "materials"


def test_item_types_are_the_GB_T_39046_codes_plus_filing_GZ20_2() -> None:
    """GZ20·2 names 行政备案 (filing) beside the GB/T 39046 item types."""
    assert [t.value for t in ItemType][:11] == [
        "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"
    ]  # fmt: skip
    assert ItemType.LICENCE.chinese_name == "行政许可"
    assert ItemType.PAYMENT.chinese_name == "行政给付"
    assert ItemType.FILING.chinese_name == "行政备案"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("hotline"),
        lambda d: d.update(extra="x"),
        lambda d: d.update(materials="M01"),
        lambda d: d.update(materials=[["M01"]]),
        lambda d: d["materials"][0].pop("online"),
        lambda d: d.update(fee=None),
        lambda d: d.update(legal_basis=None),
    ],
)
def test_malformed_guide_data_raises_invalid_guide_never_a_stray_error(mutate: Any) -> None:
    data = make_guide().to_dict()
    mutate(data)
    with pytest.raises(InvalidGuide):
        Guide.from_dict(data)


def test_guide_data_that_is_not_a_map_is_rejected() -> None:
    with pytest.raises(InvalidGuide):
        Guide.from_dict(["not", "a", "map"])


# --- the service item aggregate ---------------------------------------------------------------


def test_first_guide_is_version_1_and_the_item_is_found_by_its_implementation_code() -> None:
    guide = make_guide()
    item = ServiceItem.publish(guide)
    assert item.current_version == 1
    assert item.guide(1) == guide
    assert item.id == ServiceItem.id_for(guide.implementation_code)
    assert [type(e).__name__ for e in item.pending_events] == ["Published"]


def test_new_versions_are_numbered_and_a_case_keeps_its_own_version_FZ_7() -> None:
    item = ServiceItem.publish(make_guide())
    assert item.publish_version(make_guide(promised_limit_days=5)) == 2
    assert item.publish_version(make_guide(promised_limit_days=3)) == 3
    assert item.guide(1).promised_limit_days == 10
    assert item.guide(2).promised_limit_days == 5
    assert item.current_guide.promised_limit_days == 3


@pytest.mark.parametrize("version", [0, 2, -1, True, "1"])
def test_unknown_guide_version_is_refused(version: Any) -> None:
    item = ServiceItem.publish(make_guide())
    with pytest.raises(UnknownGuideVersion) as caught:
        item.guide(version)
    assert isinstance(caught.value, RuleViolation)


def test_new_version_may_not_change_the_implementation_code() -> None:
    item = ServiceItem.publish(make_guide())
    with pytest.raises(GuideCodeChanged) as caught:
        item.publish_version(make_guide(implementation_code="OTHER-ITEM"))
    assert caught.value.field == "implementation_code"


def test_withdrawn_item_takes_no_new_version_and_is_withdrawn_once() -> None:
    item = ServiceItem.publish(make_guide())
    item.withdraw("事项取消（省政府令第270号）")
    assert item.withdrawn
    with pytest.raises(ServiceItemWithdrawn):
        item.publish_version(make_guide())
    with pytest.raises(ServiceItemWithdrawn):
        item.withdraw("again")


def test_withdrawal_states_its_reason() -> None:
    item = ServiceItem.publish(make_guide())
    with pytest.raises(InvalidGuide) as caught:
        item.withdraw(" ")
    assert caught.value.field == "reason"


def test_service_item_is_stored_signed_and_replayed_from_the_ledger(ledger: SignedLedger) -> None:
    item = ServiceItem.publish(make_guide())
    item.publish_version(make_guide(promised_limit_days=7))
    ledger.app.save_signed(item, signer=ledger.department)
    item.withdraw("合并至其他事项")
    ledger.app.save_signed(item, signer=ledger.department)

    again: ServiceItem = ledger.app.repository.get(
        ServiceItem.id_for(make_guide().implementation_code)
    )
    assert isinstance(again, ServiceItem)
    assert again.current_version == 2
    assert again.guide(1) == make_guide()
    assert again.guide(2).promised_limit_days == 7
    assert again.withdrawn
    assert verify_chain(ledger.app.chain).ok
