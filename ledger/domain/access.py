"""Reads of personal data, recorded in the chain (GZ20·25, NH·23, GZ16·21).

Layer: domain. Every response that reveals unmasked personal data leaves one
``PersonalDataRead`` event: who read (token id, role, department), whose data
(the subject's id, never the data), which fields, and the purpose the caller
stated. The API refuses such reads without a purpose.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain.topics import keep_topics
from ledger.errors import RuleViolation

MAX_PURPOSE = 200


class PurposeRequired(RuleViolation):
    """Reading personal data needs a stated purpose (X-Purpose)."""

    rule = "GZ20·25"
    code = "purpose-required"


class PersonalDataAccess(Aggregate):
    """One read of one subject's personal data."""

    @event("PersonalDataRead")
    def __init__(
        self,
        subject_id: UUID,
        fields: list[str],
        reader: str,
        reader_role: str,
        reader_department: str,
        purpose: str,
    ) -> None:
        self.subject_id = subject_id
        self.fields = fields
        self.reader = reader
        self.reader_role = reader_role
        self.reader_department = reader_department
        self.purpose = purpose


def record_read(
    subject_id: UUID,
    fields: list[str],
    *,
    reader: str,
    reader_role: str,
    reader_department: str,
    purpose: str | None,
) -> PersonalDataAccess:
    """The access record to save with the read; PurposeRequired without a purpose."""
    text = (purpose or "").strip()
    if not text:
        raise PurposeRequired("X-Purpose: reading personal data needs a stated purpose")
    if len(text) > MAX_PURPOSE:
        raise PurposeRequired(f"X-Purpose: at most {MAX_PURPOSE} characters")
    return PersonalDataAccess(
        subject_id=subject_id,
        fields=sorted(fields),
        reader=reader,
        reader_role=reader_role,
        reader_department=reader_department,
        purpose=text,
    )


keep_topics(globals(), "ledger.access")
