"""Card swallowing (吞卡, PY·21(二)): "涉及插入式读写卡设备的，需明确紧急取卡措施，以及非工作日
紧急联络方式和解决时限，确保吞卡后能为使用人提供有效帮助".

The department publishes the kiosk's emergency contact, retrieval measure and resolution limits
(a working day's and a non-working day's); a swallowed card is held to the limit of its day
(Asia/Shanghai calendar, 2026: 10-01..10-07 National Day, Sat 10-10 a make-up working day), and
the fleet view flags one past its limit, and one swallowed where no contact was published."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kiosk.fleet import FleetService
from kiosk.pages import card_swallow_contact
from ledger.domain.kiosks import CardSwallowPlan, InvalidKiosk, KioskNotInService
from ledger.storage.urls import parse_storage_url
from projections.kiosk_fleet import KioskFleetView, emergency_contacts, supervision_flags
from projections.runner import catch_up, open_view, rebuild
from tests.ledger.case_world import World, build_world

SH = dt.timezone(dt.timedelta(hours=8))
CONTACT = "020-12345678（非工作日值班）"


def at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    y, m, d = map(int, day.split("-"))
    return dt.datetime(y, m, d, hour, minute, tzinfo=SH)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)


def _fleet(world: World, *kiosk_ids: str) -> FleetService:
    service = FleetService(world.ledger)
    for kiosk_id in kiosk_ids:
        service.register(
            kiosk_id=kiosk_id,
            location="广州市天河区政务服务中心",
            key_id=world.kiosk.key_id,
            department="GZ-SCJG",
            at=at("2026-09-01"),
            signer=world.platform,
        )
    return service


def _publish(service: FleetService, world: World, kiosk_id: str, **over: Any) -> None:
    values: dict[str, Any] = {
        "contact": CONTACT,
        "retrieval_measure": "值班人员持钥匙开柜取卡，核对身份后交还",
        "working_day_hours": 2,
        "non_working_day_hours": 24,
    }
    plan = CardSwallowPlan(**(values | over))
    service.publish_emergency_contact(kiosk_id, plan, at=at("2026-09-02"), signer=world.platform)


def _flags(world: World, as_of: dt.datetime) -> set[tuple[str, str]]:
    view: Any = open_view(KioskFleetView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    return {(f.kiosk_id, f.kind) for f in supervision_flags(view, as_of)}


def test_a_swallowed_card_is_held_to_its_days_limit_PY_21(world: World) -> None:
    service = _fleet(world, "GZ-TH-001")
    _publish(service, world, "GZ-TH-001")
    # Monday 09-28, a working day: 2 hours; given back after 1 h 30 — in time.
    first = service.record_card_swallow("GZ-TH-001", at=at("2026-09-28"), signer=world.kiosk)
    late = service.resolve_card_swallow(
        "GZ-TH-001", first, at=at("2026-09-28", 11, 30), how="现场取卡交还", signer=world.kiosk
    )
    assert late is False
    # Thursday 10-01, National Day: the non-working day's 24 hours, due 10-02 10:00.
    second = service.record_card_swallow("GZ-TH-001", at=at("2026-10-01"), signer=world.kiosk)
    assert _flags(world, at("2026-10-02", 9)) == set()
    assert _flags(world, at("2026-10-02", 11)) == {("GZ-TH-001", "card_swallow_overdue")}
    service.resolve_card_swallow(
        "GZ-TH-001", second, at=at("2026-10-02", 10), how="值班人员取卡", signer=world.platform
    )
    assert _flags(world, at("2026-10-09")) == set()  # resolved exactly at its deadline
    # Saturday 10-10 is a make-up working day: 2 hours, and 3 hours is late.
    third = service.record_card_swallow("GZ-TH-001", at=at("2026-10-10"), signer=world.kiosk)
    assert service.resolve_card_swallow(
        "GZ-TH-001", third, at=at("2026-10-10", 13), how="次日取卡", signer=world.kiosk
    )
    view: Any = open_view(KioskFleetView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    details = [f.detail for f in supervision_flags(view, at("2026-10-12"))]
    assert len(details) == 1 and "card 3" in details[0] and "working day, 2 h limit" in details[0]
    assert emergency_contacts(view)["GZ-TH-001"]["contact"] == CONTACT
    assert rebuild(KioskFleetView, parse_storage_url(world.url), world.ledger).identical


def test_a_swallow_where_no_contact_was_published_is_flagged_PY_21(world: World) -> None:
    service = _fleet(world, "GZ-YX-002")
    service.record_card_swallow("GZ-YX-002", at=at("2026-09-28"), signer=world.kiosk)
    assert _flags(world, at("2026-09-28", 11)) == {("GZ-YX-002", "card_swallow_no_contact")}


@pytest.mark.parametrize(
    ("field", "over"),
    [
        ("working_day_hours", {"working_day_hours": 0}),
        ("non_working_day_hours", {"non_working_day_hours": 73}),
        ("non_working_day_hours", {"non_working_day_hours": True}),
        ("contact", {"contact": " "}),
        ("retrieval_measure", {"retrieval_measure": ""}),
    ],
)
def test_a_malformed_publication_is_refused_naming_the_field_and_records_nothing(
    world: World, field: str, over: dict[str, Any]
) -> None:
    service = _fleet(world, "GZ-TH-001")
    head = world.head()
    with pytest.raises(InvalidKiosk) as caught:
        _publish(service, world, "GZ-TH-001", **over)
    assert caught.value.field == field
    assert world.head() == head


def test_resolutions_are_checked(world: World) -> None:
    service = _fleet(world, "GZ-TH-001")
    number = service.record_card_swallow("GZ-TH-001", at=at("2026-09-28"), signer=world.kiosk)
    with pytest.raises(InvalidKiosk, match="after the card was swallowed"):
        service.resolve_card_swallow(
            "GZ-TH-001", number, at=at("2026-09-28", 9), how="x", signer=world.kiosk
        )
    service.resolve_card_swallow(
        "GZ-TH-001", number, at=at("2026-09-28", 11), how="交还", signer=world.kiosk
    )
    with pytest.raises(InvalidKiosk, match="no unresolved card swallow 1"):
        service.resolve_card_swallow(
            "GZ-TH-001", number, at=at("2026-09-28", 12), how="x", signer=world.kiosk
        )
    service.retire("GZ-TH-001", at=at("2026-09-29"), reason="撤除", signer=world.platform)
    with pytest.raises(KioskNotInService):
        _publish(service, world, "GZ-TH-001")


def test_the_kiosk_screen_shows_its_card_swallow_contact_PY_21(world: World) -> None:
    service = _fleet(world, "GZ-TH-001")
    kiosk = service.kiosk("GZ-TH-001")
    assert kiosk is not None and card_swallow_contact(kiosk.emergency) == ""
    _publish(service, world, "GZ-TH-001", contact="020-1234 <值班>")
    kiosk = service.kiosk("GZ-TH-001")
    assert kiosk is not None
    html = card_swallow_contact(kiosk.emergency)
    assert "020-1234 &lt;值班&gt;" in html and "非工作日 24 小时内" in html and "PY·21(二)" in html
