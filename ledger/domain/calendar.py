"""Working days and time limits in Asia/Shanghai, from a versioned holiday table.

Responsibility: say which dates are working days under the State Council holiday schedules
(statutory holidays and make-up working weekends, 调休), count working days, and compute the
due date of a time limit with special-procedure pauses (RULES.md "Time"; NH·15, ALL·45;
DESIGN invariant 7: store UTC, compute working days in Asia/Shanghai).

Layer: domain — standard library only (plus ``ledger.errors``), no clock reads: callers pass
dates, or aware datetimes that ``shanghai_date`` converts. The ``chinese_calendar`` package
(official schedules 2004–2026) is imported only inside ``HolidayTable.from_chinese_calendar``;
schedules for later years are added from a JSON data file with ``HolidayTable.with_file``.

Rules followed:
- A date is a working day when it is a make-up working day of its year's schedule, or a
  Monday–Friday that is not one of its holidays.
- A year with no published schedule is *provisional*: its working days are Monday–Friday, and a
  deadline counted through it is flagged provisional until the table is updated.
- Time limits count working days after the start date: the start itself is not counted
  (``add_working_days(start, 0) == start``).
- Working days inside a special procedure (特殊程序) do not count toward the time limit.

Data file format (UTF-8 JSON; each year replaces any schedule of that year already held)::

    {"version": "2027-state-council-2026-11",
     "years": {"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-06", ...]}}}
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import types
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ledger.errors import LedgerError

__all__ = [
    "MAX_DATA_FILE_BYTES",
    "MAX_WORKING_DAYS",
    "CalendarError",
    "Deadline",
    "HolidayDataError",
    "HolidayTable",
    "InvalidArgument",
    "YearSchedule",
    "add_working_days",
    "deadline",
    "default_table",
    "is_provisional",
    "is_working_day",
    "shanghai_date",
    "to_shanghai",
    "working_days_between",
]

MAX_WORKING_DAYS: Final = 10_000
"""Largest time limit accepted, in working days (about forty years)."""

MAX_DATA_FILE_BYTES: Final = 1_000_000
"""Largest holiday data file accepted."""


# --- errors -----------------------------------------------------------------------------------


class CalendarError(LedgerError, ValueError):
    """Root of the errors raised by this module (a ``LedgerError`` and a ``ValueError``)."""


class InvalidArgument(CalendarError):
    """An argument is of the wrong kind or out of range; ``argument`` names it."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument


class HolidayDataError(CalendarError):
    """A holiday schedule (data file or table content) is malformed."""


# --- time zone --------------------------------------------------------------------------------


@functools.cache
def _shanghai() -> _dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo("Asia/Shanghai")
    except zoneinfo.ZoneInfoNotFoundError:  # no tz database: China has kept UTC+8 since 1991
        return _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")


def to_shanghai(utc_datetime: _dt.datetime) -> _dt.datetime:
    """Return the same instant in Asia/Shanghai local time (for display).

    Precondition: an aware datetime (normally UTC, as stored). Raises ``InvalidArgument``
    for a naive datetime or anything that is not a datetime.
    """
    if not isinstance(utc_datetime, _dt.datetime):
        raise InvalidArgument(
            "utc_datetime", f"expected an aware datetime, got {type(utc_datetime).__name__}"
        )
    if utc_datetime.tzinfo is None or utc_datetime.utcoffset() is None:
        raise InvalidArgument("utc_datetime", "naive datetime: expected an aware datetime (UTC)")
    return utc_datetime.astimezone(_shanghai())


def shanghai_date(utc_datetime: _dt.datetime) -> _dt.date:
    """Return the calendar date in Asia/Shanghai of an instant. Raises like ``to_shanghai``."""
    return to_shanghai(utc_datetime).date()


# --- argument checks --------------------------------------------------------------------------


def _require_date(argument: str, value: object) -> _dt.date:
    if isinstance(value, _dt.datetime):
        raise InvalidArgument(
            argument, "expected a date, got a datetime: convert it with shanghai_date()"
        )
    if not isinstance(value, _dt.date):
        raise InvalidArgument(argument, f"expected a date, got {type(value).__name__}")
    return value


def _require_count(argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(argument, f"expected an int, got {type(value).__name__}")
    if value < 0:
        raise InvalidArgument(argument, f"must not be negative, got {value}")
    if value > MAX_WORKING_DAYS:
        raise InvalidArgument(argument, f"must be at most {MAX_WORKING_DAYS}, got {value}")
    return value


def _weekdays_through(d: _dt.date) -> int:
    # Monday–Friday dates from 0001-01-01 (a Monday, ordinal 1) through d inclusive.
    weeks, rest = divmod(d.toordinal(), 7)
    return 5 * weeks + min(rest, 5)


_ONE_DAY: Final = _dt.timedelta(days=1)


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's published schedule: holidays (放假) and make-up working days (调休上班)."""

    holidays: frozenset[_dt.date]
    workdays: frozenset[_dt.date]


@dataclass(frozen=True, slots=True)
class Deadline:
    """The due date of a time limit.

    ``provisional`` is true when some counted day lies in a year without a published schedule
    (counted on weekdays only); ``table_version`` identifies the holiday table used.
    """

    due: _dt.date
    provisional: bool
    table_version: str


@dataclass(frozen=True)
class HolidayTable:
    """Published holiday schedules by year, under a version string.

    Building one checks that every date lies in its year and that no date is both a holiday
    and a make-up working day (raises ``HolidayDataError``).
    """

    version: str
    years: Mapping[int, YearSchedule] = field(hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version:
            raise HolidayDataError("holiday table: version must be a non-empty string")
        checked: dict[int, YearSchedule] = {}
        for year, schedule in self.years.items():
            for d in schedule.holidays | schedule.workdays:
                if d.year != year:
                    raise HolidayDataError(f"holiday table: {d.isoformat()} listed under {year}")
            both = schedule.holidays & schedule.workdays
            if both:
                first = min(both).isoformat()
                raise HolidayDataError(
                    f"holiday table: {first} is both a holiday and a make-up working day"
                )
            checked[year] = schedule
        object.__setattr__(self, "years", types.MappingProxyType(checked))

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_chinese_calendar(cls) -> HolidayTable:
        """Build the table from the ``chinese_calendar`` package (State Council schedules,
        2004–2026 in version 1.11). Version: ``chinese_calendar-<package version>``."""
        import chinese_calendar

        holidays: dict[int, set[_dt.date]] = {}
        workdays: dict[int, set[_dt.date]] = {}
        for d in chinese_calendar.holidays:
            holidays.setdefault(d.year, set()).add(d)
        for d in chinese_calendar.workdays:
            workdays.setdefault(d.year, set()).add(d)
        years = {
            year: YearSchedule(frozenset(holidays.get(year, ())), frozenset(workdays.get(year, ())))
            for year in holidays.keys() | workdays.keys()
        }
        return cls(f"chinese_calendar-{chinese_calendar.__version__}", years)

    def with_years(self, version: str, years: Mapping[int, YearSchedule]) -> HolidayTable:
        """Return a table with ``years`` added (replacing any year already held) and the
        version ``<this version>+<version>``."""
        return HolidayTable(f"{self.version}+{version}", {**self.years, **years})

    def with_json(self, text: str | bytes) -> HolidayTable:
        """Return a table extended by a data file's content (format in the module docstring).

        Raises ``HolidayDataError`` naming the offending entry."""
        size = len(text.encode()) if isinstance(text, str) else len(text)
        if size > MAX_DATA_FILE_BYTES:
            raise HolidayDataError(f"holiday data: larger than {MAX_DATA_FILE_BYTES} bytes")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8
            raise HolidayDataError(f"holiday data: not valid JSON: {error}") from None
        version, years = _parse_holiday_data(data)
        return self.with_years(version, years)

    def with_file(self, path: str | os.PathLike[str]) -> HolidayTable:
        """Return a table extended by the JSON data file at ``path``.

        Raises ``HolidayDataError`` for a malformed or oversized file and ``OSError`` if the
        file cannot be read."""
        with open(path, "rb") as handle:
            content = handle.read(MAX_DATA_FILE_BYTES + 1)
        return self.with_json(content)

    # -- queries -------------------------------------------------------------------------------

    @property
    def published_years(self) -> frozenset[int]:
        """The years that have a published schedule."""
        return frozenset(self.years)

    def is_provisional(self, d: _dt.date) -> bool:
        """Whether ``d`` lies in a year with no published schedule (weekday rule applies)."""
        return _require_date("d", d).year not in self.years

    def is_working_day(self, d: _dt.date) -> bool:
        """Whether ``d`` is a working day (Monday–Friday only in a provisional year)."""
        _require_date("d", d)
        return self._is_working_day(d)

    def _is_working_day(self, d: _dt.date) -> bool:
        schedule = self.years.get(d.year)
        if schedule is None:
            return d.weekday() < 5
        return d in schedule.workdays or (d.weekday() < 5 and d not in schedule.holidays)

    def add_working_days(self, start: _dt.date, n: int) -> _dt.date:
        """Return the n-th working day after ``start`` (``start`` itself is not counted;
        ``n == 0`` returns ``start``).

        Preconditions: ``start`` is a date (not a datetime), ``0 <= n <= MAX_WORKING_DAYS``;
        raises ``InvalidArgument`` naming the argument otherwise."""
        return self.deadline(start, n).due

    def working_days_between(self, start: _dt.date, end: _dt.date) -> int:
        """Count the working days after ``start`` up to and including ``end``; negative (the
        count from ``end`` to ``start``) when ``end`` is before ``start``. So
        ``working_days_between(s, add_working_days(s, n)) == n``.

        Raises ``InvalidArgument`` if either is not a date."""
        _require_date("start", start)
        _require_date("end", end)
        if end < start:
            return -self.working_days_between(end, start)
        count = _weekdays_through(end) - _weekdays_through(start)
        for year in range(start.year, end.year + 1):
            schedule = self.years.get(year)
            if schedule is None:
                continue
            count -= sum(1 for h in schedule.holidays if start < h <= end and h.weekday() < 5)
            count += sum(1 for w in schedule.workdays if start < w <= end and w.weekday() >= 5)
        return count

    def deadline(
        self,
        start: _dt.date,
        n: int,
        pauses: Iterable[tuple[_dt.date, _dt.date]] = (),
    ) -> Deadline:
        """Return the deadline ``n`` working days after ``start``, not counting the working days
        inside any pause (a special procedure, inclusive ``(first day, last day)`` range).

        Preconditions: ``start`` and the pause bounds are dates, each pause's first day is not
        after its last, ``0 <= n <= MAX_WORKING_DAYS``; raises ``InvalidArgument`` naming the
        argument otherwise."""
        _require_date("start", start)
        _require_count("n", n)
        ranges = _check_pauses(pauses)
        due = start
        counted = 0
        try:
            while counted < n:
                due += _ONE_DAY
                if self._is_working_day(due) and not any(a <= due <= b for a, b in ranges):
                    counted += 1
        except OverflowError:
            raise InvalidArgument("n", "the deadline falls after the year 9999") from None
        first_counted = start + _ONE_DAY if n > 0 else start
        provisional = any(
            year not in self.years for year in range(first_counted.year, due.year + 1)
        )
        return Deadline(due, provisional, self.version)


def _check_pauses(
    pauses: Iterable[tuple[_dt.date, _dt.date]],
) -> tuple[tuple[_dt.date, _dt.date], ...]:
    ranges = []
    for i, pause in enumerate(pauses):
        name = f"pauses[{i}]"
        if not isinstance(pause, tuple) or len(pause) != 2:
            raise InvalidArgument(name, "expected a (first day, last day) pair of dates")
        first = _require_date(name, pause[0])
        last = _require_date(name, pause[1])
        if last < first:
            raise InvalidArgument(
                name, f"ends before it starts ({first.isoformat()} .. {last.isoformat()})"
            )
        ranges.append((first, last))
    return tuple(ranges)


def _parse_holiday_data(data: object) -> tuple[str, dict[int, YearSchedule]]:
    if not isinstance(data, dict) or set(data) != {"version", "years"}:
        raise HolidayDataError('holiday data: expected an object with "version" and "years"')
    version = data["version"]
    if not isinstance(version, str) or not version:
        raise HolidayDataError("holiday data: version must be a non-empty string")
    raw_years = data["years"]
    if not isinstance(raw_years, dict):
        raise HolidayDataError("holiday data: years must be an object keyed by year")
    years: dict[int, YearSchedule] = {}
    for key, entry in raw_years.items():
        where = f"holiday data: years[{key!r}]"
        if not (len(key) == 4 and key.isascii() and key.isdigit()):
            raise HolidayDataError(f"{where}: the key must be a four-digit year")
        year = int(key)
        if not isinstance(entry, dict) or set(entry) != {"holidays", "workdays"}:
            raise HolidayDataError(f'{where}: expected an object with "holidays" and "workdays"')
        lists: dict[str, frozenset[_dt.date]] = {}
        for name in ("holidays", "workdays"):
            items = entry[name]
            if not isinstance(items, list):
                raise HolidayDataError(f"{where}.{name}: expected a list of dates")
            lists[name] = frozenset(
                _parse_date(f"{where}.{name}[{i}]", item, year) for i, item in enumerate(items)
            )
        years[year] = YearSchedule(lists["holidays"], lists["workdays"])
    return version, years


def _parse_date(where: str, item: object, year: int) -> _dt.date:
    if not isinstance(item, str) or len(item) != 10 or item[4] != "-" or item[7] != "-":
        raise HolidayDataError(f"{where}: expected a date YYYY-MM-DD, got {item!r}")
    try:
        d = _dt.date.fromisoformat(item)
    except ValueError:
        raise HolidayDataError(f"{where}: {item!r} is not a calendar date") from None
    if d.year != year:
        raise HolidayDataError(f"{where}: {item} is not in {year}")
    return d


# --- the default table ------------------------------------------------------------------------


@functools.cache
def default_table() -> HolidayTable:
    """The table built from ``chinese_calendar``, built on first use and then reused."""
    return HolidayTable.from_chinese_calendar()


def is_working_day(d: _dt.date) -> bool:
    """``default_table().is_working_day(d)``."""
    return default_table().is_working_day(d)


def is_provisional(d: _dt.date) -> bool:
    """Whether ``d`` lies in a year with no published holiday schedule in the default table."""
    return default_table().is_provisional(d)


def add_working_days(start: _dt.date, n: int) -> _dt.date:
    """The n-th working day after ``start`` (not counting ``start``), by the default table."""
    return default_table().add_working_days(start, n)


def working_days_between(start: _dt.date, end: _dt.date) -> int:
    """``default_table().working_days_between(start, end)``."""
    return default_table().working_days_between(start, end)


def deadline(start: _dt.date, n: int, pauses: Iterable[tuple[_dt.date, _dt.date]] = ()) -> Deadline:
    """``default_table().deadline(start, n, pauses)``."""
    return default_table().deadline(start, n, pauses)
