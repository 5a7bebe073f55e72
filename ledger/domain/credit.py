"""The applicant's credit record (失信信用记录) and the joint-punishment list (GZ20·28).

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules). GZ20·28:
"申请人以不正当手段取得行政许可、行政给付、行政奖励、行政补偿的，或者在告知承诺时承诺不实的，纳入
申请人失信信用记录；依法属于严重失信行为的，依据有关规定将申请人列入失信联合惩戒对象名单." One
:class:`CreditRecord` per applicant holds every entry: what was obtained improperly (a licence,
a payment, an award, a compensation — through which case) or which commitment was untrue, the
evidence, the department that recorded it, and — for a serious case — the legal basis on which
the applicant is put on the joint-punishment list (失信联合惩戒对象名单).

Decisions where the regulations are silent: an improper acquisition names the case through
which it was obtained, and that case must have ended with an approval (something was granted);
a serious case states its legal basis ("依据有关规定"); entries are never removed here (a
correction is a later entry of the authority, not an erasure).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import InvalidCreditEntry
from ledger.domain.topics import keep_topics

__all__ = ["ACQUISITIONS", "CREDIT_NAMESPACE", "CreditRecord", "Misconduct"]

CREDIT_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/credit")


class Misconduct(StrEnum):
    """What enters the credit record (GZ20·28)."""

    IMPROPER_LICENCE = "improper_licence"
    """以不正当手段取得行政许可"""
    IMPROPER_PAYMENT = "improper_payment"
    """以不正当手段取得行政给付"""
    IMPROPER_AWARD = "improper_award"
    """以不正当手段取得行政奖励"""
    IMPROPER_COMPENSATION = "improper_compensation"
    """以不正当手段取得行政补偿"""
    UNTRUE_COMMITMENT = "untrue_commitment"
    """告知承诺时承诺不实"""


ACQUISITIONS: Final = frozenset(Misconduct) - {Misconduct.UNTRUE_COMMITMENT}
"""The improper acquisitions: each names the case through which it was obtained."""


def _misconduct(value: object) -> Misconduct:
    try:
        return Misconduct(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(m.value for m in Misconduct)
        raise InvalidCreditEntry("misconduct", f"unknown {value!r}: one of {allowed}") from None


class CreditRecord(NaturalKey, Aggregate):
    """An applicant's 失信信用记录: every entry, and whether they are on the joint-punishment
    list."""

    @staticmethod
    def create_id(applicant_id: UUID) -> UUID:
        return uuid5(CREDIT_NAMESPACE, str(applicant_id))

    @classmethod
    def open(cls, applicant_id: UUID) -> CreditRecord:
        """The (empty) record of an applicant; saved with its first entry."""
        return cls(applicant_id=check.uuid(InvalidCreditEntry, "applicant_id", applicant_id))

    @event("Opened")
    def __init__(self, applicant_id: UUID) -> None:
        self.applicant_id = applicant_id
        self._entries: list[dict[str, Any]] = []

    @event("Entered")
    def _entered(self, entry: dict[str, Any]) -> None:
        self._entries.append(dict(entry))

    def enter(
        self,
        *,
        misconduct: Misconduct | str,
        department: str,
        details: str,
        evidence: list[str],
        at: dt.datetime,
        case_serial: str = "",
        serious: bool = False,
        legal_basis: str = "",
    ) -> dict[str, Any]:
        """Enter a misconduct in the credit record; a serious one (严重失信) with its legal basis
        puts the applicant on the joint-punishment list. Returns the entry. Raises
        :class:`InvalidCreditEntry` naming the field (an acquisition without its case, a
        serious case without its legal basis, no evidence)."""
        kind = _misconduct(misconduct)
        department = check.department_code(InvalidCreditEntry, "department", department)
        details = check.text(InvalidCreditEntry, "details", details)
        refs = check.evidence(InvalidCreditEntry, "evidence", list(evidence))
        when = check.utc(InvalidCreditEntry, "at", at)
        if kind in ACQUISITIONS:
            case_serial = check.text(InvalidCreditEntry, "case_serial", case_serial, 64)
        if not isinstance(serious, bool):
            raise InvalidCreditEntry("serious", "must be true or false")
        if serious:
            legal_basis = check.text(InvalidCreditEntry, "legal_basis", legal_basis)
        entry = {
            "misconduct": kind.value,
            "department": department,
            "details": details,
            "evidence": refs,
            "case_serial": case_serial,
            "serious": serious,
            "legal_basis": legal_basis,
            "entered_at": when,
            "basis": "GZ20·28",
        }
        self._entered(entry=entry)
        return entry

    @property
    def entries(self) -> tuple[dict[str, Any], ...]:
        return tuple(dict(e) for e in self._entries)

    @property
    def joint_punishment(self) -> bool:
        """Whether the applicant is on the 失信联合惩戒对象名单 (a serious entry)."""
        return any(e["serious"] for e in self._entries)


keep_topics(globals(), "ledger.credit")
