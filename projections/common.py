"""What the case-ledger read models share: event topics, time formats, pages, reads.

Layer: projections. DESIGN invariant 4 (a view is a pure function of the log): handlers
take every date and time from the event they handle and never read a clock or the
holiday table — working days are counted by query functions, given ``today`` by their
caller. Invariant 7: instants are stored as UTC ISO-8601 text and shown in Asia/Shanghai;
business dates (due dates, months) are Asia/Shanghai dates.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.domain.anchoring import ANCHOR_OPENED_TOPIC, ANCHORED_TOPIC
from ledger.domain.applicants import Applicant
from ledger.domain.appointments import AppointmentSlot
from ledger.domain.blacklist import Blacklisting
from ledger.domain.calendar import to_shanghai
from ledger.domain.cases import Case
from ledger.domain.certificates import Certificate, CertificateDispute, CertificateReference, Wallet
from ledger.domain.complaints import Consultation
from ledger.domain.departments import Department
from ledger.domain.officials import OFFICIAL_REFUSED_TOPIC
from ledger.domain.ratings import Rating
from ledger.domain.red_light import RedLight
from ledger.domain.supervision import SupervisionOrder
from projections.view import View

__all__ = [
    "MAX_PAGE",
    "Page",
    "Topics",
    "check_page",
    "id_text",
    "iso_date",
    "month_of",
    "parse_date",
    "read",
    "shanghai_text",
    "utc_text",
]

MAX_PAGE: Final = 500
"""The most rows one query page returns."""


class Topics:
    """Topics of the events the views handle (``module:Class.Event``), from the classes.

    A class attribute per event, so a renamed event class fails at import, not silently.
    """

    APPLICANT_REGISTERED: Final = get_topic(Applicant.Registered)  # type: ignore[attr-defined]
    APPLICANT_ERASED: Final = get_topic(Applicant.Erased)  # type: ignore[attr-defined]
    DEPARTMENT_REGISTERED: Final = get_topic(Department.Registered)  # type: ignore[attr-defined]
    DEPARTMENT_RENAMED: Final = get_topic(Department.Renamed)  # type: ignore[attr-defined]

    SUBMITTED: Final = get_topic(Case.Submitted)  # type: ignore[attr-defined]
    PRE_REVIEW_PASSED: Final = get_topic(Case.PreReviewPassed)  # type: ignore[attr-defined]
    CORRECTION_REQUESTED: Final = get_topic(Case.CorrectionRequested)  # type: ignore[attr-defined]
    CORRECTED: Final = get_topic(Case.Corrected)  # type: ignore[attr-defined]
    MATERIALS_DELIVERED: Final = get_topic(Case.MaterialsDelivered)  # type: ignore[attr-defined]
    ACCEPTED: Final = get_topic(Case.Accepted)  # type: ignore[attr-defined]
    REFUSED: Final = get_topic(Case.Refused)  # type: ignore[attr-defined]
    PROCEDURE_STARTED: Final = get_topic(Case.SpecialProcedureStarted)  # type: ignore[attr-defined]
    PROCEDURE_ENDED: Final = get_topic(Case.SpecialProcedureEnded)  # type: ignore[attr-defined]
    TIME_LIMIT_EXTENDED: Final = get_topic(Case.TimeLimitExtended)  # type: ignore[attr-defined]
    FEE_ASSESSED: Final = get_topic(Case.FeeAssessed)  # type: ignore[attr-defined]
    FEE_PAID: Final = get_topic(Case.FeePaid)  # type: ignore[attr-defined]
    DECIDED: Final = get_topic(Case.Decided)  # type: ignore[attr-defined]
    RESULT_ISSUED: Final = get_topic(Case.ResultIssued)  # type: ignore[attr-defined]
    CERTIFICATE_RECORDED: Final = get_topic(Case.CertificateRecorded)  # type: ignore[attr-defined]
    DISPATCHED: Final = get_topic(Case.Dispatched)  # type: ignore[attr-defined]
    DELIVERY_FAILED: Final = get_topic(Case.DeliveryFailed)  # type: ignore[attr-defined]
    DELIVERED: Final = get_topic(Case.Delivered)  # type: ignore[attr-defined]
    CLOSED: Final = get_topic(Case.Closed)  # type: ignore[attr-defined]
    WITHDRAWN: Final = get_topic(Case.Withdrawn)  # type: ignore[attr-defined]

    CERT_ISSUED: Final = get_topic(Certificate.Issued)  # type: ignore[attr-defined]
    CERT_UPDATED: Final = get_topic(Certificate.Updated)  # type: ignore[attr-defined]
    CERT_REVOKED: Final = get_topic(Certificate.Revoked)  # type: ignore[attr-defined]
    WALLET_OPENED: Final = get_topic(Wallet.Opened)  # type: ignore[attr-defined]
    WALLET_GATHERED: Final = get_topic(Wallet.CertificateGathered)  # type: ignore[attr-defined]
    DISPUTE_RAISED: Final = get_topic(CertificateDispute.Raised)  # type: ignore[attr-defined]
    DISPUTE_EXTENDED: Final = get_topic(CertificateDispute.ExtensionRequested)  # type: ignore[attr-defined]
    DISPUTE_ANSWERED: Final = get_topic(CertificateDispute.Answered)  # type: ignore[attr-defined]
    REFERENCED: Final = get_topic(CertificateReference.Referenced)  # type: ignore[attr-defined]
    REUPLOAD_DEMANDED: Final = get_topic(CertificateReference.ReuploadDemanded)  # type: ignore[attr-defined]

    RATED: Final = get_topic(Rating.Rated)  # type: ignore[attr-defined]
    FOLLOWED_UP: Final = get_topic(Rating.FollowedUp)  # type: ignore[attr-defined]
    CALLBACK_RECORDED: Final = get_topic(Rating.CallbackRecorded)  # type: ignore[attr-defined]
    RECTIFIED: Final = get_topic(Rating.Rectified)  # type: ignore[attr-defined]
    RATING_DISPUTED: Final = get_topic(Rating.Disputed)  # type: ignore[attr-defined]
    RATING_DISPUTE_DECIDED: Final = get_topic(Rating.DisputeDecided)  # type: ignore[attr-defined]

    NO_SHOW: Final = get_topic(AppointmentSlot.NoShowRecorded)  # type: ignore[attr-defined]

    CONSULTATION_RECEIVED: Final = get_topic(Consultation.Received)  # type: ignore[attr-defined]
    CONSULTATION_ANSWERED: Final = get_topic(Consultation.Answered)  # type: ignore[attr-defined]
    FOUND_UNTRUE: Final = get_topic(Consultation.FoundUntrue)  # type: ignore[attr-defined]

    BLACKLIST_OPENED: Final = get_topic(Blacklisting.Opened)  # type: ignore[attr-defined]
    BLACKLISTED: Final = get_topic(Blacklisting.Blacklisted)  # type: ignore[attr-defined]
    APPEAL_LODGED: Final = get_topic(Blacklisting.AppealLodged)  # type: ignore[attr-defined]
    NOTICE_RECEIVED: Final = get_topic(Blacklisting.NoticeReceived)  # type: ignore[attr-defined]
    APPEAL_DECIDED: Final = get_topic(Blacklisting.AppealDecided)  # type: ignore[attr-defined]
    BLACKLIST_REMOVED: Final = get_topic(Blacklisting.Removed)  # type: ignore[attr-defined]

    ORDER_ISSUED: Final = get_topic(SupervisionOrder.Issued)  # type: ignore[attr-defined]
    ORDER_ANSWERED: Final = get_topic(SupervisionOrder.Answered)  # type: ignore[attr-defined]
    ORDER_CLOSED: Final = get_topic(SupervisionOrder.Closed)  # type: ignore[attr-defined]
    RED_LIGHT_OPENED: Final = get_topic(RedLight.Opened)  # type: ignore[attr-defined]
    DELAY_EXPLAINED: Final = get_topic(RedLight.Explained)  # type: ignore[attr-defined]
    POINTS_DEDUCTED: Final = get_topic(RedLight.Deducted)  # type: ignore[attr-defined]

    ACTION_REFUSED: Final = OFFICIAL_REFUSED_TOPIC

    ANCHOR_OPENED: Final = ANCHOR_OPENED_TOPIC
    ANCHORED: Final = ANCHORED_TOPIC


# --- time ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 15)
def utc_text(instant: dt.datetime) -> str:
    """An aware instant as UTC ISO-8601 text (how views store instants).

    Remembered for the most recent instants: every view handling an event formats its
    time, and a rebuild hands each view a page of thousands of events in turn (issue 18)."""
    return instant.astimezone(dt.UTC).isoformat()


_ID_TEXTS: Final[dict[int, str]] = {}


def id_text(identifier: UUID) -> str:
    """An id as views store it (``str``), remembered like :func:`utc_text`: an event's
    aggregate id is written by most views, and a UUID's text is built anew on each ``str``.
    Kept by the id's integer: a ``UUID`` hashes and compares in Python, an ``int`` in C."""
    number = identifier.int
    text = _ID_TEXTS.get(number)
    if text is None:
        if len(_ID_TEXTS) >= 1 << 15:
            _ID_TEXTS.clear()
        text = _ID_TEXTS[number] = str(identifier)
    return text


def shanghai_text(stored: str | None) -> str | None:
    """A stored UTC instant shown in Asia/Shanghai (ISO-8601 with +08:00)."""
    if stored is None:
        return None
    return to_shanghai(dt.datetime.fromisoformat(stored)).isoformat()


def iso_date(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def parse_date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def month_of(instant: dt.datetime) -> str:
    """The Asia/Shanghai month (``YYYY-MM``) of an instant: statistics are by local month."""
    return to_shanghai(instant).strftime("%Y-%m")


def local_date(instant: dt.datetime) -> dt.date:
    return to_shanghai(instant).date()


_JSON: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    """Canonical JSON for list/map columns (sorted keys, no spaces), so digests are stable.
    One encoder for every call (``json.dumps`` with options builds one per call); an empty
    map, the detail of most steps, without it."""
    if type(value) is dict and not value:
        return "{}"
    return _JSON.encode(value)


# --- reading ------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a long list: its items, how many match in all, and the next offset."""

    items: tuple[T, ...]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.items)
        return following if following < self.total else None


def check_page(offset: int, limit: int) -> None:
    """Precondition of every paginated query; raises ``ValueError`` naming the argument."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError("offset: must be a whole number ≥ 0")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit: must be 1–{MAX_PAGE}")


def read(view: View, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one read-only statement on the view's store and return every row."""
    with view.store.transaction(commit=False) as tx:
        tx.execute(sql, params)
        return tx.fetchall()


def paged(
    view: View,
    select: str,
    where: str,
    params: Sequence[Any],
    order: str,
    offset: int,
    limit: int,
    build: Callable[[tuple[Any, ...]], T],
) -> Page[T]:
    """A page of ``SELECT <select> <where> ORDER BY <order>`` and the total count."""
    check_page(offset, limit)
    with view.store.transaction(commit=False) as tx:
        tx.execute(f"SELECT COUNT(*) {where}", params)
        row = tx.fetchone()
        total = int(row[0]) if row else 0
        tx.execute(
            f"SELECT {select} {where} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        rows = tx.fetchall()
    return Page(tuple(build(r) for r in rows), total, offset, limit)
