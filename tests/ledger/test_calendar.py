"""Working days and time limits (RULES.md "Time"; NH·15, ALL·45; DESIGN invariant 7).

Holiday facts are the State Council schedules as carried by the ``chinese_calendar`` package;
each test below names the schedule it relies on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.calendar import (
    MAX_DATA_FILE_BYTES,
    MAX_WORKING_DAYS,
    CalendarError,
    Deadline,
    HolidayDataError,
    HolidayTable,
    InvalidArgument,
    add_working_days,
    deadline,
    default_table,
    is_provisional,
    is_working_day,
    shanghai_date,
    to_shanghai,
    working_days_between,
)
from ledger.errors import LedgerError

D = dt.date
UTC = dt.UTC

# A 2027 schedule for tests only (no 2027 schedule had been published when this was written).
TEST_2027 = {
    "version": "test-2027",
    "years": {
        "2027": {
            "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
            "workdays": ["2027-01-09"],
        }
    },
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- the examples of the issue (State Council 2026 schedule) ---------------------------------


def test_twenty_working_days_from_acceptance_on_2026_09_28_end_on_2026_10_30_NH_14() -> None:
    # 2026: Mid-autumn 9-25..27, National Day 10-1..7 off; Saturday 10-10 is a working day.
    assert add_working_days(D(2026, 9, 28), 20) == D(2026, 10, 30)


def test_a_five_working_day_special_procedure_extends_the_deadline_to_2026_11_06_ALL_45() -> None:
    result = deadline(D(2026, 9, 28), 20, pauses=[(D(2026, 10, 12), D(2026, 10, 16))])
    assert result == Deadline(D(2026, 11, 6), False, default_table().version)


# --- published schedules ----------------------------------------------------------------------


def test_national_day_2025_holidays_and_make_up_working_days_State_Council_2025() -> None:
    for day in range(1, 9):  # 2025-10-01 .. 10-08 off
        assert not is_working_day(D(2025, 10, day))
    assert is_working_day(D(2025, 9, 28))  # a Sunday, worked
    assert is_working_day(D(2025, 10, 11))  # a Saturday, worked
    assert add_working_days(D(2025, 9, 26), 1) == D(2025, 9, 28)  # Friday → the working Sunday
    assert add_working_days(D(2025, 9, 30), 1) == D(2025, 10, 9)
    assert add_working_days(D(2025, 10, 10), 1) == D(2025, 10, 11)
    assert working_days_between(D(2025, 9, 26), D(2025, 10, 12)) == 6  # 9-28, 29, 30, 10-9, 10, 11


def test_spring_festival_2026_is_skipped_and_its_make_up_saturdays_count_State_Council_2026() -> (
    None
):
    # 2026: Spring Festival 2-15..23 off; Saturdays 2-14 and 2-28 worked.
    assert add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert add_working_days(D(2026, 2, 14), 1) == D(2026, 2, 24)
    assert add_working_days(D(2026, 2, 24), 4) == D(2026, 2, 28)
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6


def test_a_make_up_working_sunday_is_a_working_day_State_Council_2026() -> None:
    assert D(2026, 1, 4).weekday() == 6
    assert is_working_day(D(2026, 1, 4))
    assert not is_working_day(D(2026, 1, 2))  # a Friday inside the New Year holiday


def test_the_default_table_agrees_with_chinese_calendar_on_every_day_2004_to_2026() -> None:
    table = default_table()
    day, last = D(2004, 1, 1), D(2026, 12, 31)
    while day <= last:
        assert table.is_working_day(day) == chinese_calendar.is_workday(day), day
        assert not table.is_provisional(day)
        day += dt.timedelta(days=1)
    assert table.version == f"chinese_calendar-{chinese_calendar.__version__}"
    assert table.published_years == frozenset(range(2004, 2027))


# --- years without a published schedule -------------------------------------------------------


def test_a_deadline_into_2027_is_counted_on_weekdays_and_flagged_provisional_RULES_time() -> None:
    assert is_provisional(D(2027, 3, 1))
    assert not is_provisional(D(2026, 12, 31))
    result = deadline(D(2026, 12, 21), 10)
    # 12-22..25, 12-28..31, then 2027-01-01 (a Friday, counted on the weekday rule), 01-04.
    assert result.due == D(2027, 1, 4)
    assert result.provisional


def test_a_deadline_inside_a_published_year_is_not_provisional() -> None:
    assert not deadline(D(2026, 12, 1), 10).provisional
    assert deadline(D(2027, 5, 3), 0) == Deadline(D(2027, 5, 3), True, default_table().version)


def test_a_data_file_adding_2027_makes_the_deadline_final_and_names_the_new_version(
    tmp_path: Path,
) -> None:
    table = default_table().with_file(_write(tmp_path, TEST_2027))
    assert table.version == f"{default_table().version}+test-2027"
    assert not table.is_provisional(D(2027, 3, 1))
    result = table.deadline(D(2026, 12, 21), 10)
    # 12-22..25, 12-28..31, then 2027-01-01..03 off, 01-04, 01-05.
    assert result == Deadline(D(2027, 1, 5), False, table.version)
    assert table.is_working_day(D(2027, 1, 9))  # the test schedule's make-up Saturday
    assert default_table().is_provisional(D(2027, 3, 1))  # the default table is unchanged


def test_a_data_file_year_replaces_the_packaged_schedule_of_that_year(tmp_path: Path) -> None:
    data = {"version": "fix-2026", "years": {"2026": {"holidays": [], "workdays": []}}}
    table = default_table().with_file(_write(tmp_path, data))
    assert table.is_working_day(D(2026, 10, 2))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "expected an object"),
        ({"version": "v", "years": {}, "extra": 1}, "expected an object"),
        ({"version": "", "years": {}}, "version must be a non-empty string"),
        ({"version": "v", "years": {"27": {"holidays": [], "workdays": []}}}, "four-digit year"),
        ({"version": "v", "years": {"2027": {"holidays": []}}}, '"holidays" and "workdays"'),
        ({"version": "v", "years": {"2027": {"holidays": "2027-01-01", "workdays": []}}}, "list"),
        (
            {"version": "v", "years": {"2027": {"holidays": ["2027-02-30"], "workdays": []}}},
            "not a calendar date",
        ),
        (
            {"version": "v", "years": {"2027": {"holidays": ["20270101"], "workdays": []}}},
            "YYYY-MM-DD",
        ),
        (
            {"version": "v", "years": {"2027": {"holidays": ["2028-01-01"], "workdays": []}}},
            "not in 2027",
        ),
        (
            {
                "version": "v",
                "years": {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}},
            },
            "both a holiday and a make-up working day",
        ),
    ],
)
def test_a_malformed_data_file_is_refused_naming_the_problem(
    tmp_path: Path, data: object, problem: str
) -> None:
    with pytest.raises(HolidayDataError, match=problem):
        default_table().with_file(_write(tmp_path, data))


def test_a_data_file_that_is_not_json_or_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b"{not json")
    with pytest.raises(HolidayDataError, match="not valid JSON"):
        default_table().with_file(path)
    path.write_bytes(b" " * (MAX_DATA_FILE_BYTES + 1))
    with pytest.raises(HolidayDataError, match="larger than"):
        default_table().with_file(path)


# --- pauses (special procedures, NH·15, ALL·45) -----------------------------------------------


def test_a_pause_before_the_start_or_after_the_due_date_changes_nothing() -> None:
    start = D(2026, 9, 28)
    plain = deadline(start, 20).due
    assert deadline(start, 20, [(D(2026, 9, 1), D(2026, 9, 25))]).due == plain
    assert deadline(start, 20, [(D(2026, 11, 2), D(2026, 11, 30))]).due == plain


def test_overlapping_pauses_count_each_paused_working_day_once() -> None:
    pauses = [(D(2026, 10, 12), D(2026, 10, 14)), (D(2026, 10, 13), D(2026, 10, 16))]
    assert deadline(D(2026, 9, 28), 20, pauses).due == D(2026, 11, 6)


def test_a_pause_over_holidays_only_extends_by_its_working_days() -> None:
    # 2026-10-01..07 are holidays and 10-08 a working day: one working day paused.
    assert deadline(D(2026, 9, 28), 20, [(D(2026, 10, 1), D(2026, 10, 8))]).due == D(2026, 11, 2)


# --- counting properties ----------------------------------------------------------------------

dates = st.dates(min_value=D(2003, 6, 1), max_value=D(2028, 6, 30))


def _naive_working_days_between(start: dt.date, end: dt.date) -> int:
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_working_day(day)
    return count


@given(dates, dates)
def test_working_days_between_matches_a_day_by_day_count(a: dt.date, b: dt.date) -> None:
    start, end = min(a, b), max(a, b)
    expected = _naive_working_days_between(start, end)
    assert working_days_between(start, end) == expected
    assert working_days_between(end, start) == -expected


@given(dates, st.integers(min_value=0, max_value=400))
def test_add_working_days_lands_on_a_working_day_exactly_n_working_days_later(
    start: dt.date, n: int
) -> None:
    due = add_working_days(start, n)
    assert working_days_between(start, due) == n
    if n:
        assert is_working_day(due)
        assert working_days_between(start, due - dt.timedelta(days=1)) == n - 1


def test_zero_working_days_is_the_start_itself() -> None:
    assert add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 3)


# --- invalid input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: add_working_days(D(2026, 1, 5), -1), "n"),
        (lambda: add_working_days(D(2026, 1, 5), MAX_WORKING_DAYS + 1), "n"),
        (lambda: add_working_days(D(2026, 1, 5), True), "n"),
        (lambda: add_working_days(dt.datetime(2026, 1, 5, tzinfo=UTC), 1), "start"),
        (lambda: add_working_days("2026-01-05", 1), "start"),  # type: ignore[arg-type]
        (lambda: is_working_day(dt.datetime(2026, 1, 5)), "d"),
        (lambda: is_provisional("2027-01-01"), "d"),  # type: ignore[arg-type]
        (lambda: working_days_between(D(2026, 1, 5), None), "end"),  # type: ignore[arg-type]
        (lambda: deadline(D(2026, 1, 5), 3, [(D(2026, 1, 9), D(2026, 1, 8))]), "pauses[0]"),
        (lambda: deadline(D(2026, 1, 5), 3, [D(2026, 1, 9)]), "pauses[0]"),  # type: ignore[list-item]
        (lambda: shanghai_date(dt.datetime(2026, 1, 5, 12)), "utc_datetime"),
        (lambda: to_shanghai(D(2026, 1, 5)), "utc_datetime"),  # type: ignore[arg-type]
    ],
)
def test_invalid_arguments_raise_a_value_error_naming_the_argument(
    call: object, argument: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        call()  # type: ignore[operator]
    assert caught.value.argument == argument
    assert str(caught.value).startswith(f"{argument}: ")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, LedgerError)
    assert issubclass(HolidayDataError, CalendarError)


def test_a_deadline_past_the_year_9999_is_refused_naming_n() -> None:
    with pytest.raises(InvalidArgument, match=r"^n: "):
        deadline(D(9999, 12, 1), 30)


# --- time zone (DESIGN invariant 7) -----------------------------------------------------------


def test_the_shanghai_date_of_a_utc_instant_turns_over_at_16_00_utc() -> None:
    assert shanghai_date(dt.datetime(2026, 9, 27, 15, 59, 59, tzinfo=UTC)) == D(2026, 9, 27)
    assert shanghai_date(dt.datetime(2026, 9, 27, 16, 0, tzinfo=UTC)) == D(2026, 9, 28)
    local = to_shanghai(dt.datetime(2026, 9, 27, 16, 0, tzinfo=UTC))
    assert (local.hour, local.utcoffset()) == (0, dt.timedelta(hours=8))


# --- values and loading -----------------------------------------------------------------------


def test_tables_and_deadlines_are_frozen_values() -> None:
    table = default_table()
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        table.years[2030] = table.years[2026]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        deadline(D(2026, 1, 5), 1).due = D(2026, 1, 7)  # type: ignore[misc]
    assert default_table() is table  # built once, then cached
    assert hash(table) == hash(HolidayTable.from_chinese_calendar())


def test_importing_the_calendar_builds_nothing_and_does_not_load_chinese_calendar() -> None:
    code = "import sys, ledger.domain.calendar; assert 'chinese_calendar' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
