"""Ratings (好差评): one first rating and one follow-up per case, callbacks, disputes.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules).
RULES.md "Ratings": every service can be rated on every channel (GZ20·16); five levels
nationally, four in Fuzhou (FZ·22); 不满意 and worse need a reason (GZ16·17, NH·17, PY·17,
FZ·22); one first rating and one follow-up (追评) per case; the rated department may
dispute with evidence (NH·17) and an upheld dispute removes the rating from statistics
(it stays in the chain); a bad rating opens a callback and rectification (回访整改) with a
configurable deadline, default 5 working days; ratings feed department assessment (FZ·22).

Levels are stored canonically (:class:`RatingLevel`) together with the code system and the
code the rating arrived in. The mapping (:data:`CODE_TABLES`):

====  ==================  ==================  ==================
code  GB/T 39046          national interface  Fuzhou (FZ·22)
====  ==================  ==================  ==================
1     非常满意 very sat.   非常不满意 very dis.  非常满意 very sat.
2     满意 satisfied       不满意 dissatisfied   满意 satisfied
3     基本满意 basic       基本满意 basic        基本满意 basic
4     不满意 dissatisfied  满意 satisfied        不满意 dissatisfied
5     非常不满意 very dis.  非常满意 very sat.    —
====  ==================  ==================  ==================

Fuzhou's four levels are the first four of GB/T 39046 in FZ·22's own order (its text
lists them without codes, so codes 1–4 in that order are this module's choice); 非常不满意
has no Fuzhou code and cannot be converted to it.

Decisions where the regulations are silent: an upheld dispute also marks the rating untrue
(it counts toward NH·25's "more than three untrue ratings") and ends its rectification;
the follow-up is given by the same applicant after the first rating; the dispute decision
is the supervisor's (the 政务服务评价监督 body of GZ16·17, PY·17).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import (
    EvidenceRequired,
    InvalidRating,
    RatingAlreadyGiven,
    RatingNotDisputable,
    RatingReasonRequired,
    RectificationNotOpen,
)
from ledger.domain.sealed import SealedKind, seal
from ledger.domain.signer import Signer
from ledger.domain.topics import keep_topics

__all__ = [
    "CODE_TABLES",
    "RATING_NAMESPACE",
    "RECTIFICATION_DAYS",
    "Channel",
    "CodeSystem",
    "Rating",
    "RatingKind",
    "RatingLevel",
    "from_code",
    "to_code",
]

RATING_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/ratings")
RECTIFICATION_DAYS: Final = 5
"""Default callback and rectification deadline, in working days (national practice 5–15)."""
MAX_REASON: Final = 500


class RatingLevel(StrEnum):
    """The canonical five levels, best first."""

    VERY_SATISFIED = "very_satisfied"
    """非常满意"""
    SATISFIED = "satisfied"
    """满意"""
    BASICALLY_SATISFIED = "basically_satisfied"
    """基本满意"""
    DISSATISFIED = "dissatisfied"
    """不满意"""
    VERY_DISSATISFIED = "very_dissatisfied"
    """非常不满意"""

    @property
    def is_bad(self) -> bool:
        """差评: 不满意 or worse (needs a reason, opens a rectification)."""
        return self in (RatingLevel.DISSATISFIED, RatingLevel.VERY_DISSATISFIED)


class CodeSystem(StrEnum):
    """Where a rating's numeric code came from."""

    GBT_39046 = "gbt39046"
    """GB/T 39046: 1 = 非常满意 … 5 = 非常不满意"""
    NATIONAL = "national"
    """全国一体化平台好差评接口: 1 = 非常不满意 … 5 = 非常满意"""
    FUZHOU = "fuzhou"
    """FZ·22 four levels: 1 = 非常满意 … 4 = 不满意"""


_LEVELS: Final = tuple(RatingLevel)
CODE_TABLES: Final[dict[CodeSystem, dict[int, RatingLevel]]] = {
    CodeSystem.GBT_39046: {i + 1: level for i, level in enumerate(_LEVELS)},
    CodeSystem.NATIONAL: {5 - i: level for i, level in enumerate(_LEVELS)},
    CodeSystem.FUZHOU: {i + 1: level for i, level in enumerate(_LEVELS[:4])},
}
"""code → canonical level, per code system."""


class Channel(StrEnum):
    """评价渠道 (GZ20·16): every channel rates."""

    PC = "pc"
    """网上办事大厅（电脑端）"""
    MOBILE = "mobile"
    """移动端 App / 小程序"""
    QR = "qr"
    """二维码"""
    HALL_TABLET = "hall_tablet"
    """窗口评价器"""
    KIOSK = "kiosk"
    """自助终端"""
    PHONE = "phone"
    """12345 电话"""
    SMS = "sms"
    """短信"""


class RatingKind(StrEnum):
    """初评 and 追评."""

    FIRST = "first"
    FOLLOW_UP = "follow_up"


def _system(value: object) -> CodeSystem:
    try:
        return CodeSystem(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(s.value for s in CodeSystem)
        raise InvalidRating("system", f"unknown code system {value!r}: {allowed}") from None


def from_code(system: CodeSystem | str, code: int) -> RatingLevel:
    """The canonical level of ``code`` in ``system``; raises :class:`InvalidRating`."""
    table = CODE_TABLES[_system(system)]
    if isinstance(code, bool) or not isinstance(code, int) or code not in table:
        raise InvalidRating("code", f"{code!r} is not a code of {system}: {sorted(table)}")
    return table[code]


def to_code(system: CodeSystem | str, level: RatingLevel | str) -> int:
    """The code of ``level`` in ``system``; raises :class:`InvalidRating` when it has none."""
    checked = _level(level)
    for code, candidate in CODE_TABLES[_system(system)].items():
        if candidate is checked:
            return code
    raise InvalidRating("level", f"{checked.value} has no code in {system}")


def _level(value: object) -> RatingLevel:
    try:
        return RatingLevel(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidRating("level", f"unknown level {value!r}") from None


def _channel(value: object) -> Channel:
    try:
        return Channel(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise InvalidRating("channel", f"unknown channel {value!r}: {allowed}") from None


def _kind(value: object) -> RatingKind:
    try:
        return RatingKind(value)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidRating("kind", f"expected 'first' or 'follow_up', got {value!r}") from None


class Rating(NaturalKey, Aggregate):
    """The ratings of one case (办件): the first rating and at most one follow-up."""

    @staticmethod
    def create_id(case_id: UUID) -> UUID:
        return uuid5(RATING_NAMESPACE, str(case_id))

    @classmethod
    def rate(
        cls,
        *,
        case_id: UUID,
        case_serial: str,
        department: str,
        applicant_id: UUID,
        system: CodeSystem | str,
        code: int,
        channel: Channel | str,
        reason: str = "",
        at: dt.datetime,
        rectification_days: int = RECTIFICATION_DAYS,
    ) -> Rating:
        """The first rating of a case (初评). A bad rating opens a rectification due
        ``rectification_days`` working days later.

        Raises :class:`RatingReasonRequired` for 不满意 or worse without a reason and
        :class:`InvalidRating` naming the field.
        """
        check.uuid(InvalidRating, "case_id", case_id)
        case_serial = check.text(InvalidRating, "case_serial", case_serial, 64)
        department = check.department_code(InvalidRating, "department", department)
        check.uuid(InvalidRating, "applicant_id", applicant_id)
        entry = _entry(system, code, channel, reason, at, rectification_days)
        return cls(
            case_id=case_id,
            case_serial=case_serial,
            department=department,
            applicant_id=applicant_id,
            entry=entry,
        )

    @event("Rated")
    def __init__(
        self,
        case_id: UUID,
        case_serial: str,
        department: str,
        applicant_id: UUID,
        entry: dict[str, Any],
    ) -> None:
        self.case_id = case_id
        self.case_serial = case_serial
        self.department = department
        self.applicant_id = applicant_id
        self._entries: dict[str, dict[str, Any]] = {RatingKind.FIRST.value: _state(entry)}

    @event("FollowedUp")
    def _followed_up(self, entry: dict[str, Any]) -> None:
        self._entries[RatingKind.FOLLOW_UP.value] = _state(entry)

    @event("CallbackRecorded")
    def _callback_recorded(self, kind: str, note: str, called_at: dt.datetime) -> None:
        self._entries[kind]["callback_at"] = called_at

    @event("Rectified")
    def _rectified(
        self, kind: str, report: dict[str, Any], rectified_at: dt.datetime, late: bool
    ) -> None:
        self._entries[kind]["rectified_at"] = rectified_at

    @event("Disputed")
    def _disputed(
        self, kind: str, reasons: str, evidence: list[str], disputed_at: dt.datetime
    ) -> None:
        self._entries[kind]["dispute"] = "pending"

    @event("DisputeDecided")
    def _dispute_decided(
        self, kind: str, upheld: bool, reasons: str, decided_at: dt.datetime
    ) -> None:
        self._entries[kind]["dispute"] = "upheld" if upheld else "rejected"

    # -- commands -------------------------------------------------------------------------

    def follow_up(
        self,
        *,
        applicant_id: UUID,
        system: CodeSystem | str,
        code: int,
        channel: Channel | str,
        reason: str = "",
        at: dt.datetime,
        rectification_days: int = RECTIFICATION_DAYS,
    ) -> None:
        """The one follow-up rating (追评) of the same applicant.

        Raises :class:`RatingAlreadyGiven` for a second follow-up or another applicant's.
        """
        if RatingKind.FOLLOW_UP.value in self._entries:
            raise RatingAlreadyGiven(f"case {self.case_serial}: the follow-up was already given")
        if applicant_id != self.applicant_id:
            raise RatingAlreadyGiven(
                f"case {self.case_serial}: only the applicant who rated gives the follow-up"
            )
        self._followed_up(
            entry=_entry(system, code, channel, reason, at, rectification_days),
        )

    def _bad_entry(self, kind: RatingKind | str, department: str) -> tuple[str, dict[str, Any]]:
        checked = _kind(kind)
        if department != self.department:
            raise InvalidRating("department", f"the rated department is {self.department}")
        entry = self._entries.get(checked.value)
        if entry is None:
            raise InvalidRating("kind", f"case {self.case_serial} has no {checked.value} rating")
        return checked.value, entry

    def record_callback(
        self, *, kind: RatingKind | str, department: str, note: str, at: dt.datetime
    ) -> None:
        """The rated department called the applicant back (回访) about a bad rating."""
        name, entry = self._bad_entry(kind, department)
        if entry["rectification_due"] is None or entry["rectified_at"] is not None:
            raise RectificationNotOpen(
                f"no open rectification for the {name} rating", state=self.state_of(name)
            )
        self._callback_recorded(
            kind=name,
            note=check.text(InvalidRating, "note", note),
            called_at=check.utc(InvalidRating, "at", at),
        )

    def rectify(
        self,
        *,
        kind: RatingKind | str,
        department: str,
        measures: str,
        at: dt.datetime,
        seal_key: Signer,
    ) -> None:
        """Close the rectification (整改) with a sealed report; late when after the due date.

        Raises :class:`RectificationNotOpen` when there is none, or before the callback.
        """
        name, entry = self._bad_entry(kind, department)
        if entry["rectification_due"] is None or entry["rectified_at"] is not None:
            raise RectificationNotOpen(
                f"no open rectification for the {name} rating", state=self.state_of(name)
            )
        if entry["dispute"] == "upheld":
            raise RectificationNotOpen(
                f"the {name} rating was found untrue: nothing to rectify", state="excluded"
            )
        if entry["callback_at"] is None:
            raise RectificationNotOpen(
                f"call the applicant back (回访) before closing the {name} rectification",
                state=self.state_of(name),
            )
        when = check.utc(InvalidRating, "at", at)
        report = seal(
            SealedKind.RECTIFICATION_REPORT,
            subject=self.case_serial,
            issuer=self.department,
            issued_at=when,
            body={
                "rating": f"{self.id}:{name}",
                "measures": check.text(InvalidRating, "measures", measures),
            },
            signer=seal_key,
            refuse=InvalidRating,
        )
        self._rectified(
            kind=name,
            report=report.to_dict(),
            rectified_at=when,
            late=check.local_date(when) > entry["rectification_due"],
        )

    def dispute(
        self,
        *,
        kind: RatingKind | str,
        department: str,
        reasons: str,
        evidence: list[str],
        at: dt.datetime,
    ) -> None:
        """The rated department disputes (异议) a rating with evidence (举证, NH·17)."""
        name, entry = self._bad_entry(kind, department)
        reasons = check.text(EvidenceRequired, "reasons", reasons)
        refs = check.evidence(EvidenceRequired, "evidence", evidence)
        when = check.utc(InvalidRating, "at", at)
        if entry["rectification_due"] is None:
            raise RatingNotDisputable(
                f"the {name} rating is not a bad rating (差评)", state=self.state_of(name)
            )
        if entry["dispute"] is not None:
            raise RatingNotDisputable(
                f"the {name} rating was already disputed ({entry['dispute']})",
                state=self.state_of(name),
            )
        self._disputed(kind=name, reasons=reasons, evidence=refs, disputed_at=when)

    def decide_dispute(
        self, *, kind: RatingKind | str, upheld: bool, reasons: str, at: dt.datetime
    ) -> None:
        """The supervisor decides a pending dispute; upheld excludes the rating from
        statistics and marks it untrue (it stays in the chain)."""
        name = _kind(kind).value
        entry = self._entries.get(name)
        if entry is None or entry["dispute"] != "pending":
            raise RatingNotDisputable(
                f"no pending dispute on the {name} rating", state=self.state_of(name)
            )
        if not isinstance(upheld, bool):
            raise InvalidRating("upheld", "must be true or false")
        self._dispute_decided(
            kind=name,
            upheld=upheld,
            reasons=check.text(InvalidRating, "reasons", reasons),
            decided_at=check.utc(InvalidRating, "at", at),
        )

    # -- queries --------------------------------------------------------------------------

    def level(self, kind: RatingKind | str = RatingKind.FIRST) -> RatingLevel | None:
        entry = self._entries.get(_kind(kind).value)
        return RatingLevel(entry["level"]) if entry else None

    def entry(self, kind: RatingKind | str = RatingKind.FIRST) -> dict[str, Any] | None:
        """A copy of one rating's state (level, system, code, channel, reason, dates)."""
        entry = self._entries.get(_kind(kind).value)
        return dict(entry) if entry else None

    def counts_in_statistics(self, kind: RatingKind | str = RatingKind.FIRST) -> bool:
        """False when absent or when a dispute on it was upheld."""
        entry = self._entries.get(_kind(kind).value)
        return entry is not None and entry["dispute"] != "upheld"

    def is_untrue(self, kind: RatingKind | str = RatingKind.FIRST) -> bool:
        """True when a dispute on it was upheld (与事实不符, counts for NH·25)."""
        entry = self._entries.get(_kind(kind).value)
        return entry is not None and entry["dispute"] == "upheld"

    def state_of(self, kind: str) -> str:
        entry = self._entries.get(kind)
        if entry is None:
            return "absent"
        if entry["dispute"] == "upheld":
            return "excluded"
        if entry["rectification_due"] is None:
            return "rated"
        return "rectified" if entry["rectified_at"] is not None else "rectification open"

    def is_rectification_overdue(
        self, today: dt.date, kind: RatingKind | str = RatingKind.FIRST
    ) -> bool:
        """True while a bad rating's rectification is open after its due date."""
        entry = self._entries.get(_kind(kind).value)
        return (
            entry is not None
            and entry["rectification_due"] is not None
            and entry["rectified_at"] is None
            and entry["dispute"] != "upheld"
            and today > entry["rectification_due"]
        )


def _entry(
    system: CodeSystem | str,
    code: int,
    channel: Channel | str,
    reason: str,
    at: dt.datetime,
    rectification_days: int,
) -> dict[str, Any]:
    checked_system = _system(system)
    level = from_code(checked_system, code)
    checked_channel = _channel(channel)
    when = check.utc(InvalidRating, "at", at)
    days = check.working_days(InvalidRating, "rectification_days", rectification_days)
    if level.is_bad and (not isinstance(reason, str) or not reason.strip()):
        raise RatingReasonRequired("reason", f"a {level.value} rating states its reason")
    reason = check.optional_text(InvalidRating, "reason", reason, MAX_REASON)
    due = check.due_after(when, days) if level.is_bad else None
    return {
        "level": level.value,
        "system": checked_system.value,
        "code": code,
        "channel": checked_channel.value,
        "reason": reason,
        "rated_at": when,
        "rectification_due": due.due if due else None,
        "provisional": due.provisional if due else False,
    }


def _state(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "callback_at": None, "rectified_at": None, "dispute": None}


keep_topics(globals(), "ledger.ratings")
