"""Reads of personal data, recorded in the chain, and the grants that allow them
(GZ20·25, NH·23, GZ16·21: authorisation per role and department, an audit trail of who read
what, extra protection for personal information).

Layer: domain (standard library, ``eventsourcing.domain``, ``ledger.domain.rules``).

- Every response that reveals unmasked personal data leaves one ``PersonalDataRead`` event:
  who read (token id, role, department), whose data (the subject's id, never the data),
  which fields, the purpose the caller stated, and the ``basis`` that allowed it —
  ``case:<serial>`` (the reader's department holds a case of the subject) or
  ``grant:<grant id>@<version>`` (a :class:`PersonalDataGrant` in force).
- A purpose is printable text of at most :data:`MAX_PURPOSE` characters (letters, marks,
  numbers, punctuation, symbols and spaces; no control, format, private-use or unassigned
  characters, so no NUL and no bidirectional overrides): :func:`check_purpose`.
- A :class:`PersonalDataGrant` lets one department read one subject's data until a set
  time, at most :data:`MAX_GRANT_HOURS` after it was granted; it is recorded by a
  supervisor (the supervision office) or the platform, with a reason, in the chain. There
  is one grant record per (subject, department); a new grant replaces the time limit.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.departments import DEPARTMENT_CODE_PATTERN
from ledger.domain.rules import InvalidGrant, InvalidPurpose, PurposeRequired
from ledger.domain.topics import keep_topics

__all__ = [
    "GRANT_NAMESPACE",
    "MAX_GRANT_HOURS",
    "MAX_PURPOSE",
    "InvalidGrant",
    "InvalidPurpose",
    "PersonalDataAccess",
    "PersonalDataGrant",
    "PurposeRequired",
    "check_purpose",
    "record_read",
]

MAX_PURPOSE: Final = 200
"""Longest stated purpose (or grant reason), in characters."""
MAX_GRANT_HOURS: Final = 168
"""Longest grant: seven days."""
GRANT_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/personal-data-grants")
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width, bidirectional overrides), surrogate, private-use and
unassigned characters, line and paragraph separators."""


def check_purpose(text: object, field: str = "purpose") -> str:
    """The purpose, stripped; raises :class:`PurposeRequired` if empty and
    :class:`InvalidPurpose` if longer than :data:`MAX_PURPOSE` or not printable text."""
    if not isinstance(text, str) or not text.strip():
        raise PurposeRequired(field, "reading personal data needs a stated purpose")
    value = text.strip()
    if len(value) > MAX_PURPOSE:
        raise InvalidPurpose(field, f"at most {MAX_PURPOSE} characters, got {len(value)}")
    for char in value:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise InvalidPurpose(field, f"U+{ord(char):04X} is not printable text")
    return value


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
        basis: str = "",
    ) -> None:
        self.subject_id = subject_id
        self.fields = fields
        self.reader = reader
        self.reader_role = reader_role
        self.reader_department = reader_department
        self.purpose = purpose
        self.basis = basis


def record_read(
    subject_id: UUID,
    fields: list[str],
    *,
    reader: str,
    reader_role: str,
    reader_department: str,
    purpose: str | None,
    basis: str = "",
) -> PersonalDataAccess:
    """The access record to save with the read (see :func:`check_purpose` for what it
    raises). ``basis`` says what allowed the read (``case:…`` or ``grant:…``)."""
    return PersonalDataAccess(
        subject_id=subject_id,
        fields=sorted(fields),
        reader=reader,
        reader_role=reader_role,
        reader_department=reader_department,
        purpose=check_purpose(purpose),
        basis=basis,
    )


class PersonalDataGrant(Aggregate):
    """What one department may read of one subject's personal data, and until when."""

    @staticmethod
    def create_id(subject_id: UUID, department: str) -> UUID:
        return uuid5(GRANT_NAMESPACE, f"{subject_id}:{department}")

    @classmethod
    def id_for(cls, subject_id: UUID, department: str) -> UUID:
        return cls.create_id(subject_id, department)

    @classmethod
    def open(cls, subject_id: UUID, department: str) -> PersonalDataGrant:
        if not isinstance(department, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(department):
            raise InvalidGrant("department", "must be a department code (2–32 of 0-9, A-Z, '-')")
        return cls(subject_id=subject_id, department=department)

    @event("Opened")
    def __init__(self, subject_id: UUID, department: str) -> None:
        self.subject_id = subject_id
        self.department = department
        self.until: dt.datetime | None = None
        self.reason = ""
        self.granted_by = ""

    def grant(self, *, reason: str, hours: int, at: dt.datetime, granted_by: str) -> None:
        """Allow reads from ``at`` for ``hours`` (1–:data:`MAX_GRANT_HOURS`); ``reason`` is
        checked like a purpose. Raises :class:`InvalidGrant` / :class:`InvalidPurpose`."""
        text = check_purpose(reason, "reason")
        if isinstance(hours, bool) or not isinstance(hours, int):
            raise InvalidGrant("hours", "must be a whole number")
        if not 1 <= hours <= MAX_GRANT_HOURS:
            raise InvalidGrant("hours", f"must be 1–{MAX_GRANT_HOURS}")
        if at.tzinfo is None:
            raise InvalidGrant("at", "must carry a time zone")
        self._granted(
            reason=text,
            until=(at + dt.timedelta(hours=hours)).astimezone(dt.UTC),
            granted_by=granted_by,
        )

    @event("Granted")
    def _granted(self, reason: str, until: dt.datetime, granted_by: str) -> None:
        self.reason = reason
        self.until = until
        self.granted_by = granted_by

    def in_force(self, at: dt.datetime) -> bool:
        """Whether the grant allows a read at ``at``."""
        return self.until is not None and at < self.until


keep_topics(globals(), "ledger.access")
