"""Kiosks serve around the clock (PY·20(一): "提供24小时'不打烊'服务"): the ledger knows no opening
hours, so a kiosk in service serves at night and on rest days, and an outage at night is an
outage — it counts toward PY·21's unavailable working days like one at noon."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk.fleet import FleetService
from ledger.domain.kiosks import retirement_grounds, unavailable_working_days
from tests.ledger.case_world import World, build_world

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


def night(day: int) -> tuple[dt.datetime, dt.datetime]:
    """An outage from 02:00 to 04:00 Shanghai time, when a hall's counters are closed."""
    return at(day, 2), at(day, 4)


def test_night_outages_on_five_working_days_make_a_kiosk_due_for_retirement_PY_20() -> None:
    # 2026-11-02 (Mon) … 11-06 (Fri): five working days, each with two hours out at night.
    nights = [night(d) for d in range(2, 7)]
    as_of = at(30, 12)
    assert unavailable_working_days(nights, 2026, 11, as_of=as_of) == 5
    assert retirement_grounds(nights, as_of=as_of) == [
        "unavailable on 5 working days in 2026-11 (≥ 5)"
    ]
    # Four such nights are not enough (PY·21: ≥ 5 working days in a calendar month).
    assert retirement_grounds(nights[:4], as_of=as_of) == []


def test_a_night_outage_on_a_rest_day_is_not_a_working_day_PY_20() -> None:
    # 2026-11-07 and 11-08 are Saturday and Sunday: out of service, but not working days.
    weekend = [night(7), night(8)]
    assert unavailable_working_days(weekend, 2026, 11, as_of=at(30, 12)) == 0


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)


def test_a_kiosk_in_service_serves_at_night_and_on_rest_days_PY_20(world: World) -> None:
    kiosk = FleetService(world.ledger).register(
        kiosk_id="GZ-TH-024",
        location="广州市天河区政务服务中心 24小时自助区",
        key_id=world.kiosk.key_id,
        department="GZ-SCJG",
        at=at(2, 10),
        signer=world.platform,
    )
    for when in (at(3, 3), at(8, 3), at(8, 23)):  # Tuesday 03:00, Sunday 03:00 and 23:00
        assert kiosk.serves_at(when), when
