"""Who may read an applicant's personal data, and the record every clear read leaves
(GZ20·25, NH·23, GZ16·21) — least privilege.

Layer: ledger application service (the one surface the HTTP API and the CLI call). The rule:

- a department reads an applicant — masked or clear — only when it holds a case of that
  applicant (``cases_of``, a port the caller supplies from the progress read model), or
  under a :class:`~ledger.domain.access.PersonalDataGrant` in force for its department;
- an oversight reader (supervisor, platform administrator) reads masked data of any
  applicant and clear data of none: supervision works on masked identities, and a
  department that needs clear data for a supervision matter gets a grant;
- every clear read is recorded, with its purpose and basis, in the same chain as the
  cases, before the data is shown (``record_read``).

A grant is recorded by a supervisor key (the supervision office) or a platform key, for a
registered department and an existing applicant, for 1–168 hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.access import (
    InvalidGrant,
    PersonalDataAccess,
    PersonalDataGrant,
    record_read,
)
from ledger.domain.applicants import Applicant
from ledger.domain.departments import Department
from ledger.domain.keys import KeyRole
from ledger.domain.signer import Signer
from ledger.errors import LedgerError
from ledger.services.application import LedgerApplication

__all__ = ["GRANTING_ROLES", "CasesOf", "PersonalDataService", "ReadBasis", "UnknownApplicant"]

GRANTING_ROLES: Final = (KeyRole.SUPERVISOR, KeyRole.PLATFORM)
"""Keys that may record a grant."""

CasesOf = Callable[[UUID, str], "str | None"]
"""``(applicant id, department code) -> serial`` of a case of that applicant the department
holds (any state), or ``None``."""


class UnknownApplicant(LedgerError, LookupError):
    """No applicant with that id."""


@dataclass(frozen=True)
class ReadBasis:
    """What allows a read: ``case`` (a case of the applicant's in the reader's department),
    ``grant`` (a grant in force), or ``oversight`` (masked reads by a supervisor or admin)."""

    kind: str
    reference: str = ""

    @property
    def clear(self) -> bool:
        """Whether this basis allows clear (unmasked) data."""
        return self.kind in ("case", "grant")

    def text(self) -> str:
        return f"{self.kind}:{self.reference}"


class PersonalDataService:
    """Access decisions and access records for applicants' personal data."""

    def __init__(self, app: LedgerApplication, cases_of: CasesOf) -> None:
        self.app = app
        self.cases_of = cases_of

    def applicant(self, applicant_id: UUID) -> Applicant:
        """The applicant; raises :class:`UnknownApplicant`."""
        try:
            found: Any = self.app.repository.get(applicant_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, Applicant):
            raise UnknownApplicant(f"applicant: no {applicant_id}")
        return found

    def grant_of(self, applicant_id: UUID, department: str) -> PersonalDataGrant | None:
        try:
            found: Any = self.app.repository.get(PersonalDataGrant.id_for(applicant_id, department))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, PersonalDataGrant) else None

    def basis(
        self, applicant_id: UUID, *, department: str | None, at: dt.datetime
    ) -> ReadBasis | None:
        """What allows ``department`` (``None``: an oversight reader) to read this applicant
        at ``at``, or ``None`` when nothing does (the caller answers as if it did not exist)."""
        if department is None:
            return ReadBasis("oversight")
        if not department:
            return None
        serial = self.cases_of(applicant_id, department)
        if serial is not None:
            return ReadBasis("case", serial)
        grant = self.grant_of(applicant_id, department)
        if grant is not None and grant.in_force(at):
            return ReadBasis("grant", f"{grant.id}@{grant.version}")
        return None

    def record_read(
        self,
        applicant_id: UUID,
        fields: list[str],
        *,
        basis: ReadBasis,
        reader: str,
        reader_role: str,
        reader_department: str,
        purpose: str | None,
        signer: Signer,
    ) -> PersonalDataAccess:
        """Record a clear read (before it is shown). Raises ``PurposeRequired`` /
        ``InvalidPurpose`` (nothing recorded) and ``ValueError`` for a basis that does not
        allow clear data (a bug of the caller)."""
        if not basis.clear:
            raise ValueError(f"basis {basis.kind!r} does not allow clear personal data")
        access = record_read(
            applicant_id,
            fields,
            reader=reader,
            reader_role=reader_role,
            reader_department=reader_department,
            purpose=purpose,
            basis=basis.text(),
        )
        self.app.save_signed(access, signer=signer)
        return access

    def grant(
        self,
        applicant_id: UUID,
        department: str,
        *,
        reason: str,
        hours: int,
        at: dt.datetime,
        signer: Signer,
    ) -> PersonalDataGrant:
        """Let ``department`` read this applicant's data for ``hours`` from ``at``.

        Raises ``KeyNotUsable`` (a signer that is neither supervisor nor platform),
        :class:`UnknownApplicant`, :class:`~ledger.domain.access.InvalidGrant` (no such
        department, hours out of range) and ``InvalidPurpose`` (the reason)."""
        key = self.app.check_signer(signer, *GRANTING_ROLES)
        self.applicant(applicant_id)
        record = self.grant_of(applicant_id, department) or PersonalDataGrant.open(
            applicant_id, department
        )
        try:
            self.app.repository.get(Department.id_for(department))
        except AggregateNotFoundError:
            raise InvalidGrant(
                "department", f"{department} is not a registered department"
            ) from None
        record.grant(reason=reason, hours=hours, at=at, granted_by=f"{key.role}:{key.actor}")
        self.app.save_signed(record, signer=signer)
        return record
