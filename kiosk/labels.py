"""What a printout says, in words a citizen reads: bilingual labels, Chinese dates, the holder.

Layer: kiosk (pure: values in, text out). Issue 17: every field a printout shows is labelled
in Chinese with English; dates read the Chinese way (2026年12月6日), times in Beijing time
(DESIGN invariant 7); the holder of a certificate is shown as the progress query shows an
applicant — masked name and credential (``projections.progress.MaskedIdentity``), never the
internal applicant id and never clear personal data (DESIGN invariant 5, GZ16·18).

Certificate content is a department's own map; its keys are labelled from
:data:`CONTENT_LABELS` (the keys our departments and the demo use, English or Chinese);
an unknown key is still labelled, as ``其他信息 Other (<key>)``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from ledger.domain.calendar import to_shanghai
from projections.progress import ERASED_TEXT, MaskedIdentity

__all__ = [
    "CONTENT_LABELS",
    "CREDENTIAL_LABELS",
    "HIDDEN_CONTENT",
    "chinese_date",
    "chinese_datetime",
    "content_label",
    "content_value",
    "holder_text",
]

CONTENT_LABELS: Final[dict[str, tuple[str, str]]] = {
    "holder": ("持证人", "Holder"),
    "item": ("事项名称", "Service item"),
    "item_code": ("事项编码", "Item code"),
    "case_serial": ("办件编号", "Serial No."),
    "valid_from": ("有效期自", "Valid from"),
    "valid_until": ("有效期至", "Valid until"),
    "business_scope": ("经营范围", "Business scope"),
    "scope": ("许可范围", "Scope"),
    "licence": ("证照名称", "Licence"),
    "name": ("名称", "Name"),
    "名称": ("名称", "Name"),
    "经营项目": ("经营项目", "Business activities"),
    "经营范围": ("经营范围", "Business scope"),
    "address": ("住所", "Address"),
    "住所": ("住所", "Address"),
    "legal_representative": ("法定代表人", "Legal representative"),
    "法定代表人": ("法定代表人", "Legal representative"),
}
"""Bilingual labels of certificate content keys."""

HIDDEN_CONTENT: Final = frozenset({"item", "case_serial"})
"""Content keys the printout already shows in its own rows (事项名称, 办件编号)."""

CREDENTIAL_LABELS: Final[dict[str, tuple[str, str]]] = {
    "resident_id": ("居民身份证", "Resident ID"),
    "social_security": ("社会保障号码", "Social security No."),
    "passport": ("护照", "Passport"),
    "uscc": ("统一社会信用代码", "Unified social credit code"),
    "registration_number": ("工商注册号", "Business registration No."),
    "institution": ("事业单位法人证书", "Institution certificate"),
}
"""Bilingual names of ``ledger.domain.identity.CredentialKind`` values."""

_ISO_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def chinese_date(day: dt.date) -> str:
    """``2026年12月6日`` (no leading zeroes, as Chinese dates are written)."""
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_datetime(at: dt.datetime) -> str:
    """``2026年12月6日 14:03:05（北京时间 Beijing time）`` for a UTC (aware) time."""
    local = to_shanghai(at)
    return f"{chinese_date(local.date())} {local:%H:%M:%S}（北京时间 Beijing time）"


def content_label(key: str) -> str:
    """``中文 English`` for a content key; ``其他信息 Other (<key>)`` for one we do not know."""
    found = CONTENT_LABELS.get(key)
    if found is None:
        return f"其他信息 Other ({key[:24]})"
    return f"{found[0]} {found[1]}"


def content_value(value: object) -> str:
    """A content value as printed: an ISO date (``2031-09-27``) as a Chinese date."""
    text = str(value)
    match = _ISO_DATE.fullmatch(text)
    if match is not None:
        try:
            return chinese_date(dt.date(int(match[1]), int(match[2]), int(match[3])))
        except ValueError:  # not a real date: print it as given
            return text
    return text


def holder_text(identity: MaskedIdentity | None) -> str:
    """The holder as printed: masked name, then the credential's kind and masked number
    (``张*（居民身份证 Resident ID 1101**********002X）``); withheld when unknown, marked
    when erased."""
    if identity is None:
        return "已隐去 withheld"
    if identity.name == ERASED_TEXT:
        return "个人信息已删除 personal data erased"
    zh, en = CREDENTIAL_LABELS.get(identity.credential_kind, ("证件", "ID"))
    return f"{identity.name}（{zh} {en} {identity.credential}）"
