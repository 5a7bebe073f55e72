"""The kiosk fleet (PY·21): notice bands and late notices over weekends and holidays,
retirement after a week in a row or 5 working days in a month (third-party causes excepted),
the supervision flags of the read model, and a rebuild that gives the same rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kiosk.fleet import FleetService
from ledger.domain.kiosks import (
    InvalidKiosk,
    KioskNotInService,
    NoticeBand,
    notice_is_late,
    notice_rule,
    retirement_grounds,
)
from ledger.services.application import KeyNotUsable
from ledger.storage.urls import parse_storage_url
from projections.kiosk_fleet import KioskFleetView, fleet, supervision_flags
from projections.runner import catch_up, open_view, rebuild
from tests.ledger.case_world import World, build_world

SH = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    y, m, d = map(int, day.split("-"))
    return dt.datetime(y, m, d, hour, minute, tzinfo=SH)


# 2026: Fri 09-25 is the Mid-Autumn holiday; 10-01..10-07 National Day; Sat 10-10 a make-up
# working day (chinese-calendar's published schedule).


@pytest.mark.parametrize(
    ("start", "end", "band"),
    [
        (at("2026-09-28", 10), at("2026-09-28", 11), NoticeBand.HOUR),
        (at("2026-09-28", 10), at("2026-09-28", 14), NoticeBand.SHORT),
        (at("2026-09-26", 0), at("2026-09-28", 0), NoticeBand.SHORT),  # a weekend: 0 working days
        (at("2026-10-01", 0), at("2026-10-08", 0), NoticeBand.SHORT),  # Golden Week: 0 working days
        (at("2026-09-28", 0), at("2026-10-09", 0), NoticeBand.FORTNIGHT),  # 3 + Oct 8 = 4
        (at("2026-10-12", 0), at("2026-10-26", 0), NoticeBand.FORTNIGHT),  # exactly two weeks
        (at("2026-10-12", 0), at("2026-10-27", 0), NoticeBand.LONG),
    ],
)
def test_a_suspension_falls_in_its_py21_band(
    start: dt.datetime, end: dt.datetime, band: NoticeBand
) -> None:
    rule = notice_rule(start, end)
    assert rule.band is band
    assert rule.removal == (band in (NoticeBand.FORTNIGHT, NoticeBand.LONG))
    assert rule.reregistration == (band is NoticeBand.LONG)


@pytest.mark.parametrize(
    ("notified", "start", "hours", "late"),
    [
        # one hour on Monday: the weekend and Friday's holiday lie between, Monday counts
        (at("2026-09-24", 17), at("2026-09-28", 10), 1, False),
        (at("2026-09-26", 12), at("2026-09-28", 10), 1, False),  # Saturday for Monday
        (at("2026-09-28", 8), at("2026-09-28", 10), 1, True),  # the same day
        # four hours on Monday need 2 working days: Thursday is 1 because Friday is a holiday
        (at("2026-09-24", 9), at("2026-09-28", 14), 4, True),
        (at("2026-09-23", 9), at("2026-09-28", 14), 4, False),
        # over National Day: only Oct 8 and Oct 9 are working days after Sep 30
        (at("2026-09-30", 9), at("2026-10-09", 10), 4, False),
        (at("2026-10-08", 9), at("2026-10-09", 10), 4, True),
        # the make-up Saturday counts: Fri Oct 9 → Sat Oct 10, Mon Oct 12
        (at("2026-10-09", 9), at("2026-10-12", 10), 4, False),
        # five working days for a week's suspension (removal)
        (at("2026-10-13", 9), at("2026-10-19", 0), 24 * 6, True),
        (at("2026-10-12", 9), at("2026-10-19", 0), 24 * 6, False),
    ],
)
def test_late_notices_count_working_days_over_weekends_and_holidays(
    notified: dt.datetime, start: dt.datetime, hours: int, late: bool
) -> None:
    rule = notice_rule(start, start + dt.timedelta(hours=hours))
    assert notice_is_late(notified, start, rule) is late


def test_retirement_after_a_week_in_a_row_or_five_working_days_in_a_month() -> None:
    week = [(at("2026-10-12"), at("2026-10-19", 11))]
    assert retirement_grounds(week, as_of=at("2026-11-01"))[0].startswith("unavailable 7 days")
    open_fault = [(at("2026-10-12"), None)]
    assert retirement_grounds(open_fault, as_of=at("2026-10-18")) == [
        "unavailable on 5 working days in 2026-10 (≥ 5)"
    ]
    assert retirement_grounds(open_fault, as_of=at("2026-10-15")) == []  # Mon–Thu: 4 days
    five = [(at(f"2026-10-{d:02d}", 9), at(f"2026-10-{d:02d}", 10)) for d in (8, 9, 10, 12, 13)]
    assert retirement_grounds(five, as_of=at("2026-11-01")) == [
        "unavailable on 5 working days in 2026-10 (≥ 5)"
    ]
    holidays = [
        (at(f"2026-10-{d:02d}", 9), at(f"2026-10-{d:02d}", 10)) for d in (1, 2, 3, 4, 5, 11)
    ]
    assert retirement_grounds(holidays, as_of=at("2026-11-01")) == []  # none a working day
    split = [
        *five[:3],
        (at("2026-11-02", 9), at("2026-11-02", 10)),
        (at("2026-11-03", 9), at("2026-11-03", 10)),
    ]
    assert retirement_grounds(split, as_of=at("2026-12-01")) == []  # two calendar months


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)


def _register(
    fleet_service: FleetService,
    world: World,
    kiosk_id: str,
    *,
    location: str = "x",
    key_id: bytes | None = None,
    signer: Any = None,
) -> Any:
    """Register ``kiosk_id`` on 1 September 2026 for GZ-SCJG: the world's kiosk key, signed by
    the platform unless ``key_id`` or ``signer`` say otherwise."""
    return fleet_service.register(
        kiosk_id=kiosk_id,
        location=location,
        key_id=key_id or world.kiosk.key_id,
        department="GZ-SCJG",
        at=at("2026-09-01"),
        signer=signer or world.platform,
    )


def test_the_fleet_flags_late_notices_and_kiosks_due_for_retirement(world: World) -> None:
    fleet_service = FleetService(world.ledger)
    for kiosk_id in ("GZ-TH-001", "GZ-YX-002", "GZ-HZ-003"):
        _register(fleet_service, world, kiosk_id, location=f"广州 {kiosk_id}")
    late = fleet_service.plan_suspension(
        "GZ-TH-001",
        start=at("2026-09-28", 14),
        end=at("2026-09-28", 18),
        notified_at=at("2026-09-24", 9),
        reason="系统升级",
        signer=world.food,
    )
    assert late.band is NoticeBand.SHORT
    fleet_service.plan_suspension(
        "GZ-TH-001",
        start=at("2026-10-12", 10),
        end=at("2026-10-12", 11),
        notified_at=at("2026-10-09", 9),
        reason="更换打印纸",
        signer=world.food,
    )
    for day in ("2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16"):
        fleet_service.report_fault(
            "GZ-YX-002", at=at(day, 9), cause="equipment", signer=world.kiosk
        )
        fleet_service.resume("GZ-YX-002", at=at(day, 12), signer=world.kiosk)
    fleet_service.report_fault(
        "GZ-HZ-003",
        at=at("2026-10-12"),
        cause="third_party",
        note="商场停电",
        signer=world.platform,
    )
    fleet_service.resume("GZ-HZ-003", at=at("2026-10-30"), signer=world.platform)
    fleet_service.plan_suspension(
        "GZ-HZ-003",
        start=at("2026-11-02"),
        end=at("2026-11-30"),
        notified_at=at("2026-10-20"),
        reason="场地改造",
        signer=world.platform,
    )

    view: Any = open_view(KioskFleetView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    flags = {(f.kiosk_id, f.kind) for f in supervision_flags(view, at("2026-11-01"))}
    assert flags == {
        ("GZ-TH-001", "late_notice"),
        ("GZ-YX-002", "retirement_due"),
        ("GZ-HZ-003", "reregistration_required"),  # third-party outage: no retirement flag
    }
    rows = {r["kiosk_id"]: r["status"] for r in fleet(view)}
    assert rows == {
        "GZ-TH-001": "in_service",
        "GZ-YX-002": "in_service",
        "GZ-HZ-003": "reregistration_required",
    }

    fleet_service.retire("GZ-YX-002", at=at("2026-11-02"), reason="故障频发", signer=world.platform)
    catch_up(view, world.ledger)
    assert ("GZ-YX-002", "retirement_due") not in {
        (f.kiosk_id, f.kind) for f in supervision_flags(view, at("2026-11-03"))
    }
    assert rebuild(KioskFleetView, parse_storage_url(world.url), world.ledger).identical


def test_fleet_commands_check_their_signer_and_state(world: World) -> None:
    fleet_service = FleetService(world.ledger)
    with pytest.raises(KeyNotUsable):
        _register(fleet_service, world, "GZ-TH-009", signer=world.portal)
    with pytest.raises(InvalidKiosk, match="kiosk key"):
        _register(fleet_service, world, "GZ-TH-009", key_id=world.food.key_id)
    _register(fleet_service, world, "GZ-TH-009")
    with pytest.raises(KioskNotInService):
        fleet_service.resume("GZ-TH-009", at=at("2026-09-02"), signer=world.platform)
    with pytest.raises(InvalidKiosk, match="before the suspension"):
        fleet_service.plan_suspension(
            "GZ-TH-009",
            start=at("2026-09-02"),
            end=at("2026-09-03"),
            notified_at=at("2026-09-04"),
            reason="x",
            signer=world.platform,
        )
    with pytest.raises(InvalidKiosk):
        _register(fleet_service, world, "bad id")
