"""Appointments (网上预约): slots per hall and service item, bookings, check-in, no-shows.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules).
RULES.md "Case lifecycle" 1: halls offer online appointments for their items (GZ20·9); a
successful appointment may not be refused except when the applicant gives up, lacks the
required materials, or the item is out of the hall's scope (GZ20·9, GZ16·9, FZ·10), each
refusal recorded with its ground; not arriving at the booked time counts as giving up
(NH·9) and is recorded as a no-show once the slot has passed (it counts toward NH·25's
"more than three missed appointments").

Decisions where the regulations are silent: a slot has a capacity and a booking beyond it
is refused; bookings and cancellations close when the slot starts; check-in is accepted
from one hour before the start until the end; an applicant books a slot once.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.rules import (
    AppointmentNotActive,
    AppointmentRefusalNotAllowed,
    AppointmentSlotFull,
    InvalidAppointment,
)
from ledger.domain.topics import keep_topics

__all__ = [
    "CHECK_IN_OPENS",
    "SLOT_NAMESPACE",
    "AppointmentSlot",
    "BookingStatus",
    "RefusalGround",
]

SLOT_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/appointment-slots")
CHECK_IN_OPENS: Final = dt.timedelta(hours=1)
"""How long before the slot starts check-in opens."""
MAX_CAPACITY: Final = 1000
MAX_CODE: Final = 64


class BookingStatus(StrEnum):
    """What became of a booking."""

    BOOKED = "booked"
    """预约成功"""
    CANCELLED = "cancelled"
    """已取消"""
    CHECKED_IN = "checked_in"
    """已签到"""
    NO_SHOW = "no_show"
    """失约 — 视为自动放弃 (NH·9)"""
    REFUSED = "refused"
    """不予办理 on a GZ20·9 ground"""


class RefusalGround(StrEnum):
    """The only grounds on which a successful appointment may be refused (GZ20·9)."""

    APPLICANT_GAVE_UP = "applicant_gave_up"
    """申请人主动放弃"""
    LACKS_REQUIRED_MATERIALS = "lacks_required_materials"
    """无法提供必备资料"""
    OUT_OF_SCOPE = "out_of_scope"
    """非所属受理范围"""


class AppointmentSlot(Aggregate):
    """One appointment slot of a hall (服务大厅) for one service item, with a capacity."""

    @staticmethod
    def create_id(hall: str, service_item: str, starts_at: dt.datetime) -> UUID:
        return uuid5(SLOT_NAMESPACE, f"{hall}/{service_item}/{starts_at.isoformat()}")

    @classmethod
    def id_for(cls, hall: str, service_item: str, starts_at: dt.datetime) -> UUID:
        return cls.create_id(hall, service_item, check.utc(InvalidAppointment, "at", starts_at))

    @classmethod
    def open(
        cls,
        *,
        hall: str,
        service_item: str,
        department: str,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        capacity: int,
    ) -> AppointmentSlot:
        """Open a slot; raises :class:`InvalidAppointment` naming the field."""
        hall = check.text(InvalidAppointment, "hall", hall, MAX_CODE)
        service_item = check.text(InvalidAppointment, "service_item", service_item, MAX_CODE)
        department = check.department_code(InvalidAppointment, "department", department)
        start = check.utc(InvalidAppointment, "starts_at", starts_at)
        end = check.utc(InvalidAppointment, "ends_at", ends_at)
        if end <= start:
            raise InvalidAppointment("ends_at", "must be after starts_at")
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise InvalidAppointment("capacity", "must be a whole number")
        if not 1 <= capacity <= MAX_CAPACITY:
            raise InvalidAppointment("capacity", f"must be from 1 to {MAX_CAPACITY}")
        return cls(
            hall=hall,
            service_item=service_item,
            department=department,
            starts_at=start,
            ends_at=end,
            capacity=capacity,
        )

    @event("Opened")
    def __init__(
        self,
        hall: str,
        service_item: str,
        department: str,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        capacity: int,
    ) -> None:
        self.hall = hall
        self.service_item = service_item
        self.department = department
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.capacity = capacity
        self._bookings: dict[UUID, dict[str, Any]] = {}

    @event("Booked")
    def _booked(self, booking_id: UUID, applicant_id: UUID, booked_at: dt.datetime) -> None:
        self._bookings[booking_id] = {
            "applicant_id": applicant_id,
            "status": BookingStatus.BOOKED.value,
        }

    @event("Cancelled")
    def _cancelled(self, booking_id: UUID, cancelled_at: dt.datetime) -> None:
        self._bookings[booking_id]["status"] = BookingStatus.CANCELLED.value

    @event("CheckedIn")
    def _checked_in(self, booking_id: UUID, checked_in_at: dt.datetime) -> None:
        self._bookings[booking_id]["status"] = BookingStatus.CHECKED_IN.value

    @event("NoShowRecorded")
    def _no_show(self, booking_id: UUID, applicant_id: UUID, recorded_at: dt.datetime) -> None:
        self._bookings[booking_id]["status"] = BookingStatus.NO_SHOW.value

    @event("Refused")
    def _refused(
        self, booking_id: UUID, ground: str, details: str, refused_at: dt.datetime
    ) -> None:
        self._bookings[booking_id]["status"] = BookingStatus.REFUSED.value

    # -- commands -------------------------------------------------------------------------

    def book(self, *, applicant_id: UUID, at: dt.datetime) -> UUID:
        """Book a place before the slot starts; returns the booking id.

        Raises :class:`AppointmentSlotFull` beyond capacity and
        :class:`AppointmentNotActive` once the slot started or for a second booking.
        """
        check.uuid(InvalidAppointment, "applicant_id", applicant_id)
        when = check.utc(InvalidAppointment, "at", at)
        if when >= self.starts_at:
            raise AppointmentNotActive("booking closed: the slot has started", state="started")
        for booking in self._bookings.values():
            if booking["applicant_id"] == applicant_id and booking["status"] in (
                BookingStatus.BOOKED,
                BookingStatus.CHECKED_IN,
            ):
                raise AppointmentNotActive(
                    "the applicant already booked this slot", state=booking["status"]
                )
        if self.remaining <= 0:
            raise AppointmentSlotFull(
                f"slot {self.hall}/{self.service_item} at {self.starts_at.isoformat()} is full "
                f"({self.capacity} places)"
            )
        booking_id = uuid5(self.id, f"{applicant_id}/{len(self._bookings)}")
        self._booked(booking_id=booking_id, applicant_id=applicant_id, booked_at=when)
        return booking_id

    def _booking(self, booking_id: UUID, *allowed: BookingStatus) -> dict[str, Any]:
        booking = self._bookings.get(booking_id)
        if booking is None:
            raise InvalidAppointment("booking_id", f"no booking {booking_id} in this slot")
        if booking["status"] not in allowed:
            raise AppointmentNotActive(
                f"booking {booking_id} is {booking['status']}", state=booking["status"]
            )
        return booking

    def cancel(self, *, booking_id: UUID, at: dt.datetime) -> None:
        """The applicant cancels before the slot starts."""
        self._booking(booking_id, BookingStatus.BOOKED)
        when = check.utc(InvalidAppointment, "at", at)
        if when >= self.starts_at:
            raise AppointmentNotActive("cancellation closed: the slot has started", state="started")
        self._cancelled(booking_id=booking_id, cancelled_at=when)

    def check_in(self, *, booking_id: UUID, at: dt.datetime) -> None:
        """The applicant arrives (签到) between one hour before the start and the end."""
        self._booking(booking_id, BookingStatus.BOOKED)
        when = check.utc(InvalidAppointment, "at", at)
        if not self.starts_at - CHECK_IN_OPENS <= when < self.ends_at:
            raise AppointmentNotActive(
                f"check-in is open from {(self.starts_at - CHECK_IN_OPENS).isoformat()} "
                f"until {self.ends_at.isoformat()}",
                state=BookingStatus.BOOKED.value,
            )
        self._checked_in(booking_id=booking_id, checked_in_at=when)

    def record_no_shows(self, *, at: dt.datetime) -> list[UUID]:
        """After the slot ends, record every booking neither cancelled nor checked in as a
        no-show (视为自动放弃, NH·9); returns their ids. Raises
        :class:`AppointmentNotActive` before the slot has ended."""
        when = check.utc(InvalidAppointment, "at", at)
        if when < self.ends_at:
            raise AppointmentNotActive("the slot has not passed yet", state="open")
        missed = [
            booking_id
            for booking_id, booking in self._bookings.items()
            if booking["status"] == BookingStatus.BOOKED
        ]
        for booking_id in missed:
            self._no_show(
                booking_id=booking_id,
                applicant_id=self._bookings[booking_id]["applicant_id"],
                recorded_at=when,
            )
        return missed

    def refuse(
        self, *, booking_id: UUID, ground: RefusalGround | str, details: str, at: dt.datetime
    ) -> None:
        """Refuse a successful appointment, only on a GZ20·9 ground, stating the details.

        Raises :class:`AppointmentRefusalNotAllowed` for any other ground.
        """
        try:
            checked = RefusalGround(ground)
        except ValueError:
            allowed = ", ".join(g.value for g in RefusalGround)
            raise AppointmentRefusalNotAllowed(
                f"ground: {ground!r} is not a ground to refuse a successful appointment "
                f"(only {allowed})"
            ) from None
        self._booking(booking_id, BookingStatus.BOOKED, BookingStatus.CHECKED_IN)
        details = check.text(InvalidAppointment, "details", details)
        when = check.utc(InvalidAppointment, "at", at)
        self._refused(booking_id=booking_id, ground=checked.value, details=details, refused_at=when)

    # -- queries --------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Places left: capacity minus bookings booked or checked in."""
        taken = sum(
            1
            for b in self._bookings.values()
            if b["status"] in (BookingStatus.BOOKED, BookingStatus.CHECKED_IN)
        )
        return self.capacity - taken

    def status(self, booking_id: UUID) -> BookingStatus:
        booking = self._bookings.get(booking_id)
        if booking is None:
            raise InvalidAppointment("booking_id", f"no booking {booking_id} in this slot")
        return BookingStatus(booking["status"])

    def applicant_of(self, booking_id: UUID) -> UUID:
        booking = self._bookings.get(booking_id)
        if booking is None:
            raise InvalidAppointment("booking_id", f"no booking {booking_id} in this slot")
        applicant: UUID = booking["applicant_id"]
        return applicant


keep_topics(globals(), "ledger.appointments")
