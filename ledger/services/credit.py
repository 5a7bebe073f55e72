"""Credit-record entries of applicants and the joint-punishment list (GZ20·28).

Layer: services (domain in :mod:`ledger.domain.credit`). The department that granted the case
(事项实施主体) enters an improper acquisition with its department key, or an official of it with
the decision role (``ledger.services.acting``); the case must be its own,
of this applicant, and approved. An untrue commitment (承诺不实) is entered the same way, with
the case when there is one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from ledger.domain.cases import Case
from ledger.domain.credit import ACQUISITIONS, CreditRecord, Misconduct
from ledger.domain.rules import InvalidCreditEntry, NothingAcquired, NotInDepartmentScope
from ledger.domain.signer import Signer
from ledger.services.domain_services import _Service

__all__ = ["CreditService"]


class CreditService(_Service):
    """Enter misconduct in an applicant's credit record; answer the joint-punishment list."""

    def record(self, applicant_id: UUID) -> CreditRecord | None:
        return self._find(CreditRecord, CreditRecord.id_for(applicant_id))

    def on_joint_punishment_list(self, applicant_id: UUID) -> bool:
        """Whether the applicant is on the 失信联合惩戒对象名单 (GZ20·28)."""
        found = self.record(applicant_id)
        return found is not None and found.joint_punishment

    def enter(
        self,
        applicant_id: UUID,
        *,
        signer: Signer,
        department: str,
        misconduct: Misconduct | str,
        details: str,
        evidence: Sequence[str],
        at: dt.datetime,
        case_serial: str = "",
        serious: bool = False,
        legal_basis: str = "",
    ) -> dict[str, Any]:
        """Enter one misconduct (GZ20·28); see :meth:`CreditRecord.enter`. Raises
        :class:`NothingAcquired` when the named case granted nothing."""
        self._department(signer, department, "credit.enter", case_serial)
        if case_serial:
            self._check_case(applicant_id, department, case_serial, misconduct)
        record = self.record(applicant_id) or CreditRecord.open(applicant_id)
        entry = record.enter(
            misconduct=misconduct,
            department=department,
            details=details,
            evidence=list(evidence),
            at=at,
            case_serial=case_serial,
            serious=serious,
            legal_basis=legal_basis,
        )
        self.app.save_signed(record, signer=signer)
        return entry

    def _check_case(
        self, applicant_id: UUID, department: str, serial: str, misconduct: Misconduct | str
    ) -> None:
        case = self._find(Case, Case.id_for(serial))
        if case is None or case.applicant_id != applicant_id:
            raise InvalidCreditEntry("case_serial", f"{serial} is not a case of this applicant")
        if case.department != department:
            raise NotInDepartmentScope(
                f"department: {department} may not enter a case of {case.department}"
            )
        approved = any(d.get("kind") == "approval_decision" for d in case.documents)
        if str(misconduct) in {m.value for m in ACQUISITIONS} and not approved:
            raise NothingAcquired(
                f"case_serial: {serial} granted nothing (no approval decision): not an improper "
                "acquisition"
            )
