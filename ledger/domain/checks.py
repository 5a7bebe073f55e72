"""Argument checks and time limits shared by the certificate, rating, appointment,
complaint, blacklist and supervision aggregates.

Layer: domain (standard library and ledger domain modules only; no clock reads). Each
check raises the caller's :class:`~ledger.domain.rules.FieldViolation` subclass naming the field,
so the error names the rule of the aggregate that refused. Times are passed in as aware
datetimes and stored in UTC; working days are counted in Asia/Shanghai by
:mod:`ledger.domain.calendar` (RULES.md "Time"; DESIGN invariant 7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final
from uuid import UUID

from ledger.domain.calendar import Deadline, deadline, shanghai_date
from ledger.domain.departments import DEPARTMENT_CODE_PATTERN
from ledger.domain.rules import FieldViolation

__all__ = [
    "MAX_EVIDENCE",
    "MAX_LIMIT_DAYS",
    "MAX_TEXT",
    "department_code",
    "due_after",
    "due_from",
    "evidence",
    "local_date",
    "optional_text",
    "text",
    "utc",
    "uuid",
    "working_days",
]

MAX_TEXT: Final = 2000
"""Longest reason, answer or note accepted (characters)."""
MAX_EVIDENCE: Final = 50
"""Most evidence references one objection or decision carries."""
MAX_EVIDENCE_REF: Final = 200
MAX_LIMIT_DAYS: Final = 250
"""Longest configurable time limit, in working days (about a year)."""


def utc(error: type[FieldViolation], field: str, value: object) -> dt.datetime:
    """``value`` as a UTC datetime; it must be time-zone aware."""
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise error(field, "must be a time-zone-aware datetime")
    return value.astimezone(dt.UTC)


def text(error: type[FieldViolation], field: str, value: object, max_length: int = MAX_TEXT) -> str:
    """Non-blank text of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise error(field, "must be non-empty text")
    if len(value) > max_length:
        raise error(field, f"longer than {max_length} characters")
    return value


def optional_text(
    error: type[FieldViolation], field: str, value: object, max_length: int = MAX_TEXT
) -> str:
    """Text that may be empty (``""``), at most ``max_length`` characters."""
    if value is None or value == "":
        return ""
    return text(error, field, value, max_length)


def department_code(error: type[FieldViolation], field: str, value: object) -> str:
    """A department code (``ledger.domain.departments.DEPARTMENT_CODE_PATTERN``)."""
    if not isinstance(value, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(value):
        raise error(field, "must be a department code (2–32 characters of 0-9, A-Z, '-')")
    return value


def uuid(error: type[FieldViolation], field: str, value: object) -> UUID:
    """A UUID (case id, applicant id, …)."""
    if not isinstance(value, UUID):
        raise error(field, f"must be a UUID, got {type(value).__name__}")
    return value


def working_days(
    error: type[FieldViolation], field: str, value: object, maximum: int = MAX_LIMIT_DAYS
) -> int:
    """A time limit: a whole number of working days, 1 to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise error(field, f"must be a whole number of working days from 1 to {maximum}")
    return value


def evidence(error: type[FieldViolation], field: str, value: object) -> list[str]:
    """A non-empty list of evidence references (material hashes, document or event ids)."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or not value:
        raise error(field, "must list at least one evidence reference")
    if len(value) > MAX_EVIDENCE:
        raise error(field, f"more than {MAX_EVIDENCE} references")
    refs = [text(error, f"{field}[{i}]", ref, MAX_EVIDENCE_REF) for i, ref in enumerate(value)]
    if len(set(refs)) != len(refs):
        raise error(field, "lists a reference twice")
    return refs


def due_after(at: dt.datetime, days: int) -> Deadline:
    """The deadline ``days`` working days after the Asia/Shanghai date of ``at``.

    The day of ``at`` is not counted (``ledger.domain.calendar.add_working_days``); an answer on
    the due date is in time.
    """
    return deadline(shanghai_date(at), days)


def due_from(start: dt.date, days: int) -> Deadline:
    """The deadline ``days`` working days after the date ``start`` (an extension)."""
    return deadline(start, days)


def local_date(at: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware datetime."""
    return shanghai_date(at)
