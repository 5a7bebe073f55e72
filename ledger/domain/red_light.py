"""Red light (红灯警告) of an overdue case: the department's own explanation and the deduction.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules). FZ·24:
"未按时限要求完成审批时，显示红灯予以警告。若未主动说明情况，应按程序进行挂号督办" — a supervision
order is due only when the department has not explained the delay itself; and "业务红灯警告超时，
由行政服务管理机构对行政服务部门进行考核扣分惩罚" — the administration deducts assessment points
from the department. One :class:`RedLight` per case (found by its serial number) records both:

- ``Explained``: the case's department explains the delay on its own initiative, sealed
  (``SealedKind.DELAY_EXPLANATION``); once per case, only once the case is overdue;
- ``Deducted``: the supervising office records the points deducted from the department for
  the red light, with reasons; once per case, only once the case is overdue.

Decisions where the regulations are silent: a case is overdue (red) when its decision, or
today while it is undecided, is after its due date (the same rule as the supervision lights);
the points are 1–100 per case, set by the office.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import (
    DelayAlreadyHandled,
    DelayNotOverdue,
    InvalidRedLight,
    NotInDepartmentScope,
)
from ledger.domain.sealed import SealedKind, SealedRecord, seal
from ledger.domain.signer import Signer
from ledger.domain.topics import keep_topics

__all__ = ["MAX_POINTS", "RED_LIGHT_NAMESPACE", "RedLight"]

RED_LIGHT_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/red-light")
MAX_POINTS: Final = 100
"""Most assessment points deducted for one red case (a platform bound, not a seed's figure)."""


def _overdue(serial: str, due: dt.date | None, late_on: dt.date) -> None:
    if due is None or late_on <= due:
        raise DelayNotOverdue(
            f"case {serial} is not overdue"
            + ("" if due is None else f": due {due.isoformat()}, counted to {late_on.isoformat()}")
        )


class RedLight(NaturalKey, Aggregate):
    """The red-light record of one case: the department's explanation and the deduction."""

    @staticmethod
    def create_id(serial: str) -> UUID:
        return uuid5(RED_LIGHT_NAMESPACE, serial)

    @classmethod
    def open(cls, *, case_id: UUID, serial: str, department: str) -> RedLight:
        """The (empty) record of a case; saved with its first entry."""
        return cls(
            case_id=check.uuid(InvalidRedLight, "case_id", case_id),
            serial=check.text(InvalidRedLight, "serial", serial, 64),
            department=check.department_code(InvalidRedLight, "department", department),
        )

    @event("Opened")
    def __init__(self, case_id: UUID, serial: str, department: str) -> None:
        self.case_id = case_id
        self.serial = serial
        self.department = department
        self.explanation: dict[str, Any] | None = None
        self.deducted_points = 0

    @event("Explained")
    def _explained(
        self, department: str, explained_at: dt.datetime, record: dict[str, Any]
    ) -> None:
        self.explanation = dict(record)

    @event("Deducted")
    def _deducted(
        self, office: str, points: int, reasons: str, due: dt.date, deducted_at: dt.datetime
    ) -> None:
        self.deducted_points = points

    def explain(
        self,
        *,
        department: str,
        explanation: str,
        due: dt.date | None,
        late_on: dt.date,
        at: dt.datetime,
        seal_key: Signer,
    ) -> SealedRecord:
        """The department explains the delay of its overdue case on its own initiative (主动说明
        情况, FZ·24); sealed. ``late_on`` is the decision date, or today while undecided."""
        if department != self.department:
            raise NotInDepartmentScope(
                f"department: {department} may not explain a case of {self.department}"
            )
        text = check.text(InvalidRedLight, "explanation", explanation)
        when = check.utc(InvalidRedLight, "at", at)
        _overdue(self.serial, due, late_on)
        if self.explanation is not None:
            raise DelayAlreadyHandled(
                f"the delay of {self.serial} was explained already", state="explained"
            )
        record = seal(
            SealedKind.DELAY_EXPLANATION,
            subject=self.serial,
            issuer=department,
            issued_at=when,
            body={"case": self.case_id, "due": due, "explanation": text, "basis": "FZ·24"},
            signer=seal_key,
            refuse=InvalidRedLight,
        )
        self._explained(department=department, explained_at=when, record=record.to_dict())
        return record

    def deduct(
        self,
        *,
        office: str,
        points: int,
        reasons: str,
        due: dt.date | None,
        late_on: dt.date,
        at: dt.datetime,
    ) -> None:
        """The supervising office records the assessment deduction (考核扣分) for the red light."""
        office = check.text(InvalidRedLight, "office", office, 64)
        if isinstance(points, bool) or not isinstance(points, int):
            raise InvalidRedLight("points", "must be a whole number")
        if not 1 <= points <= MAX_POINTS:
            raise InvalidRedLight("points", f"must be 1–{MAX_POINTS}")
        reasons = check.text(InvalidRedLight, "reasons", reasons)
        when = check.utc(InvalidRedLight, "at", at)
        _overdue(self.serial, due, late_on)
        if self.deducted_points:
            raise DelayAlreadyHandled(
                f"points were deducted for {self.serial} already", state="deducted"
            )
        assert due is not None
        self._deducted(office=office, points=points, reasons=reasons, due=due, deducted_at=when)

    @property
    def explained(self) -> bool:
        return self.explanation is not None

    @property
    def explanation_record(self) -> SealedRecord | None:
        return None if self.explanation is None else SealedRecord.from_dict(self.explanation)


keep_topics(globals(), "ledger.red_light")
