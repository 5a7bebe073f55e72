"""Read model of the kiosk fleet (自助终端): kiosks, suspensions, outages, prints, and the
supervision flags of PY·21.

Layer: projections. Built only from ``ledger.domain.kiosks`` events (DESIGN invariant 4: handlers
take every time from the event and never read a clock or the holiday table). A suspension's
notice verdict (``late``) was computed when the notice was recorded and travels in the event;
retirement grounds (a week in a row, ≥ 5 working days in a calendar month, third-party causes
excepted) depend on "now" and the calendar, so :func:`supervision_flags` computes them at
query time, given ``as_of`` by its caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from eventsourcing.utils import get_topic

from ledger.domain.kiosks import Cause, Kiosk, KioskPrint, retirement_grounds
from projections.common import id_text
from projections.store import Table, Tx
from projections.view import View, on

__all__ = ["FleetFlag", "KioskFleetView", "emergency_contacts", "fleet", "supervision_flags"]


def _topic(name: str) -> str:
    return get_topic(getattr(Kiosk, name))


REGISTERED: Final = _topic("Registered")
SUSPENSION_PLANNED: Final = _topic("SuspensionPlanned")
FAULT_REPORTED: Final = _topic("FaultReported")
RESUMED: Final = _topic("Resumed")
REREGISTERED: Final = _topic("Reregistered")
RETIRED: Final = _topic("Retired")
PRINT_RECORDED: Final = get_topic(KioskPrint.Recorded)  # type: ignore[attr-defined]
CONTACT_PUBLISHED: Final = _topic("EmergencyContactPublished")
CARD_SWALLOWED: Final = _topic("CardSwallowed")
SWALLOW_RESOLVED: Final = _topic("CardSwallowResolved")

KIOSKS = Table(
    "view_kiosks",
    (
        ("originator_id", "TEXT"),
        ("kiosk_id", "TEXT"),
        ("location", "TEXT"),
        ("department", "TEXT"),
        ("status", "TEXT"),
        ("registered_at", "TEXT"),
        ("retired_at", "TEXT"),
        ("prints", "BIGINT"),
        ("refusals", "BIGINT"),
    ),
    ("originator_id",),
    (("kiosk_id",),),
)
SUSPENSIONS = Table(
    "view_kiosk_suspensions",
    (
        ("kiosk_id", "TEXT"),
        ("number", "BIGINT"),
        ("start_at", "TEXT"),
        ("end_at", "TEXT"),
        ("notified_at", "TEXT"),
        ("band", "TEXT"),
        ("notice_days", "BIGINT"),
        ("late", "BIGINT"),
        ("removal", "BIGINT"),
        ("reregistration", "BIGINT"),
        ("reason", "TEXT"),
    ),
    ("kiosk_id", "number"),
)
OUTAGES = Table(
    "view_kiosk_outages",
    (
        ("kiosk_id", "TEXT"),
        ("start_at", "TEXT"),
        ("end_at", "TEXT"),
        ("cause", "TEXT"),
    ),
    ("kiosk_id", "start_at"),
)

CONTACTS = Table(
    "view_kiosk_contacts",
    (
        ("kiosk_id", "TEXT"),
        ("contact", "TEXT"),
        ("retrieval_measure", "TEXT"),
        ("working_day_hours", "BIGINT"),
        ("non_working_day_hours", "BIGINT"),
        ("published_at", "TEXT"),
    ),
    ("kiosk_id",),
)
"""PY·21(二): each kiosk's published card-swallow emergency contact and limits."""
_PLAN: Final = ("contact", "retrieval_measure", "working_day_hours", "non_working_day_hours")
SWALLOWS = Table(
    "view_kiosk_swallows",
    (
        ("kiosk_id", "TEXT"),
        ("number", "BIGINT"),
        ("at", "TEXT"),
        ("working_day", "BIGINT"),
        ("limit_hours", "BIGINT"),
        ("due_at", "TEXT"),
        ("resolved_at", "TEXT"),
    ),
    ("kiosk_id", "number"),
)
"""PY·21(二): every swallowed card, its limit (that day's), deadline and resolution."""


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def _parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


class KioskFleetView(View):
    """The fleet, its planned suspensions and outages."""

    name = "kiosk_fleet"
    tables = (KIOSKS, SUSPENSIONS, OUTAGES, CONTACTS, SWALLOWS)

    def _kiosk_id(self, tx: Tx, e: Any) -> str:
        tx.execute(
            "SELECT kiosk_id FROM view_kiosks WHERE originator_id = ?", (id_text(e.originator_id),)
        )
        row = tx.fetchone()
        return str(row[0]) if row else id_text(e.originator_id)

    def _status(self, tx: Tx, e: Any, status: str) -> None:
        tx.execute(
            "UPDATE view_kiosks SET status = ? WHERE originator_id = ?",
            (status, id_text(e.originator_id)),
        )

    @on(REGISTERED)
    def registered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_kiosks VALUES (?, ?, ?, ?, 'in_service', ?, NULL, 0, 0)",
            (id_text(e.originator_id), e.kiosk_id, e.location, e.department, _utc(e.at)),
        )

    @on(SUSPENSION_PLANNED)
    def suspension_planned(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_kiosk_suspensions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._kiosk_id(tx, e),
                e.number,
                _utc(e.start),
                _utc(e.end),
                _utc(e.notified_at),
                e.band,
                e.notice_working_days,
                int(e.late),
                int(e.removal),
                int(e.reregistration),
                e.reason,
            ),
        )
        if e.reregistration:
            self._status(tx, e, "reregistration_required")

    @on(FAULT_REPORTED)
    def fault_reported(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_kiosk_outages VALUES (?, ?, NULL, ?)",
            (self._kiosk_id(tx, e), _utc(e.at), e.cause),
        )
        self._status(tx, e, "faulty")

    @on(RESUMED)
    def resumed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_kiosk_outages SET end_at = ? WHERE kiosk_id = ? AND end_at IS NULL",
            (_utc(e.at), self._kiosk_id(tx, e)),
        )
        self._status(tx, e, "in_service")

    @on(REREGISTERED)
    def reregistered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_kiosks SET status = 'in_service', location = ? WHERE originator_id = ?",
            (e.location, id_text(e.originator_id)),
        )

    @on(RETIRED)
    def retired(self, tx: Tx, e: Any) -> None:
        kiosk_id = self._kiosk_id(tx, e)
        tx.execute(
            "UPDATE view_kiosk_outages SET end_at = ? WHERE kiosk_id = ? AND end_at IS NULL",
            (_utc(e.at), kiosk_id),
        )
        tx.execute(
            "UPDATE view_kiosks SET status = 'retired', retired_at = ? WHERE originator_id = ?",
            (_utc(e.at), id_text(e.originator_id)),
        )

    @on(PRINT_RECORDED)
    def print_recorded(self, tx: Tx, e: Any) -> None:
        column = "prints" if e.outcome == "printed" else "refusals"
        tx.execute(
            f"UPDATE view_kiosks SET {column} = {column} + 1 WHERE kiosk_id = ?", (e.kiosk_id,)
        )

    @on(CONTACT_PUBLISHED)
    def contact_published(self, tx: Tx, e: Any) -> None:
        kiosk_id = self._kiosk_id(tx, e)
        plan = e.plan
        tx.execute("DELETE FROM view_kiosk_contacts WHERE kiosk_id = ?", (kiosk_id,))
        tx.execute(
            "INSERT INTO view_kiosk_contacts VALUES (?, ?, ?, ?, ?, ?)",
            (kiosk_id, *(plan[name] for name in _PLAN), _utc(e.at)),
        )

    @on(CARD_SWALLOWED)
    def card_swallowed(self, tx: Tx, e: Any) -> None:
        due = None if e.due_at is None else _utc(e.due_at)
        row = (e.number, _utc(e.at), int(e.working_day), e.limit_hours, due)
        tx.execute(
            "INSERT INTO view_kiosk_swallows VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (self._kiosk_id(tx, e), *row),
        )

    @on(SWALLOW_RESOLVED)
    def swallow_resolved(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_kiosk_swallows SET resolved_at = ? WHERE kiosk_id = ? AND number = ?",
            (_utc(e.at), self._kiosk_id(tx, e), e.number),
        )


@dataclass(frozen=True)
class FleetFlag:
    """A supervision flag of the fleet: ``late_notice``, ``retirement_due``,
    ``reregistration_required``, ``card_swallow_overdue`` or ``card_swallow_no_contact``
    (PY·21(二)), with the kiosk and what it is about."""

    kiosk_id: str
    kind: str
    detail: str


def _rows(view: KioskFleetView, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with view.store.transaction(commit=False) as tx:
        tx.execute(sql, params)
        return tx.fetchall()


def fleet(view: KioskFleetView) -> list[dict[str, Any]]:
    """Every kiosk with its location, status and print counts, by kiosk id."""
    rows = _rows(
        view,
        "SELECT kiosk_id, location, department, status, registered_at, retired_at, prints, "
        "refusals FROM view_kiosks ORDER BY kiosk_id",
    )
    names = ("kiosk_id", "location", "department", "status", "registered_at", "retired_at")
    return [
        {**dict(zip(names, r[:6], strict=True)), "prints": int(r[6]), "refusals": int(r[7])}
        for r in rows
    ]


def supervision_flags(view: KioskFleetView, as_of: dt.datetime) -> list[FleetFlag]:
    """The fleet's supervision flags as of ``as_of`` (aware): every late suspension notice,
    every kiosk not yet retired whose outages (third-party causes excepted) call for
    retirement (PY·21), and every kiosk that must be registered anew."""
    flags: list[FleetFlag] = []
    for kiosk_id, number, start, notified, band, days in _rows(
        view,
        "SELECT kiosk_id, number, start_at, notified_at, band, notice_days "
        "FROM view_kiosk_suspensions WHERE late = 1 ORDER BY kiosk_id, number",
    ):
        flags.append(
            FleetFlag(
                kiosk_id,
                "late_notice",
                f"suspension {number} ({band}) from {start} was announced {notified}: "
                f"{days} working day(s) ahead required (PY·21)",
            )
        )
    kiosks = _rows(view, "SELECT kiosk_id, status FROM view_kiosks ORDER BY kiosk_id")
    for kiosk_id, status in kiosks:
        if status == "retired":
            continue
        if status == "reregistration_required":
            flags.append(
                FleetFlag(kiosk_id, "reregistration_required", "suspended over two weeks (PY·21)")
            )
        periods = [
            (_parse(s), _parse(e))
            for s, e in _rows(
                view,
                "SELECT start_at, end_at FROM view_kiosk_outages WHERE kiosk_id = ? AND cause <> ?",
                (kiosk_id, Cause.THIRD_PARTY.value),
            )
        ]
        grounds = retirement_grounds([(s, e) for s, e in periods if s is not None], as_of=as_of)
        if grounds:
            flags.append(FleetFlag(kiosk_id, "retirement_due", "; ".join(grounds) + " (PY·21)"))
    flags.extend(_swallow_flags(view, as_of))
    return flags


def _swallow_flags(view: KioskFleetView, as_of: dt.datetime) -> list[FleetFlag]:
    """PY·21(二): a swallowed card past its limit (unresolved as of ``as_of``, or resolved
    late), and one swallowed at a kiosk that had published no emergency contact."""
    flags: list[FleetFlag] = []
    for kiosk_id, number, at, working, hours, due, resolved in _rows(
        view,
        "SELECT kiosk_id, number, at, working_day, limit_hours, due_at, resolved_at "
        "FROM view_kiosk_swallows ORDER BY kiosk_id, number",
    ):
        if due is None:
            flags.append(
                FleetFlag(
                    kiosk_id,
                    "card_swallow_no_contact",
                    f"card {number} swallowed {at} with no emergency contact published (PY·21(二))",
                )
            )
            continue
        end = _parse(resolved) or as_of
        if end > _parse(due):  # type: ignore[operator]
            day = "working" if working else "non-working"
            state = f"resolved {resolved}" if resolved else "unresolved"
            flags.append(
                FleetFlag(
                    kiosk_id,
                    "card_swallow_overdue",
                    f"card {number} swallowed {at} ({day} day, {hours} h limit, due {due}): "
                    f"{state} (PY·21(二))",
                )
            )
    return flags


def emergency_contacts(view: KioskFleetView) -> dict[str, dict[str, Any]]:
    """Each kiosk's published card-swallow contact, measure and limits (PY·21(二))."""
    return {
        r[0]: dict(zip(_PLAN, r[1:], strict=True))
        for r in _rows(
            view,
            "SELECT kiosk_id, contact, retrieval_measure, working_day_hours, "
            "non_working_day_hours FROM view_kiosk_contacts ORDER BY kiosk_id",
        )
    }
