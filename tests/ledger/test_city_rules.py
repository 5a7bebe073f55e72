"""Per-city rules where the seeds differ, the stricter one by default (RULES.md "Further
obligations"): NH·9 no refusal ground at all for an appointment; NH·25 no 3-month limit on the
blacklist restriction; NH·25(二) unrelated content in forms as a counted ground."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.domain.appointments import BookingStatus, RefusalGround
from ledger.domain.blacklist import BlacklistGround
from ledger.domain.city_rules import GUANGZHOU, NANHAI, STRICTER, rules_for
from ledger.domain.departments import Department
from ledger.domain.rules import AppointmentRefusalNotAllowed, InvalidBlacklisting
from ledger.services.domain_services import AppointmentService, BlacklistService
from tests.ledger.domain_world import ISSUER, OFFICE, OTHER, World, at, world_at

START = at("2025-10-09", 9)


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    with world_at(sqlite_url) as w:
        yield w


def _register(world: World, code: str, city: str, seal: object) -> None:
    department = Department.register(code, f"{city}某局", city, seal.key_id)  # type: ignore[attr-defined]
    world.app.save_signed(department, signer=world.platform)


def _booked(
    world: World, service: AppointmentService, department: str, seal: object
) -> tuple[Any, UUID]:
    return world.booked_slot(
        seal,  # type: ignore[arg-type]
        department,
        world.applicant(level="basic"),  # booking needs the basic level (FZ·8)
        START,
        at("2025-09-30"),
        hall="HALL",
        length=dt.timedelta(minutes=30),
        service=service,
    )


def _refuse(world: World, service: AppointmentService, department: str, seal: object) -> UUID:
    slot, booking = _booked(world, service, department, seal)
    world.refused(
        AppointmentRefusalNotAllowed,
        lambda: service.refuse(
            slot.id,
            signer=seal,  # type: ignore[arg-type]
            booking_id=booking,
            ground=RefusalGround.LACKS_REQUIRED_MATERIALS,
            details="缺少原件",
            at=START + dt.timedelta(minutes=5),
        ),
    )
    assert service.slot(slot.id).status(booking) is BookingStatus.BOOKED
    return slot.id


def test_a_nanhai_hall_may_not_refuse_a_successful_appointment_on_any_ground_NH_9(
    world: World,
) -> None:
    _register(world, OTHER, "南海", world.other)
    service = AppointmentService(world.app, unregistered=GUANGZHOU)
    _refuse(world, service, OTHER, world.other)
    assert service.city_of(OTHER) is NANHAI


def test_an_unknown_city_gets_the_stricter_rule_no_refusal_NH_9(world: World) -> None:
    _register(world, OTHER, "某市", world.other)
    service = AppointmentService(world.app)
    assert service.city_of(OTHER) is STRICTER and service.city_of("UNREGISTERED") is STRICTER
    _refuse(world, service, OTHER, world.other)


def test_a_guangzhou_hall_refuses_on_the_three_grounds_GZ20_9(world: World) -> None:
    service = AppointmentService(world.app)  # the world registers ISSUER in 广州
    assert service.city_of(ISSUER) is GUANGZHOU
    slot, booking = _booked(world, service, ISSUER, world.issuer)
    service.refuse(
        slot.id,
        signer=world.issuer,
        booking_id=booking,
        ground=RefusalGround.OUT_OF_SCOPE,
        details="非本大厅受理范围",
        at=START + dt.timedelta(minutes=5),
    )
    assert service.slot(slot.id).status(booking) is BookingStatus.REFUSED


def _blacklist(service: BlacklistService, world: World, applicant: UUID, **kw: object) -> None:
    service.blacklist(
        applicant,
        signer=world.supervisor,
        authority=OFFICE,
        ground=kw.get("ground", BlacklistGround.FALSE_MATERIALS),  # type: ignore[arg-type]
        facts=kw.get("facts", ["case:GZ-2025-0001"]),  # type: ignore[arg-type]
        details="提交虚假材料",
        at=at("2025-03-14"),
    )


def test_nanhai_blacklists_with_no_3_month_limit_NH_25(world: World) -> None:
    applicant = uuid4()
    nanhai = BlacklistService(world.app, city=NANHAI)
    _blacklist(nanhai, world, applicant)
    blocked, until, _ = nanhai.is_blacklisted(applicant, dt.date(2030, 1, 1))
    assert blocked and until is None
    record = nanhai.record(applicant)
    assert record is not None and "NH·25" in record.notices[0].body["until"]


def test_by_default_the_restriction_ends_after_3_months_GZ16_22_PY_28(world: World) -> None:
    applicant = uuid4()
    default = BlacklistService(world.app, city=STRICTER)
    _blacklist(default, world, applicant)
    assert default.is_blacklisted(applicant, dt.date(2025, 6, 13)).blocked
    assert not default.is_blacklisted(applicant, dt.date(2025, 6, 14)).blocked


def test_unrelated_form_content_counts_only_where_NH_25_applies(world: World) -> None:
    facts = [f"unrelated_content:GZ-2025-000{i}:form" for i in range(1, 5)]
    ground = BlacklistGround.MATERIALS_NOT_SUBMITTED
    default = BlacklistService(world.app)
    error = world.refused(
        InvalidBlacklisting,
        lambda: _blacklist(default, world, uuid4(), ground=ground, facts=facts),
    )
    assert error.rule == "NH·25" and "unrelated" in str(error)  # type: ignore[attr-defined]
    nanhai = BlacklistService(world.app, city=NANHAI)
    world.refused(  # only toward ground (二), not any ground
        InvalidBlacklisting,
        lambda: _blacklist(nanhai, world, uuid4(), facts=facts[:1]),
    )
    applicant = uuid4()
    _blacklist(nanhai, world, applicant, ground=ground, facts=facts)
    assert nanhai.is_blacklisted(applicant, dt.date(2025, 3, 14)).blocked


def test_presets_by_registered_city_name() -> None:
    assert rules_for("广州") is GUANGZHOU and rules_for("佛山市南海区") is NANHAI
    assert rules_for("") is STRICTER and rules_for(None) is STRICTER
    assert STRICTER.appointment_refusal_grounds == frozenset()  # NH·9, the stricter
    assert STRICTER.blacklist_restriction_months == 3  # GZ16·22, PY·28, the stricter
    assert not STRICTER.unrelated_form_content_counts
