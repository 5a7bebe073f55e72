"""Consultations and complaints (咨询投诉) through the 12345 route, answered in time.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules).
RULES.md "Consultations and complaints": online consultation and complaint, answered
through the 12345 hotline within its limits (GZ20·8, GZ16·8, NH·8); departments answer in
the set time (FZ·9). Local limits vary, so they are configurable per kind
(:class:`AnswerLimits`; defaults enquiry 3, complaint 13 working days). Answers are sealed
by the answering department. A complaint found untrue (与事实不符) counts toward NH·25's
"more than three untrue complaints or ratings" (``ledger.domain.blacklist``).

Decisions where the regulations are silent: a suggestion has the complaint's limit; the
limit counts from the Asia/Shanghai day of receipt, which is not counted; an answer on the
due date is in time; only a complaint can be found untrue, by the answering department,
after its answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.rules import ConsultationNotOpen, InvalidConsultation
from ledger.domain.sealed import SealedKind, SealedRecord, seal
from ledger.domain.signer import Signer
from ledger.domain.topics import keep_topics

__all__ = [
    "AnswerLimits",
    "Consultation",
    "ConsultationChannel",
    "ConsultationKind",
]

MAX_SUMMARY: Final = 2000


class ConsultationKind(StrEnum):
    """诉求类型."""

    ENQUIRY = "enquiry"
    """咨询"""
    COMPLAINT = "complaint"
    """投诉"""
    SUGGESTION = "suggestion"
    """建议"""


class ConsultationChannel(StrEnum):
    """How it reached the department (all routed as 12345 work orders)."""

    HOTLINE_12345 = "hotline_12345"
    """12345 热线电话"""
    ONLINE = "online"
    """网上办事大厅在线咨询投诉"""
    MOBILE = "mobile"
    """移动端"""
    KIOSK = "kiosk"
    """自助终端"""


@dataclass(frozen=True)
class AnswerLimits:
    """Answer time limits per kind, in working days (configurable per city)."""

    enquiry: int = 3
    complaint: int = 13
    suggestion: int = 13

    def __post_init__(self) -> None:
        for kind in ConsultationKind:
            check.working_days(InvalidConsultation, f"limits.{kind.value}", self.days(kind))

    def days(self, kind: ConsultationKind) -> int:
        days: int = getattr(self, kind.value)
        return days


def _kind(value: object) -> ConsultationKind:
    try:
        return ConsultationKind(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(k.value for k in ConsultationKind)
        raise InvalidConsultation("kind", f"unknown kind {value!r}: {allowed}") from None


def _channel(value: object) -> ConsultationChannel:
    try:
        return ConsultationChannel(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(c.value for c in ConsultationChannel)
        raise InvalidConsultation("channel", f"unknown channel {value!r}: {allowed}") from None


class Consultation(Aggregate):
    """One enquiry, complaint or suggestion (12345 工单) addressed to a department."""

    @classmethod
    def receive(
        cls,
        *,
        kind: ConsultationKind | str,
        channel: ConsultationChannel | str,
        department: str,
        applicant_id: UUID | None,
        summary: str,
        at: dt.datetime,
        case_serial: str = "",
        limits: AnswerLimits | None = None,
    ) -> Consultation:
        """Receive it; the answer is due after the kind's limit. ``summary`` carries no
        clear personal data (the applicant is named by id; anonymous callers by ``None``).
        Raises :class:`InvalidConsultation` naming the field."""
        checked = _kind(kind)
        checked_channel = _channel(channel)
        department = check.department_code(InvalidConsultation, "department", department)
        if applicant_id is not None:
            check.uuid(InvalidConsultation, "applicant_id", applicant_id)
        summary = check.text(InvalidConsultation, "summary", summary, MAX_SUMMARY)
        when = check.utc(InvalidConsultation, "at", at)
        case_serial = check.optional_text(InvalidConsultation, "case_serial", case_serial, 64)
        days = (limits or AnswerLimits()).days(checked)
        due = check.due_after(when, days)
        return cls(
            kind=checked.value,
            channel=checked_channel.value,
            department=department,
            applicant_id=applicant_id,
            summary=summary,
            case_serial=case_serial,
            received_at=when,
            limit_days=days,
            due=due.due,
            provisional=due.provisional,
        )

    @event("Received")
    def __init__(
        self,
        kind: str,
        channel: str,
        department: str,
        applicant_id: UUID | None,
        summary: str,
        case_serial: str,
        received_at: dt.datetime,
        limit_days: int,
        due: dt.date,
        provisional: bool,
    ) -> None:
        self.kind = ConsultationKind(kind)
        self.channel = channel
        self.department = department
        self.applicant_id = applicant_id
        self.summary = summary
        self.case_serial = case_serial
        self.received_at = received_at
        self.limit_days = limit_days
        self.due = due
        self.provisional = provisional
        self.answer: dict[str, Any] | None = None
        self.answered_at: dt.datetime | None = None
        self.untrue = False

    @event("Answered")
    def _answered(self, answer: dict[str, Any], answered_at: dt.datetime, late: bool) -> None:
        self.answer = dict(answer)
        self.answered_at = answered_at

    @event("FoundUntrue")
    def _found_untrue(self, reasons: str, evidence: list[str], found_at: dt.datetime) -> None:
        self.untrue = True

    # -- commands -------------------------------------------------------------------------

    def answer_with(
        self, *, department: str, answer: str, at: dt.datetime, seal_key: Signer
    ) -> SealedRecord:
        """The department answers (答复), sealed; late when after the due date.

        Raises :class:`ConsultationNotOpen` when already answered and
        :class:`InvalidConsultation` when another department answers.
        """
        if department != self.department:
            raise InvalidConsultation("department", f"addressed to {self.department}")
        if self.answer is not None:
            raise ConsultationNotOpen("already answered", state=self.state)
        when = check.utc(InvalidConsultation, "at", at)
        record = seal(
            SealedKind.CONSULTATION_ANSWER,
            subject=self.case_serial or str(self.id),
            issuer=self.department,
            issued_at=when,
            body={
                "consultation": self.id,
                "kind": self.kind.value,
                "answer": check.text(InvalidConsultation, "answer", answer),
            },
            signer=seal_key,
            refuse=InvalidConsultation,
        )
        self._answered(
            answer=record.to_dict(), answered_at=when, late=check.local_date(when) > self.due
        )
        return record

    def find_untrue(
        self, *, department: str, reasons: str, evidence: list[str], at: dt.datetime
    ) -> None:
        """Find an answered complaint untrue (与事实不符), with evidence; feeds NH·25."""
        if department != self.department:
            raise InvalidConsultation("department", f"addressed to {self.department}")
        if self.kind is not ConsultationKind.COMPLAINT:
            raise InvalidConsultation("kind", "only a complaint is found untrue")
        if self.answer is None or self.untrue:
            raise ConsultationNotOpen(
                "a complaint is found untrue once, after its answer", state=self.state
            )
        self._found_untrue(
            reasons=check.text(InvalidConsultation, "reasons", reasons),
            evidence=check.evidence(InvalidConsultation, "evidence", evidence),
            found_at=check.utc(InvalidConsultation, "at", at),
        )

    # -- queries --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        if self.untrue:
            return "found untrue"
        return "answered" if self.answer is not None else "open"

    def is_overdue(self, today: dt.date) -> bool:
        """True while unanswered after the due date (Asia/Shanghai ``today``)."""
        return self.answer is None and today > self.due

    @property
    def answered_late(self) -> bool:
        return self.answered_at is not None and check.local_date(self.answered_at) > self.due

    @property
    def answer_record(self) -> SealedRecord | None:
        return SealedRecord.from_dict(self.answer) if self.answer is not None else None


keep_topics(globals(), "ledger.complaints")
