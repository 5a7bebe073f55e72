"""Serial numbers (申请流水号) and approval codes (统一审批编码) of cases, and the daily counter.

Layer: domain (standard library, ``eventsourcing.domain``, ledger domain modules). RULES.md
"Case lifecycle" 3: the application receipt carries a serial number, the unique id of an
online application (GZ16·11, PY·11), and an approval code that finds the pre-review,
appointment, logistics, result and consultation records of the case (NH·11).

Both are built deterministically from what is passed in — no clock, no randomness::

    serial number   <department code>-<YYYYMMDD>-<NNNNNN><C>
    approval code   <implementation code>-<YYYYMMDD>-<NNNNNN><C>

``YYYYMMDD`` is the submission's business date in Asia/Shanghai, ``NNNNNN`` the department's
counter of that day (1-based, six digits), ``C`` the ISO/IEC 7064 MOD 37,36 check character
(GB/T 17710, as for e-certificate ids) over every other character with the ``-`` removed, so a
mistyped character at a kiosk or on the 12345 hotline is caught. The counter is a
:class:`DailyCounter` aggregate saved in the same command as the case, so two concurrent
submissions cannot take the same number (the second save conflicts and is retried).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.catalogue import ITEM_CODE_PATTERN
from ledger.domain.certificate_id import iso7064_mod37_36_check
from ledger.domain.departments import DEPARTMENT_CODE_PATTERN
from ledger.domain.rules import InvalidSerial
from ledger.domain.topics import keep_topics

__all__ = [
    "COUNTER_NAMESPACE",
    "MAX_DAILY_COUNT",
    "ApprovalCode",
    "DailyCounter",
    "SerialNumber",
    "approval_code",
    "parse_approval_code",
    "parse_serial",
    "serial_number",
]

COUNTER_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/serial-counters")
MAX_DAILY_COUNT: Final = 999_999
"""Most cases one department numbers in one day (six digits)."""
MAX_CODE_TEXT: Final = 128
_TAIL: Final = re.compile(r"([0-9]{8})-([0-9]{6})([0-9A-Z])")


def _check_character(*parts: str) -> str:
    return iso7064_mod37_36_check("".join(parts).replace("-", ""))


def _check_date(on: object) -> dt.date:
    if isinstance(on, dt.datetime) or not isinstance(on, dt.date):
        raise InvalidSerial("on", "must be a date (the business date in Asia/Shanghai)")
    return on


def _check_counter(counter: object) -> int:
    if isinstance(counter, bool) or not isinstance(counter, int):
        raise InvalidSerial("counter", "must be a whole number")
    if not 1 <= counter <= MAX_DAILY_COUNT:
        raise InvalidSerial("counter", f"must be between 1 and {MAX_DAILY_COUNT}")
    return counter


def _build(prefix: str, on: dt.date, counter: int) -> str:
    body = f"{prefix}-{_check_date(on):%Y%m%d}-{_check_counter(counter):06d}"
    return body + _check_character(body)


def _parse(field: str, text: object, prefix_pattern: re.Pattern[str]) -> tuple[str, dt.date, int]:
    if not isinstance(text, str) or not 0 < len(text) <= MAX_CODE_TEXT:
        raise InvalidSerial(field, f"must be text of 1–{MAX_CODE_TEXT} characters")
    prefix, dash, tail = text.rpartition("-")
    prefix, dash2, day = prefix.rpartition("-")
    match = _TAIL.fullmatch(f"{day}-{tail}")
    if not (dash and dash2 and match and prefix_pattern.fullmatch(prefix)):
        raise InvalidSerial(field, "expected <code>-<YYYYMMDD>-<NNNNNN><check character>")
    try:
        on = dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        raise InvalidSerial(field, f"{day} is not a calendar date") from None
    counter = int(match.group(2))
    expected = _check_character(text[:-1])
    if text[-1] != expected:
        raise InvalidSerial(
            field, f"wrong check character: expected {expected!r}, found {text[-1]!r}"
        )
    return prefix, on, _check_counter(counter)


@dataclass(frozen=True)
class SerialNumber:
    """A parsed 申请流水号: the department, the business date and that day's counter."""

    department: str
    on: dt.date
    counter: int

    def __str__(self) -> str:
        return serial_number(self.department, self.on, self.counter)


@dataclass(frozen=True)
class ApprovalCode:
    """A parsed 统一审批编码: the item's 实施编码, the business date and the counter."""

    item_code: str
    on: dt.date
    counter: int

    def __str__(self) -> str:
        return approval_code(self.item_code, self.on, self.counter)


def serial_number(department: str, on: dt.date, counter: int) -> str:
    """The serial number of the ``counter``-th case of ``department`` on ``on``.

    Raises :class:`InvalidSerial` naming the argument that is malformed."""
    if not isinstance(department, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(department):
        raise InvalidSerial("department", "must be a department code of 2–32 0-9, A-Z, '-'")
    return _build(department, on, counter)


def approval_code(item_code: str, on: dt.date, counter: int) -> str:
    """The approval code of the case with that counter, under the item's 实施编码.

    Raises :class:`InvalidSerial` naming the argument that is malformed."""
    if not isinstance(item_code, str) or not ITEM_CODE_PATTERN.fullmatch(item_code):
        raise InvalidSerial("item_code", "must be an implementation code of 2–64 0-9, A-Z, '-'")
    return _build(item_code, on, counter)


def parse_serial(text: str) -> SerialNumber:
    """Parse untrusted serial-number text (a kiosk query). Raises :class:`InvalidSerial`."""
    department, on, counter = _parse("serial", text, DEPARTMENT_CODE_PATTERN)
    return SerialNumber(department, on, counter)


def parse_approval_code(text: str) -> ApprovalCode:
    """Parse untrusted approval-code text. Raises :class:`InvalidSerial`."""
    item_code, on, counter = _parse("approval_code", text, ITEM_CODE_PATTERN)
    return ApprovalCode(item_code, on, counter)


class DailyCounter(Aggregate):
    """How many cases a department has numbered on one business day."""

    @staticmethod
    def create_id(department: str, on: dt.date) -> UUID:
        return uuid5(COUNTER_NAMESPACE, f"{department}/{on.isoformat()}")

    @classmethod
    def id_for(cls, department: str, on: dt.date) -> UUID:
        return cls.create_id(department, on)

    @classmethod
    def open(cls, department: str, on: dt.date) -> DailyCounter:
        """The counter of a day on which the department has numbered nothing yet."""
        if not isinstance(department, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(department):
            raise InvalidSerial("department", "must be a department code of 2–32 0-9, A-Z, '-'")
        return cls(department=department, on=_check_date(on))

    @event("Opened")
    def __init__(self, department: str, on: dt.date) -> None:
        self.department = department
        self.on = on
        self.count = 0

    @event("Allocated")
    def _allocated(self, number: int) -> None:
        self.count = number

    def allocate(self) -> int:
        """Take the next number of the day. Raises :class:`InvalidSerial` past the maximum."""
        return self.reserve(1)[0]

    def reserve(self, count: int, floor: int = 0) -> range:
        """Take the next ``count`` numbers of the day above both the counter and ``floor``
        (the highest number the installation knows was reserved, e.g. by history a restore
        lost), as one event (``Allocated`` records the highest number taken). Raises
        :class:`InvalidSerial` past the maximum."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidSerial("count", "must be a whole number of at least 1")
        if isinstance(floor, bool) or not isinstance(floor, int) or floor < 0:
            raise InvalidSerial("floor", "must be a whole number of at least 0")
        start = max(self.count, floor)
        last = start + count
        if last > MAX_DAILY_COUNT:
            if start >= MAX_DAILY_COUNT:
                raise InvalidSerial(
                    "counter", f"{self.department} numbered {MAX_DAILY_COUNT} cases on {self.on}"
                )
            last = MAX_DAILY_COUNT  # the day's last numbers: a shorter block
        first = start + 1
        self._allocated(last)
        return range(first, last + 1)


keep_topics(globals(), "ledger.serials")
