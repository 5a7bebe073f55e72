"""Appointments (网上预约): RULES.md "Case lifecycle" 1 (GZ20·9, GZ16·9, FZ·10, NH·9), one
test per rule; every invalid transition records nothing; the chain verifies."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.domain.appointments import AppointmentSlot, BookingStatus, RefusalGround
from ledger.domain.rules import (
    AppointmentNotActive,
    AppointmentRefusalNotAllowed,
    AppointmentSlotFull,
    AuthenticationTooLow,
    InvalidAppointment,
    NotInDepartmentScope,
)
from tests.ledger.domain_world import ISSUER, World, at

START = at("2025-10-09", 9)
END = START + dt.timedelta(minutes=30)


@pytest.fixture
def slot(world: World) -> AppointmentSlot:
    return _open_slot(world)


def _open_slot(world: World, **changes: Any) -> AppointmentSlot:
    """A slot of two places in the issuing department's hall on 9 October 2025, 9:00–9:30;
    ``changes`` override any argument."""
    arguments: dict[str, Any] = {
        "signer": world.issuer,
        "department": ISSUER,
        "hall": "TH-HALL",
        "service_item": "440100-001",
        "starts_at": START,
        "ends_at": END,
        "capacity": 2,
    }
    return world.appointments.open_slot(**(arguments | changes))


def _book(world: World, slot: AppointmentSlot, applicant: UUID | None = None) -> UUID:
    """Book through the portal for ``applicant`` (a new one at the basic level, FZ·8)."""
    return world.appointments.book(
        slot.id,
        signer=world.portal,
        applicant_id=applicant or world.applicant("basic"),
        at=at("2025-09-30"),
    )


def _refuse(
    world: World,
    slot: AppointmentSlot,
    booking: UUID,
    ground: RefusalGround,
    *,
    signer: Any = None,
    details: str = "x",
    at: dt.datetime = START,
) -> Any:
    """The issuing department (or ``signer``) refuses ``booking`` on ``ground``."""
    return world.appointments.refuse(
        slot.id,
        signer=signer or world.issuer,
        booking_id=booking,
        ground=ground,
        details=details,
        at=at,
    )


def test_slots_are_per_hall_and_item_with_a_capacity_GZ20_9(world: World) -> None:
    slot = _open_slot(world, service_item="440100-002", capacity=3)
    assert slot.id == AppointmentSlot.id_for("TH-HALL", "440100-002", START)
    assert slot.remaining == 3
    world.refused(
        NotInDepartmentScope,
        lambda: _open_slot(world, signer=world.user, service_item="440100-004", capacity=1),
    )


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("capacity", {"capacity": 0}),
        ("capacity", {"capacity": True}),
        ("ends_at", {"ends_at": START}),
        ("starts_at", {"starts_at": dt.datetime(2025, 10, 9, 9)}),
        ("hall", {"hall": ""}),
    ],
)
def test_malformed_slots_are_refused_naming_the_field(
    world: World, field: str, changes: dict[str, Any]
) -> None:
    arguments = {"service_item": "440100-003", "capacity": 1} | changes
    exc = world.refused(InvalidAppointment, lambda: _open_slot(world, **arguments))
    assert exc.field == field  # type: ignore[attr-defined]


def test_booking_beyond_capacity_is_refused(world: World, slot: AppointmentSlot) -> None:
    _book(world, slot)
    _book(world, slot)
    third = world.applicant("basic")
    exc = world.refused(AppointmentSlotFull, lambda: _book(world, slot, third))
    assert "GZ20·9" in str(exc)
    assert world.verifies()


def test_a_cancelled_place_can_be_booked_again(world: World, slot: AppointmentSlot) -> None:
    first = _book(world, slot)
    _book(world, slot)
    world.appointments.cancel(slot.id, signer=world.portal, booking_id=first, at=at("2025-10-08"))
    assert world.appointments.slot(slot.id).status(first) is BookingStatus.CANCELLED
    _book(world, slot)
    assert world.appointments.slot(slot.id).remaining == 0


def test_booking_and_cancelling_close_when_the_slot_starts(
    world: World, slot: AppointmentSlot
) -> None:
    booking = _book(world, slot)
    late = world.applicant("basic")
    world.refused(
        AppointmentNotActive,
        lambda: world.appointments.book(slot.id, signer=world.portal, applicant_id=late, at=START),
    )
    world.refused(
        AppointmentNotActive,
        lambda: world.appointments.cancel(
            slot.id, signer=world.portal, booking_id=booking, at=START
        ),
    )


@pytest.mark.parametrize("channel", ["portal", "kiosk"])
def test_booking_needs_the_basic_authentication_level_FZ_8(
    world: World, slot: AppointmentSlot, channel: str
) -> None:
    """The regulator's finding: an unauthenticated applicant booked online. FZ·8 (二) puts
    办事预约 at the basic level: a level-none or unknown applicant is refused, nothing booked."""
    signer = world.portal if channel == "portal" else world.kiosk
    for applicant in (world.applicant("none"), uuid4()):
        exc = world.refused(
            AuthenticationTooLow,
            lambda a=applicant: world.appointments.book(
                slot.id, signer=signer, applicant_id=a, at=at("2025-09-30")
            ),
        )
        assert (exc.rule, exc.code) == ("FZ·8", "authentication-too-low")  # type: ignore[attr-defined]
        assert (exc.action, exc.required, exc.actual) == ("appointment", "basic", "none")  # type: ignore[attr-defined]
    assert world.appointments.slot(slot.id).remaining == 2  # capacity 2, none booked
    for level in ("basic", "advanced"):
        _book(world, slot, world.applicant(level))
    assert world.appointments.slot(slot.id).remaining == 0


def test_an_applicant_books_a_slot_once(world: World, slot: AppointmentSlot) -> None:
    applicant = world.applicant("basic")
    _book(world, slot, applicant)
    world.refused(AppointmentNotActive, lambda: _book(world, slot, applicant))


def test_check_in_at_the_hall_and_not_twice(world: World, slot: AppointmentSlot) -> None:
    booking = _book(world, slot)
    world.refused(
        AppointmentNotActive,
        lambda: world.appointments.check_in(
            slot.id, signer=world.kiosk, booking_id=booking, at=START - dt.timedelta(hours=2)
        ),
    )
    world.appointments.check_in(
        slot.id, signer=world.kiosk, booking_id=booking, at=START - dt.timedelta(minutes=10)
    )
    assert world.appointments.slot(slot.id).status(booking) is BookingStatus.CHECKED_IN
    world.refused(
        AppointmentNotActive,
        lambda: world.appointments.check_in(
            slot.id, signer=world.issuer, booking_id=booking, at=START
        ),
    )


def test_not_arriving_at_the_booked_time_is_recorded_as_a_no_show_NH_9(
    world: World, slot: AppointmentSlot
) -> None:
    kept, missed = _book(world, slot), _book(world, slot)
    world.appointments.check_in(slot.id, signer=world.kiosk, booking_id=kept, at=START)
    world.refused(
        AppointmentNotActive,
        lambda: world.appointments.record_no_shows(slot.id, signer=world.platform, at=START),
    )
    assert world.appointments.record_no_shows(slot.id, signer=world.platform, at=END) == [missed]
    stored = world.appointments.slot(slot.id)
    assert stored.status(missed) is BookingStatus.NO_SHOW
    assert stored.status(kept) is BookingStatus.CHECKED_IN
    before = world.head()
    assert world.appointments.record_no_shows(slot.id, signer=world.platform, at=END) == []
    assert world.head() == before
    assert world.verifies()


@pytest.mark.parametrize("ground", list(RefusalGround))
def test_a_successful_appointment_is_refused_only_on_the_three_grounds_GZ20_9_GZ16_9_FZ_10(
    world: World, slot: AppointmentSlot, ground: RefusalGround
) -> None:
    booking = _book(world, slot)
    world.appointments.check_in(slot.id, signer=world.kiosk, booking_id=booking, at=START)
    _refuse(
        world,
        slot,
        booking,
        ground,
        details="缺少不动产权证书原件",
        at=START + dt.timedelta(minutes=5),
    )
    assert world.appointments.slot(slot.id).status(booking) is BookingStatus.REFUSED
    event: Any = list(world.app.events.get(slot.id))[-1]
    assert (type(event).__name__, event.ground) == ("Refused", ground.value)
    assert world.verifies()


@pytest.mark.parametrize("ground", ["busy", "quota_reached", "system_down", ""])
def test_any_other_refusal_is_not_allowed_GZ20_9(
    world: World, slot: AppointmentSlot, ground: str
) -> None:
    booking = _book(world, slot)
    exc = world.refused(
        AppointmentRefusalNotAllowed,
        lambda: _refuse(world, slot, booking, ground, details="窗口繁忙"),
    )
    assert exc.rule == "GZ20·9, GZ16·9, FZ·10"  # type: ignore[attr-defined]


def test_refusal_is_by_the_slots_department(world: World, slot: AppointmentSlot) -> None:
    booking = _book(world, slot)
    world.refused(
        NotInDepartmentScope,
        lambda: _refuse(world, slot, booking, RefusalGround.OUT_OF_SCOPE, signer=world.user),
    )


def test_a_no_show_or_cancelled_booking_is_not_refused_or_checked_in(
    world: World, slot: AppointmentSlot
) -> None:
    booking = _book(world, slot)
    world.appointments.record_no_shows(slot.id, signer=world.platform, at=END)
    for command in (
        lambda: _refuse(world, slot, booking, RefusalGround.APPLICANT_GAVE_UP, at=END),
        lambda: world.appointments.check_in(
            slot.id, signer=world.kiosk, booking_id=booking, at=END
        ),
        lambda: world.appointments.cancel(slot.id, signer=world.portal, booking_id=booking, at=END),
    ):
        exc = world.refused(AppointmentNotActive, command)
        assert exc.state == "no_show"  # type: ignore[attr-defined]
