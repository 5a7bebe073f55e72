"""Red-light explanations and assessment deductions of overdue cases (FZ·24).

Layer: services (the ledger application; domain in :mod:`ledger.domain.red_light`). The case's
department explains its delay with its department key (or an official of it with the decision
role); a supervisor key of the office (or an official of it with the supervision role) records
the deduction. Whether a case is overdue is judged from the case itself: its decision date, or
the command's day while undecided, after its due date.
"""

from __future__ import annotations

import datetime as dt

from ledger.domain.calendar import shanghai_date
from ledger.domain.cases import Case
from ledger.domain.red_light import RedLight
from ledger.domain.sealed import SealedRecord
from ledger.domain.signer import Signer
from ledger.services.domain_services import _Service

__all__ = ["RedLightService"]


class RedLightService(_Service):
    """Record a department's own explanation of a delay, and the deduction for it."""

    def record(self, serial: str) -> RedLight | None:
        return self._find(RedLight, RedLight.id_for(serial))

    def _open(self, serial: str) -> tuple[Case, RedLight]:
        case = self._get(Case, Case.id_for(serial))
        found = self.record(serial)
        if found is None:
            found = RedLight.open(case_id=case.id, serial=serial, department=case.department)
        return case, found

    def explain(
        self, serial: str, *, signer: Signer, department: str, explanation: str, at: dt.datetime
    ) -> SealedRecord:
        """The department explains the delay of its overdue case itself (主动说明, FZ·24): no
        supervision order is due for it any more."""
        key = self._department(signer, department, "red_light.explain", serial)
        seal = self._seal(key, signer, department)
        case, red = self._open(serial)
        record = red.explain(
            department=department,
            explanation=explanation,
            due=case.due,
            late_on=case.decided_on or shanghai_date(at),
            at=at,
            seal_key=seal,
        )
        self.app.save_signed(red, signer=signer)
        return record

    def deduct(
        self,
        serial: str,
        *,
        signer: Signer,
        office: str,
        points: int,
        reasons: str,
        at: dt.datetime,
    ) -> None:
        """The office records the assessment deduction (考核扣分) for the red light (FZ·24)."""
        case, red = self._open(serial)
        self._supervisor(
            signer, office, "red_light.deduct", supervised=red.department, subject=serial
        )
        red.deduct(
            office=office,
            points=points,
            reasons=reasons,
            due=case.due,
            late_on=case.decided_on or shanghai_date(at),
            at=at,
        )
        self.app.save_signed(red, signer=signer)
