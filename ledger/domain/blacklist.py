"""The online-services blacklist (网上办事黑名单): decisions, notices, appeals, removal.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules; the
authority's seal key is passed in). RULES.md "Blacklist and credit":

- Grounds (GZ16·22, NH·25, PY·28): false materials; batch duplicate applications or
  uncivil form content; malicious complaints or ratings; and the counted grounds of NH·25 —
  more than three untrue complaints or ratings, more than three missed appointments, more
  than three failures to submit materials after approval; other dishonest or malicious acts.
  A counted ground needs at least four distinct facts (超过三次).
- A blacklisting is a decision with a sealed notice (通知书) stating the ground, the end of
  the restriction and how to appeal. The applicant may appeal (申诉) to the deciding
  authority within 30 working days from receiving the notice or learning of the decision
  (自收到处理决定通知书或知悉该处理决定之日起, GZ16·22, PY·28, NH·25), not from the decision
  date: :meth:`Blacklisting.record_notice_receipt` records that day (a 送达回证, or when the
  applicant learned of it); until it is recorded the period has not started and an appeal is
  in time (lodging one proves knowledge). The applicant is removed (除名) when the act proves
  unintentional (非故意), on appeal or later.
- Online application is blocked for 3 months (限制3个月内无法使用在线申请功能, GZ16·22,
  PY·28), configurable per city; malicious acts may go to the credit system (PY·28).

Decisions where the regulations are silent: the restriction starts on the day of the decision
(Asia/Shanghai); the ``appeal_due`` of the ``Blacklisted`` event is the end of the appeal
period were the notice received that same day, and ``NoticeReceived`` sets the real one;
the day of receipt or knowledge is recorded once (the first one starts the period);
"3 months" are calendar months (the same day-of-month, clipped to the month's end), and
:meth:`Blacklisting.restriction` reports ``until`` as the last blocked day; a pending
appeal does not suspend the restriction; a new blacklisting needs the previous one lapsed
or removed.
"""

from __future__ import annotations

import calendar as _gregorian
import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Final, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import (
    AppealOutOfTime,
    BlacklistThresholdNotMet,
    InvalidBlacklisting,
    InvalidBlacklistTransition,
)
from ledger.domain.sealed import SealedKind, SealedRecord, seal
from ledger.domain.signer import Signer
from ledger.domain.topics import keep_topics

__all__ = [
    "APPEAL_DAYS",
    "BLACKLIST_NAMESPACE",
    "COUNTED_GROUNDS",
    "COUNT_THRESHOLD",
    "GROUND_SOURCES",
    "RESTRICTION_MONTHS",
    "BlacklistGround",
    "Blacklisting",
    "Restriction",
    "add_months",
]

BLACKLIST_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/blacklist")
APPEAL_DAYS: Final = 30
"""Appeal within 30 working days of the notice (GZ16·22, NH·25, PY·28)."""
RESTRICTION_MONTHS: Final = 3
"""Online application blocked for 3 months (GZ16·22, PY·28)."""
COUNT_THRESHOLD: Final = 3
"""The counted grounds need *more than* three facts (NH·25)."""
MAX_FACTS: Final = 50
MAX_MONTHS: Final = 120
RULE: Final = "GZ16·22, NH·25, PY·28"
RECEIPT_OR_KNOWLEDGE: Final = "receipt of this notice or knowledge of the decision"
"""自收到处理决定通知书或知悉该处理决定之日起 (GZ16·22, PY·28, NH·25)."""
UNTIL_REMOVED: Final = "until removed (除名), no time limit (NH·25)"
"""The notice's ``until`` where a city sets no time limit on the restriction (NH·25)."""
RECEIPT_KINDS: Final = ("received", "learned")
"""How the applicant came to know: received the notice (收到), or learned of the decision (知悉)."""


class BlacklistGround(StrEnum):
    """纳入黑名单的情形."""

    FALSE_MATERIALS = "false_materials"
    """提供虚假申请材料、信息或欺诈隐瞒事实 (GZ16·22(一), NH·25(一), PY·28(一))"""
    BATCH_OR_UNCIVIL = "batch_or_uncivil"
    """批量重复申办同一事项、填写不文明信息 (GZ16·22(二), PY·28(二))"""
    MALICIOUS_COMPLAINTS_OR_RATINGS = "malicious_complaints_or_ratings"
    """恶意投诉、评价 (GZ16·22(三), PY·28(三))"""
    UNTRUE_COMPLAINTS_OR_RATINGS = "untrue_complaints_or_ratings"
    """提出与事实不符的投诉、评价超过三次 (NH·25(四))"""
    MISSED_APPOINTMENTS = "missed_appointments"
    """预约后失约超过三次 (NH·25(三))"""
    MATERIALS_NOT_SUBMITTED = "materials_not_submitted"
    """申办通过后不按要求提交材料等超过三次 (NH·25(二))"""
    OTHER_MALICIOUS = "other_malicious"
    """其他不诚信或恶意（系统攻击）行为 (GZ16·22(四), NH·25(五))"""


GROUND_SOURCES: Final[dict[BlacklistGround, str]] = {
    BlacklistGround.FALSE_MATERIALS: "GZ16·22, NH·25, PY·28",
    BlacklistGround.BATCH_OR_UNCIVIL: "GZ16·22, PY·28",
    BlacklistGround.MALICIOUS_COMPLAINTS_OR_RATINGS: "GZ16·22, PY·28",
    BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS: "NH·25",
    BlacklistGround.MISSED_APPOINTMENTS: "NH·25",
    BlacklistGround.MATERIALS_NOT_SUBMITTED: "NH·25",
    BlacklistGround.OTHER_MALICIOUS: "GZ16·22, NH·25",
}
COUNTED_GROUNDS: Final = frozenset(
    {
        BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS,
        BlacklistGround.MISSED_APPOINTMENTS,
        BlacklistGround.MATERIALS_NOT_SUBMITTED,
    }
)


class Restriction(NamedTuple):
    """Whether online application is blocked on a date, through which day, and how to appeal."""

    blocked: bool
    until: dt.date | None
    appeal_route: str


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus calendar ``months``, the day clipped to the target month's end."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, _gregorian.monthrange(year, month)[1]))


def _ground(value: object) -> BlacklistGround:
    try:
        return BlacklistGround(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(g.value for g in BlacklistGround)
        raise InvalidBlacklisting(
            "ground", f"unknown ground {value!r}: expected one of {allowed}"
        ) from None


def _facts(value: Iterable[str]) -> list[str]:
    facts = check.evidence(InvalidBlacklisting, "facts", list(value))
    if len(facts) > MAX_FACTS:
        raise InvalidBlacklisting("facts", f"more than {MAX_FACTS} facts")
    return facts


def _seal(
    kind: SealedKind,
    *,
    subject: str,
    issuer: str,
    at: dt.datetime,
    body: dict[str, Any],
    seal_key: Signer,
) -> SealedRecord:
    return seal(
        kind,
        subject=subject,
        issuer=issuer,
        issued_at=at,
        body=body,
        signer=seal_key,
        refuse=InvalidBlacklisting,
    )


class Blacklisting(NaturalKey, Aggregate):
    """An applicant's blacklist record: every blacklisting decision, appeal and removal."""

    @staticmethod
    def create_id(applicant_id: UUID) -> UUID:
        return uuid5(BLACKLIST_NAMESPACE, str(applicant_id))

    @classmethod
    def open(cls, applicant_id: UUID) -> Blacklisting:
        """The (empty) record of an applicant; saved with its first decision."""
        return cls(applicant_id=check.uuid(InvalidBlacklisting, "applicant_id", applicant_id))

    @event("Opened")
    def __init__(self, applicant_id: UUID) -> None:
        self.applicant_id = applicant_id
        self._entries: list[dict[str, Any]] = []

    @event("Blacklisted")
    def _blacklisted(
        self,
        ground: str,
        facts: list[str],
        authority: str,
        details: str,
        decided_at: dt.datetime,
        starts: dt.date,
        until: dt.date | None,
        appeal_due: dt.date,
        provisional: bool,
        notice: dict[str, Any],
        credit_referral: bool,
    ) -> None:
        self._entries.append(
            {
                "ground": ground,
                "facts": list(facts),
                "authority": authority,
                "starts": starts,
                "until": until,
                "appeal_due": appeal_due,
                "notice": dict(notice),
                "credit_referral": credit_referral,
                "appealed_on": None,
                "received_on": None,
                "appeal_finding": None,
                "removed_on": None,
            }
        )

    @event("NoticeReceived")
    def _notice_received(
        self,
        received_on: dt.date,
        how: str,
        evidence: list[str],
        recorded_at: dt.datetime,
        appeal_due: dt.date,
        provisional: bool,
    ) -> None:
        self._entries[-1]["received_on"] = received_on
        self._entries[-1]["appeal_due"] = appeal_due

    @event("AppealLodged")
    def _appeal_lodged(
        self, reasons: str, evidence: list[str], lodged_at: dt.datetime, lodged_on: dt.date
    ) -> None:
        self._entries[-1]["appealed_on"] = lodged_on

    @event("AppealDecided")
    def _appeal_decided(
        self, upheld: bool, decision: dict[str, Any], decided_at: dt.datetime, decided_on: dt.date
    ) -> None:
        entry = self._entries[-1]
        entry["appeal_finding"] = "upheld" if upheld else "dismissed"
        if upheld:
            entry["removed_on"] = decided_on

    @event("Removed")
    def _removed(
        self,
        reasons: str,
        evidence: list[str],
        decision: dict[str, Any],
        removed_at: dt.datetime,
        removed_on: dt.date,
    ) -> None:
        self._entries[-1]["removed_on"] = removed_on

    # -- commands -------------------------------------------------------------------------

    def blacklist(
        self,
        *,
        ground: BlacklistGround | str,
        facts: Iterable[str],
        authority: str,
        details: str,
        at: dt.datetime,
        seal_key: Signer,
        restriction_months: int | None = RESTRICTION_MONTHS,
        appeal_days: int = APPEAL_DAYS,
        credit_referral: bool = False,
    ) -> SealedRecord:
        """Decide a blacklisting and issue its sealed notice (通知书); returns the notice.

        ``facts`` reference what happened (e.g. ``appointment:<slot>:<booking>``); a
        counted ground needs more than three distinct facts. Raises
        :class:`BlacklistThresholdNotMet`, :class:`InvalidBlacklistTransition` while a
        blacklisting is in force, and :class:`InvalidBlacklisting` naming the field.
        """
        checked = _ground(ground)
        refs = _facts(facts)
        authority = check.department_code(InvalidBlacklisting, "authority", authority)
        details = check.text(InvalidBlacklisting, "details", details)
        when = check.utc(InvalidBlacklisting, "at", at)
        if restriction_months is not None and (
            isinstance(restriction_months, bool)
            or not isinstance(restriction_months, int)
            or not 1 <= restriction_months <= MAX_MONTHS
        ):
            raise InvalidBlacklisting(
                "restriction_months", f"must be a whole number of months from 1 to {MAX_MONTHS}"
            )
        days = check.working_days(InvalidBlacklisting, "appeal_days", appeal_days)
        if not isinstance(credit_referral, bool):
            raise InvalidBlacklisting("credit_referral", "must be true or false")
        if checked in COUNTED_GROUNDS and len(refs) <= COUNT_THRESHOLD:
            raise BlacklistThresholdNotMet(
                f"facts: {checked.value} needs more than {COUNT_THRESHOLD} facts, "
                f"found {len(refs)}",
                rule=GROUND_SOURCES[checked],
            )
        starts = check.local_date(when)
        if self.restriction(starts).blocked:
            raise InvalidBlacklistTransition(
                "the applicant is already blacklisted", state="blacklisted"
            )
        until = (  # None: no time limit, until removed (NH·25)
            None
            if restriction_months is None
            else add_months(starts, restriction_months) - dt.timedelta(days=1)
        )
        appeal = check.due_from(starts, days)
        route = _appeal_route(authority, None, days)
        notice = _seal(
            SealedKind.BLACKLIST_NOTICE,
            subject=str(self.applicant_id),
            issuer=authority,
            at=when,
            body={
                "applicant": self.applicant_id,
                "ground": checked.value,
                "rule": GROUND_SOURCES[checked],
                "facts": refs,
                "details": details,
                "starts": starts,
                "until": until or UNTIL_REMOVED,
                "appeal_working_days": days,
                "appeal_period_from": RECEIPT_OR_KNOWLEDGE,
                "appeal_route": route,
            },
            seal_key=seal_key,
        )
        self._blacklisted(
            ground=checked.value,
            facts=refs,
            authority=authority,
            details=details,
            decided_at=when,
            starts=starts,
            until=until,
            appeal_due=appeal.due,
            provisional=appeal.provisional,
            notice=notice.to_dict(),
            credit_referral=credit_referral,
        )
        return notice

    def _current(self, state: str) -> dict[str, Any]:
        if not self._entries or self._entries[-1]["removed_on"] is not None:
            raise InvalidBlacklistTransition(
                f"no blacklisting in force to {state}", state=self.state
            )
        return self._entries[-1]

    def record_notice_receipt(
        self,
        *,
        received_on: dt.date,
        how: str,
        evidence: Iterable[str],
        at: dt.datetime,
        appeal_days: int = APPEAL_DAYS,
    ) -> dt.date:
        """Record the day the applicant received the notice or learned of the decision
        (``how``: ``received`` or ``learned``): the appeal period runs from it (GZ16·22, PY·28).
        Once per blacklisting, not before the decision nor after ``at``; returns the last day
        of the appeal period. Raises :class:`InvalidBlacklisting` naming the field and
        :class:`InvalidBlacklistTransition` when already recorded or nothing is in force."""
        entry = self._current("record the notice's receipt of")
        when = check.utc(InvalidBlacklisting, "at", at)
        if not isinstance(received_on, dt.date) or isinstance(received_on, dt.datetime):
            raise InvalidBlacklisting("received_on", "must be a date")
        if not entry["starts"] <= received_on <= check.local_date(when):
            raise InvalidBlacklisting(
                "received_on",
                f"must be from the decision day {entry['starts'].isoformat()} to today",
            )
        if how not in RECEIPT_KINDS:
            raise InvalidBlacklisting("how", f"must be one of {', '.join(RECEIPT_KINDS)}")
        refs = check.evidence(InvalidBlacklisting, "evidence", list(evidence))
        days = check.working_days(InvalidBlacklisting, "appeal_days", appeal_days)
        if entry["received_on"] is not None:
            raise InvalidBlacklistTransition(
                f"the notice's receipt was recorded: {entry['received_on'].isoformat()}",
                state=self.state,
            )
        appeal = check.due_from(received_on, days)
        self._notice_received(
            received_on=received_on,
            how=how,
            evidence=refs,
            recorded_at=when,
            appeal_due=appeal.due,
            provisional=appeal.provisional,
        )
        return appeal.due

    def lodge_appeal(self, *, reasons: str, evidence: Iterable[str], at: dt.datetime) -> None:
        """The applicant appeals (申诉) within the appeal period; once per blacklisting. The
        period runs from the recorded receipt or knowledge of the notice; before one is
        recorded any appeal is in time (GZ16·22, PY·28).

        Raises :class:`AppealOutOfTime` after the period and
        :class:`InvalidBlacklistTransition` when there is nothing to appeal.
        """
        entry = self._current("appeal")
        reasons = check.text(InvalidBlacklisting, "reasons", reasons)
        refs = list(evidence)
        refs = check.evidence(InvalidBlacklisting, "evidence", refs) if refs else []
        when = check.utc(InvalidBlacklisting, "at", at)
        if entry["appealed_on"] is not None:
            raise InvalidBlacklistTransition("the appeal was already lodged", state=self.state)
        if entry["received_on"] is not None and check.local_date(when) > entry["appeal_due"]:
            raise AppealOutOfTime(
                f"at: the appeal period ended {entry['appeal_due'].isoformat()}, counted from the "
                f"notice's receipt or knowledge on {entry['received_on'].isoformat()}"
            )
        self._appeal_lodged(
            reasons=reasons, evidence=refs, lodged_at=when, lodged_on=check.local_date(when)
        )

    def decide_appeal(
        self,
        *,
        unintentional: bool,
        reasons: str,
        authority: str,
        at: dt.datetime,
        seal_key: Signer,
    ) -> SealedRecord:
        """The authority decides the appeal; when the act proves unintentional the
        applicant is removed (除名). Returns the sealed decision."""
        entry = self._current("decide an appeal on")
        if entry["appealed_on"] is None or entry["appeal_finding"] is not None:
            raise InvalidBlacklistTransition("no appeal is pending", state=self.state)
        if authority != entry["authority"]:
            raise InvalidBlacklisting("authority", "the deciding authority decides the appeal")
        if not isinstance(unintentional, bool):
            raise InvalidBlacklisting("unintentional", "must be true or false")
        decision = self._decision(unintentional, reasons, at, seal_key)
        self._appeal_decided(
            upheld=unintentional,
            decision=decision.to_dict(),
            decided_at=decision.issued_at,
            decided_on=check.local_date(decision.issued_at),
        )
        return decision

    def remove(
        self,
        *,
        reasons: str,
        evidence: Iterable[str],
        authority: str,
        at: dt.datetime,
        seal_key: Signer,
    ) -> SealedRecord:
        """Remove the applicant (除名) once the act is verified unintentional, with or
        without an appeal (NH·25, PY·28). Returns the sealed decision."""
        entry = self._current("remove")
        if authority != entry["authority"]:
            raise InvalidBlacklisting("authority", "the deciding authority removes")
        refs = check.evidence(InvalidBlacklisting, "evidence", list(evidence))
        decision = self._decision(True, reasons, at, seal_key)
        self._removed(
            reasons=decision.body["reasons"],
            evidence=refs,
            decision=decision.to_dict(),
            removed_at=decision.issued_at,
            removed_on=check.local_date(decision.issued_at),
        )
        return decision

    def _decision(
        self, unintentional: bool, reasons: str, at: dt.datetime, seal_key: Signer
    ) -> SealedRecord:
        entry = self._entries[-1]
        return _seal(
            SealedKind.APPEAL_DECISION,
            subject=str(self.applicant_id),
            issuer=entry["authority"],
            at=check.utc(InvalidBlacklisting, "at", at),
            body={
                "applicant": self.applicant_id,
                "finding": "unintentional: removed" if unintentional else "dismissed",
                "reasons": check.text(InvalidBlacklisting, "reasons", reasons),
                "notice": entry["notice"]["content_hash"],
            },
            seal_key=seal_key,
        )

    # -- queries --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        if not self._entries:
            return "clear"
        entry = self._entries[-1]
        if entry["removed_on"] is not None:
            return "removed"
        if entry["appeal_finding"] == "dismissed":
            return "appeal dismissed"
        return "appealed" if entry["appealed_on"] is not None else "blacklisted"

    @property
    def notices(self) -> tuple[SealedRecord, ...]:
        return tuple(SealedRecord.from_dict(entry["notice"]) for entry in self._entries)

    @property
    def entries(self) -> tuple[dict[str, Any], ...]:
        """Every blacklisting, oldest first (copies)."""
        return tuple(dict(entry) for entry in self._entries)

    def restriction(self, on: dt.date) -> Restriction:
        """Whether online application is blocked on ``on`` (Asia/Shanghai date), through which
        day, and the appeal route to tell the applicant."""
        for entry in reversed(self._entries):
            removed = entry["removed_on"]
            ends = entry["until"]
            in_force = entry["starts"] <= on and (ends is None or on <= ends)
            if in_force and (removed is None or on < removed):
                return Restriction(True, entry["until"], self._route(entry, on))
        return Restriction(False, None, "")

    @staticmethod
    def _route(entry: dict[str, Any], on: dt.date) -> str:
        if entry["appeal_finding"] == "dismissed":
            return (
                f"appeal dismissed; removal on proof the act was unintentional, to "
                f"{entry['authority']} ({RULE})"
            )
        if entry["appealed_on"] is not None:
            return (
                f"appeal lodged {entry['appealed_on'].isoformat()} with {entry['authority']}, "
                f"pending ({RULE})"
            )
        if entry["received_on"] is not None and on > entry["appeal_due"]:
            return (
                f"appeal period ended {entry['appeal_due'].isoformat()}; removal on proof the "
                f"act was unintentional, to {entry['authority']} ({RULE})"
            )
        days = int(entry["notice"]["body"].get("appeal_working_days", APPEAL_DAYS))
        if entry["received_on"] is None:
            return _appeal_route(entry["authority"], None, days)
        return _appeal_route(entry["authority"], entry["appeal_due"], days)


def _appeal_route(authority: str, due: dt.date | None, days: int) -> str:
    if due is None:
        return (
            f"appeal (申诉) to {authority} within {days} working days of receiving this notice "
            f"or learning of the decision ({RULE})"
        )
    return (
        f"appeal (申诉) to {authority} by {due.isoformat()}, the end of the appeal period "
        f"after the notice was received or known ({RULE})"
    )


keep_topics(globals(), "ledger.blacklist")
