"""What a printout says: bilingual labels, Chinese dates, the holder masked (kiosk.labels)."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.labels import (
    CONTENT_LABELS,
    CREDENTIAL_LABELS,
    chinese_date,
    chinese_datetime,
    content_label,
    content_value,
    holder_text,
)
from ledger.domain.identity import CredentialKind
from projections.progress import ERASED_TEXT, MaskedIdentity


def test_dates_read_the_chinese_way_and_times_in_beijing_time() -> None:
    assert chinese_date(dt.date(2026, 12, 6)) == "2026年12月6日"
    at = dt.datetime(2026, 12, 6, 16, 3, 5, tzinfo=dt.UTC)
    assert chinese_datetime(at) == "2026年12月7日 00:03:05（北京时间 Beijing time）"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2031-09-27", "2031年9月27日"),
        ("2031-02-30", "2031-02-30"),  # not a date: as given
        ("2031-09-27T10:00", "2031-09-27T10:00"),
        ("热食类食品制售", "热食类食品制售"),
        (5, "5"),
    ],
)
def test_content_values_that_are_dates_print_as_chinese_dates(value: object, shown: str) -> None:
    assert content_value(value) == shown


def test_every_known_content_key_has_a_chinese_and_an_english_label() -> None:
    for key, (zh, en) in CONTENT_LABELS.items():
        assert zh and en and all(ord(ch) > 0x2E80 for ch in zh), key
        assert en.isascii()
    assert content_label("valid_until") == "有效期至 Valid until"
    assert content_label("经营项目") == "经营项目 Business activities"
    assert content_label("licence_class") == "其他信息 Other (licence_class)"


def test_the_holder_is_shown_masked_with_the_kind_of_credential() -> None:
    person = MaskedIdentity("natural_person", "resident_id", "张*", "1101**********002X")
    assert holder_text(person) == "张*（居民身份证 Resident ID 1101**********002X）"
    erased = MaskedIdentity("natural_person", "resident_id", ERASED_TEXT, ERASED_TEXT)
    assert holder_text(erased) == "个人信息已删除 personal data erased"
    assert holder_text(None) == "已隐去 withheld"
    assert set(CREDENTIAL_LABELS) == {k.value for k in CredentialKind}
