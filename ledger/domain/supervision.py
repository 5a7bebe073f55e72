"""Supervision orders (督办): issued by a supervisor, answered by the department in time.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules).
RULES.md "Supervision": a red light without an explanation leads to a supervision order
the department must answer within a set time (FZ·24); also supervised are online
applications not handled, paper demanded for a fully online item, e-certificates not
generated or not used, data not uploaded, work done off the system then back-filled, and
data altered outside the platform (GZ20·26, FZ·26). An order targets a case (by id and
serial number) or a department; the answer is sealed by the department; an unanswered
order past its due date is overdue; the supervisor closes it with a conclusion.

Decisions where the regulations are silent: the default answer limit is 5 working days
(configurable per order); the supervisor may close an order unanswered (the conclusion
records why, and ``answered`` says it was not answered).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.rules import InvalidSupervisionOrder, SupervisionOrderNotOpen
from ledger.domain.sealed import SealedKind, SealedRecord, seal
from ledger.domain.signer import Signer
from ledger.domain.topics import keep_topics

__all__ = ["ANSWER_DAYS", "SupervisionOrder", "SupervisionReason"]

ANSWER_DAYS: Final = 5
"""Default answer limit of a supervision order, in working days."""


class SupervisionReason(StrEnum):
    """督办事由 (FZ·24, GZ20·26, FZ·26)."""

    OVERDUE = "overdue"
    """办件超期（红灯）未说明 (FZ·24)"""
    NOT_HANDLED = "not_handled"
    """网上申请不及时处理 (GZ20·26)"""
    PAPER_DEMANDED = "paper_demanded"
    """全程网办事项要求提交纸质材料 (GZ20·26)"""
    CERTIFICATE_NOT_ISSUED = "certificate_not_issued"
    """电子证照未生成 (GZ20·26)"""
    CERTIFICATE_NOT_USED = "certificate_not_used"
    """电子证照未使用 (GZ20·26)"""
    DATA_NOT_UPLOADED = "data_not_uploaded"
    """数据未上传 (FZ·26)"""
    OFFLINE_BACKFILL = "offline_backfill"
    """体外循环后补录 (FZ·26)"""
    DATA_ALTERED = "data_altered"
    """平台外篡改数据 (FZ·26)"""
    OTHER = "other"
    """其他"""


def _reason(value: object) -> SupervisionReason:
    try:
        return SupervisionReason(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(r.value for r in SupervisionReason)
        raise InvalidSupervisionOrder("reason", f"unknown reason {value!r}: {allowed}") from None


class SupervisionOrder(Aggregate):
    """One 督办单: on a case or a department, answered once, then closed."""

    @classmethod
    def issue(
        cls,
        *,
        supervisor: str,
        department: str,
        reason: SupervisionReason | str,
        details: str,
        at: dt.datetime,
        case_id: UUID | None = None,
        case_serial: str = "",
        answer_days: int = ANSWER_DAYS,
    ) -> SupervisionOrder:
        """Issue an order to ``department`` (on one of its cases when ``case_id`` is given).

        Raises :class:`InvalidSupervisionOrder` naming the field.
        """
        supervisor = check.text(InvalidSupervisionOrder, "supervisor", supervisor, 64)
        department = check.department_code(InvalidSupervisionOrder, "department", department)
        checked = _reason(reason)
        details = check.text(InvalidSupervisionOrder, "details", details)
        when = check.utc(InvalidSupervisionOrder, "at", at)
        days = check.working_days(InvalidSupervisionOrder, "answer_days", answer_days)
        if case_id is not None:
            check.uuid(InvalidSupervisionOrder, "case_id", case_id)
            case_serial = check.text(InvalidSupervisionOrder, "case_serial", case_serial, 64)
        elif case_serial:
            raise InvalidSupervisionOrder("case_id", "a case is named by its id and serial")
        due = check.due_after(when, days)
        return cls(
            supervisor=supervisor,
            department=department,
            reason=checked.value,
            details=details,
            case_id=case_id,
            case_serial=case_serial,
            issued_at=when,
            answer_days=days,
            due=due.due,
            provisional=due.provisional,
        )

    @event("Issued")
    def __init__(
        self,
        supervisor: str,
        department: str,
        reason: str,
        details: str,
        case_id: UUID | None,
        case_serial: str,
        issued_at: dt.datetime,
        answer_days: int,
        due: dt.date,
        provisional: bool,
    ) -> None:
        self.supervisor = supervisor
        self.department = department
        self.reason = SupervisionReason(reason)
        self.details = details
        self.case_id = case_id
        self.case_serial = case_serial
        self.issued_at = issued_at
        self.answer_days = answer_days
        self.due = due
        self.provisional = provisional
        self.answer: dict[str, Any] | None = None
        self.answered_at: dt.datetime | None = None
        self.closed = False
        self.conclusion = ""

    @event("Answered")
    def _answered(self, answer: dict[str, Any], answered_at: dt.datetime, late: bool) -> None:
        self.answer = dict(answer)
        self.answered_at = answered_at

    @event("Closed")
    def _closed(self, conclusion: str, answered: bool, closed_at: dt.datetime) -> None:
        self.closed = True
        self.conclusion = conclusion

    # -- commands -------------------------------------------------------------------------

    def answer_with(
        self, *, department: str, answer: str, at: dt.datetime, seal_key: Signer
    ) -> SealedRecord:
        """The department answers (督办回复), sealed; late when after the due date.

        Raises :class:`SupervisionOrderNotOpen` when answered or closed, and
        :class:`InvalidSupervisionOrder` for another department.
        """
        if department != self.department:
            raise InvalidSupervisionOrder("department", f"the order is to {self.department}")
        if self.answer is not None or self.closed:
            raise SupervisionOrderNotOpen("the order was answered or closed", state=self.state)
        when = check.utc(InvalidSupervisionOrder, "at", at)
        record = seal(
            SealedKind.SUPERVISION_ANSWER,
            subject=self.case_serial or str(self.id),
            issuer=self.department,
            issued_at=when,
            body={
                "order": self.id,
                "reason": self.reason.value,
                "answer": check.text(InvalidSupervisionOrder, "answer", answer),
            },
            signer=seal_key,
            refuse=InvalidSupervisionOrder,
        )
        self._answered(
            answer=record.to_dict(), answered_at=when, late=check.local_date(when) > self.due
        )
        return record

    def close(self, *, supervisor: str, conclusion: str, at: dt.datetime) -> None:
        """The supervisor closes the order with a conclusion (办结)."""
        if supervisor != self.supervisor:
            raise InvalidSupervisionOrder(
                "supervisor", f"the order was issued by {self.supervisor}"
            )
        if self.closed:
            raise SupervisionOrderNotOpen("the order is closed", state=self.state)
        self._closed(
            conclusion=check.text(InvalidSupervisionOrder, "conclusion", conclusion),
            answered=self.answer is not None,
            closed_at=check.utc(InvalidSupervisionOrder, "at", at),
        )

    # -- queries --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        if self.closed:
            return "closed"
        return "answered" if self.answer is not None else "open"

    def is_overdue(self, today: dt.date) -> bool:
        """True while unanswered and open after the due date (Asia/Shanghai ``today``)."""
        return self.answer is None and not self.closed and today > self.due

    @property
    def answered_late(self) -> bool:
        return self.answered_at is not None and check.local_date(self.answered_at) > self.due

    @property
    def answer_record(self) -> SealedRecord | None:
        return SealedRecord.from_dict(self.answer) if self.answer is not None else None


keep_topics(globals(), "ledger.supervision")
