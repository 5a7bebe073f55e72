"""Handing over a result (结果送达): who may carry it, who pays the courier, the result SMS, and
what a pick-up at the hall checks.

Layer: domain (standard library and ``ledger.domain.rules``). RULES.md "Further obligations":

- FZ·20 "业务办结后，网上办事平台自动发送短信告知申请人审批结果": every dispatched result carries an
  SMS notice (:class:`ResultNotice`) with the result, the channel and the time; the number is the
  applicant's phone, sealed under their subject key, never clear text.
- FZ·20 "需要领取纸质证照的，由申请人携有效证件前往服务大厅领取": a pick-up (现场送达) is signed
  off only on a valid identity document (:class:`IdCheck`); its type, not its number, is recorded.
- GZ16·16 "通过国家法律、法规认可的从事运输国家公文材料的快递企业递送": a result travels by
  post only with a courier allowed to carry official documents. The Postal Law (邮政法
  第五十五条) forbids express companies to carry state organs' official documents (国家机关公文),
  so only the postal enterprise qualifies: :data:`LICENSED_COURIERS`.
- PY·16 "产生的快递服务费用一律采用“到付”的方式由服务对象自行结算": courier fees are paid on
  delivery by the applicant (:class:`CourierFee`); a department never charges them in advance,
  and carries them itself (免费寄递) only where its city chose to (``CityRules``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from ledger.domain.rules import (
    CourierFeeNotOnDelivery,
    CourierNotLicensed,
    PickupWithoutValidId,
)

__all__ = [
    "DEFAULT_COURIER",
    "LICENSED_COURIERS",
    "CourierFee",
    "IdCheck",
    "IdDocument",
    "ResultNotice",
    "check_courier",
    "check_courier_fee",
    "check_pickup",
    "result_notice",
]

LICENSED_COURIERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ems": "中国邮政速递物流（EMS）",
        "china_post": "中国邮政（机要通信）",
    }
)
"""Couriers allowed to carry official documents (GZ16·16; 邮政法 第五十五条: the postal
enterprise only). FZ·20 names the same: "邮政速递方式送达"."""
DEFAULT_COURIER: Final = "ems"
"""The courier a postal dispatch uses when it names none (FZ·20 "邮政速递")."""
_COURIER_CODE: Final = re.compile(r"[a-z][a-z0-9_]{1,31}")


class CourierFee(StrEnum):
    """Who pays the courier, and when (PY·16): ``cash_on_delivery`` (到付) the applicant, to the
    courier on delivery; ``prepaid_by_department`` (寄付, 免费寄递) the department — only where
    its city chose it; ``charged_in_advance`` (预收) the department collecting postage from the
    applicant beforehand — never."""

    CASH_ON_DELIVERY = "cash_on_delivery"
    PREPAID_BY_DEPARTMENT = "prepaid_by_department"
    CHARGED_IN_ADVANCE = "charged_in_advance"


class IdDocument(StrEnum):
    """Valid identity documents (有效证件) a pick-up is checked against (FZ·20): 居民身份证,
    临时居民身份证, 护照, 港澳居民来往内地通行证, 台湾居民来往大陆通行证, 港澳台居民居住证,
    外国人永久居留身份证 (in this order)."""

    RESIDENT_ID_CARD = "resident_id_card"
    TEMPORARY_ID_CARD = "temporary_id_card"
    PASSPORT = "passport"
    HK_MACAO_PERMIT = "hk_macao_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    RESIDENCE_PERMIT = "residence_permit"
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"


@dataclass(frozen=True)
class IdCheck:
    """The identity check at a pick-up: which document was shown and whether it was valid
    (unexpired, and the holder is the recipient). Its number is not recorded."""

    document: IdDocument | str
    valid: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "document", IdDocument(self.document))
        except ValueError:
            allowed = ", ".join(repr(d.value) for d in IdDocument)
            raise PickupWithoutValidId(
                "id_check.document", f"{self.document!r} is not a valid ID: one of {allowed}"
            ) from None
        if not isinstance(self.valid, bool):
            raise PickupWithoutValidId("id_check.valid", "must be true or false")

    def to_dict(self) -> dict[str, Any]:
        return {"document": IdDocument(self.document).value, "valid": self.valid}


def check_pickup(method: str, id_check: IdCheck | None) -> dict[str, Any] | None:
    """The ID check a sign-off of ``method`` records; a pick-up (``on_site``) needs a valid one
    (FZ·20), other methods record one only if given."""
    if id_check is not None and not isinstance(id_check, IdCheck):
        raise PickupWithoutValidId("id_check", "must be an IdCheck")
    if method == "on_site":
        if id_check is None:
            raise PickupWithoutValidId(
                "id_check", "a paper result is collected only on a valid ID (有效证件)"
            )
        if not id_check.valid:
            raise PickupWithoutValidId(
                "id_check.valid", f"the {IdDocument(id_check.document).value} shown is not valid"
            )
    return None if id_check is None else id_check.to_dict()


def check_courier(courier: object) -> str:
    """The courier code of a postal result, if the courier may carry official documents."""
    if not isinstance(courier, str) or not _COURIER_CODE.fullmatch(courier):
        raise CourierNotLicensed("courier", "must be a courier code (a-z, 0-9, '_')")
    if courier not in LICENSED_COURIERS:
        licensed = ", ".join(sorted(LICENSED_COURIERS))
        raise CourierNotLicensed(
            "courier",
            f"{courier!r} is not licensed to carry official documents (国家公文); use {licensed}",
        )
    return courier


def check_courier_fee(fee: object, *, department_paid_allowed: bool) -> CourierFee:
    """The fee mode of a courier delivery: on delivery (PY·16), or carried by the department
    where the city allows it; never charged in advance."""
    try:
        mode = CourierFee(fee)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(repr(f.value) for f in CourierFee)
        raise CourierFeeNotOnDelivery("courier_fee", f"unknown {fee!r}: one of {allowed}") from None
    if mode is CourierFee.CHARGED_IN_ADVANCE:
        raise CourierFeeNotOnDelivery(
            "courier_fee", "postage is never charged in advance: the applicant pays on delivery"
        )
    if mode is CourierFee.PREPAID_BY_DEPARTMENT and not department_paid_allowed:
        raise CourierFeeNotOnDelivery(
            "courier_fee", "this city has courier fees paid on delivery (到付) only"
        )
    return mode


@dataclass(frozen=True)
class ResultNotice:
    """The SMS telling the applicant the result (FZ·20): what it said, when, and to which
    (sealed) number; ``phone`` is ``None`` when the applicant has no number on file."""

    result: str
    text: str
    sent_at: dt.datetime
    phone: bytes | None
    channel: str = "sms"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sent": self.phone is not None}


def result_notice(
    serial: str,
    item_name: str,
    result: str,
    method: str,
    at: dt.datetime,
    phone: bytes | None,
    courier: str = "",
    waybill: str = "",
    courier_fee: str = "",
) -> ResultNotice:
    """The result SMS of a dispatch: the result and where to get it — the hall with a valid ID
    (FZ·20), the courier and its fee (on delivery unless ``courier_fee`` says the department
    pays; GZ16·16, PY·16), or the online page."""
    paid = courier_fee == CourierFee.PREPAID_BY_DEPARTMENT.value
    fee = "邮费由部门承担" if paid else "快递费到付"
    where = {
        "on_site": "请携带有效身份证件到服务大厅窗口领取",
        "courier": f"结果已交{LICENSED_COURIERS.get(courier, courier)}寄递，运单号{waybill}，{fee}",
        "online": "结果已推送至您的网上办事个人（企业）页面",
    }.get(method, "")
    text = f"您申请的“{item_name}”（办件编号{serial}）已办结，审批结果：{result}。{where}。"
    return ResultNotice(result=result, text=text, sent_at=at, phone=phone)
