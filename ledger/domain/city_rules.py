"""Per-city rules: where the seeds' local texts differ, which one applies in a city.

Layer: domain (standard library and ledger domain modules). RULES.md: "Where the local texts
differ, the system makes the rule configurable per city and ships the stricter one as default."
Stricter means: the reading that binds the administration more and protects the applicant
more. The differences settled here (RULES.md "Further obligations"):

- Appointments: GZ20·9, GZ16·9 and FZ·10 let a hall refuse a successful appointment when the
  applicant gives up, lacks required materials, or the item is out of scope; NH·9 allows no
  refusal at all ("预约申请成功后……窗口人员不得拒绝办理"; not arriving counts as giving up, which
  is a no-show, not a refusal). Default: no refusal ground (NH·9).
- Blacklist restriction: GZ16·22 and PY·28 block online application for 3 months; NH·25 sets
  no limit (the applicant stays blacklisted until removed). Default: 3 months (GZ16·22, PY·28).
- NH·25(二) counts filling in or uploading content unrelated to the matter ("填写或上传与办事无关的
  信息") together with materials not submitted after approval (more than three times); the
  other texts do not make it a ground. Default: not a ground.
- Courier fees: PY·16 has them paid on delivery by the applicant, without exception ("一律采用
  “到付”的方式由服务对象自行结算"); the other texts are silent. A city may carry the postage of
  results itself (免费寄递). Default: on delivery only (PY·16). Charging postage in advance is
  refused everywhere (``ledger.domain.result_delivery``).

A department's registered city (``Department.city``) chooses its rules (:func:`rules_for`);
a city without a preset gets :data:`STRICTER`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ledger.domain.appointments import RefusalGround

__all__ = [
    "CITY_RULES",
    "FUZHOU",
    "GUANGZHOU",
    "NANHAI",
    "PANYU",
    "STRICTER",
    "CityRules",
    "rules_for",
]

_GZ20_9_GROUNDS: Final = frozenset(RefusalGround)


@dataclass(frozen=True)
class CityRules:
    """The rules of one city where the seeds differ; each field cites its sources."""

    name: str
    appointment_refusal_grounds: frozenset[RefusalGround] = frozenset()
    """Grounds on which a successful appointment may be refused (GZ20·9, GZ16·9, FZ·10; none:
    NH·9). Default: none."""
    appointment_rule: str = "NH·9"
    """The article an appointment refusal is judged by in this city."""
    blacklist_restriction_months: int | None = 3
    """Online application blocked for this many months (GZ16·22, PY·28); ``None``: until the
    applicant is removed (NH·25). Default: 3."""
    unrelated_form_content_counts: bool = False
    """Unrelated content in forms or uploads counts toward ground (二) of NH·25. Default: no."""
    department_paid_postage: bool = False
    """A result's courier fee may be carried by the department (免费寄递) instead of paid on
    delivery by the applicant. Default: no — "一律采用“到付”" (PY·16); no seed allows it."""


STRICTER: Final = CityRules(name="default (stricter)")
GUANGZHOU: Final = CityRules(
    name="广州",
    appointment_refusal_grounds=_GZ20_9_GROUNDS,
    appointment_rule="GZ20·9, GZ16·9",
)
PANYU: Final = CityRules(
    name="番禺", appointment_refusal_grounds=_GZ20_9_GROUNDS, appointment_rule="GZ20·9, GZ16·9"
)
FUZHOU: Final = CityRules(
    name="福州", appointment_refusal_grounds=_GZ20_9_GROUNDS, appointment_rule="FZ·10"
)
NANHAI: Final = CityRules(
    name="南海",
    appointment_refusal_grounds=frozenset(),
    appointment_rule="NH·9",
    blacklist_restriction_months=None,
    unrelated_form_content_counts=True,
)
CITY_RULES: Final[Mapping[str, CityRules]] = MappingProxyType(
    {
        "广州": GUANGZHOU,
        "广州市": GUANGZHOU,
        "番禺": PANYU,
        "广州市番禺区": PANYU,
        "福州": FUZHOU,
        "福州市": FUZHOU,
        "南海": NANHAI,
        "佛山市南海区": NANHAI,
    }
)
"""Presets by registered city name; any other city gets :data:`STRICTER`."""


def rules_for(city: str | None) -> CityRules:
    """The rules of ``city`` (a department's registered city), :data:`STRICTER` if unknown."""
    return CITY_RULES.get((city or "").strip(), STRICTER)
