"""The kiosk fleet (自助终端): registration, planned suspensions, faults, retirement, prints.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules; time is
passed in as aware datetimes, working days come from :mod:`ledger.domain.calendar`). RULES.md
"Kiosks" (GZ20·14, PY·18–23):

- A kiosk is registered with its location and its key (the ``KeyRole.KIOSK`` actor key that
  signs what it does); it serves 24 hours (PY·20).
- A planned suspension is announced ahead (PY·21), by its length: up to 1 hour → 1 working
  day ahead; up to 3 working days → 2 working days; up to 2 weeks → 5 working days and the
  kiosk is removed (撤除) meanwhile; longer → removed and registered anew before it serves
  again. :func:`notice_rule` computes the band, :func:`notice_is_late` the verdict; both are
  computed when the notice is recorded and stored in the event (replay re-runs no calendar).
- Faults and resumptions are recorded as they happen, with whether a third party caused them.
- Retirement (PY·21) when a kiosk was unavailable a week in a row, or on 5 or more working days
  of a calendar month, third-party causes excepted: :func:`retirement_grounds`.
- Every print (or refusal to print) is a :class:`KioskPrint` fact: which kiosk, which document,
  the verification outcome.

- Card swallowing (吞卡, PY·21(二)): "涉及插入式读写卡设备的，需明确紧急取卡措施，以及非工作日紧急
  联络方式和解决时限". The department publishes the kiosk's emergency contact, its retrieval
  measure and the resolution limits (:meth:`Kiosk.publish_emergency_contact`); a swallowed
  card is recorded (:meth:`Kiosk.record_card_swallow`) with the limit of its day — a working
  day's or a non-working day's, chosen by the Asia/Shanghai calendar when it is recorded and
  stored in the event — and resolved (:meth:`Kiosk.resolve_card_swallow`). Past the limit,
  unresolved or resolved late, it is a supervision flag of the fleet, as is a swallow at a
  kiosk that published no contact. PY·21(二) names the limit without fixing it: the
  department states both limits (1–72 hours); the card is recorded, never refused.

Decisions where the regulation is silent (docs/KIOSK.md): the "longer" band needs 5 working
days' notice too; "unavailable" for retirement counts faults only (planned suspensions follow
the notice rules); a working day counts when the kiosk was out of service for any part of it
(Asia/Shanghai); "a week in a row" is 7 × 24 hours of one outage; a suspension's length in
working days counts the Asia/Shanghai working days it touches. A late notice is recorded —
the suspension happens anyway — and shows as a supervision flag.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.calendar import is_working_day, shanghai_date, working_days_between
from ledger.domain.rules import InvalidKiosk, KioskNotInService, SingleFunctionKiosk
from ledger.domain.topics import keep_topics

__all__ = [
    "KIOSK_ID_PATTERN",
    "KIOSK_NAMESPACE",
    "CardSwallowPlan",
    "Cause",
    "InvalidKiosk",
    "Kiosk",
    "KioskFunction",
    "KioskNotInService",
    "KioskPrint",
    "KioskStatus",
    "NoticeBand",
    "NoticeRule",
    "PrintOutcome",
    "PublicNotice",
    "longest_outage",
    "notice_is_late",
    "notice_rule",
    "retirement_grounds",
    "unavailable_working_days",
]

KIOSK_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/kiosks")
PRINT_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/kiosk-prints")
KIOSK_ID_PATTERN: Final = re.compile(r"[0-9A-Z][0-9A-Z-]{1,31}")
MAX_LOCATION: Final = 200
MAX_REASON: Final = 500
ONE_HOUR: Final = dt.timedelta(hours=1)
TWO_WEEKS: Final = dt.timedelta(days=14)
A_WEEK: Final = dt.timedelta(days=7)
MAX_CONTACT: Final = 100
MAX_SWALLOW_LIMIT_HOURS: Final = 72
"""Longest resolution limit a department may publish for a swallowed card (hours)."""
RETIREMENT_WORKING_DAYS: Final = 5
"""Working days of unavailability in one calendar month that call for retirement (PY·21)."""


class KioskFunction(StrEnum):
    """What a kiosk offers (GZ20·14: 自助查询、材料自助打印、自助申请)."""

    QUERY = "query"
    """自助查询"""
    PRINT = "print"
    """材料自助打印"""
    APPLY = "apply"
    """自助申请"""


ALL_FUNCTIONS: Final = tuple(f.value for f in KioskFunction)
"""A kiosk registered without naming its functions offers them all (and old records did)."""


def _functions(value: Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ALL_FUNCTIONS
    names = [value] if isinstance(value, str) else list(value)
    try:
        found = sorted({KioskFunction(v).value for v in names})
    except ValueError:
        raise InvalidKiosk("functions", f"each one of {', '.join(ALL_FUNCTIONS)}") from None
    if len(found) < 2:
        raise SingleFunctionKiosk(
            "functions", f"{found or 'none'}: no new single-function kiosk (GZ20·14)"
        )
    return tuple(found)


class KioskStatus(StrEnum):
    IN_SERVICE = "in_service"
    """在用"""
    FAULTY = "faulty"
    """故障停用"""
    REREGISTRATION_REQUIRED = "reregistration_required"
    """长期暂停后须重新登记"""
    RETIRED = "retired"
    """已撤除（退出）"""


class Cause(StrEnum):
    """What caused a fault; ``third_party`` faults do not count toward retirement."""

    EQUIPMENT = "equipment"
    """设备故障"""
    NETWORK = "network"
    """网络故障"""
    SOFTWARE = "software"
    """软件故障"""
    THIRD_PARTY = "third_party"
    """第三方原因（停电、施工、场地方等）"""


class NoticeBand(StrEnum):
    """The PY·21 bands of a planned suspension's length."""

    HOUR = "hour"
    """≤ 1 小时 → 提前 1 个工作日"""
    SHORT = "short"
    """≤ 3 个工作日 → 提前 2 个工作日"""
    FORTNIGHT = "fortnight"
    """≤ 2 周 → 提前 5 个工作日，撤除"""
    LONG = "long"
    """> 2 周 → 撤除并重新登记"""


@dataclass(frozen=True)
class NoticeRule:
    """What PY·21 asks of one planned suspension."""

    band: NoticeBand
    notice_working_days: int
    removal: bool
    reregistration: bool


_RULES: Final = {
    NoticeBand.HOUR: NoticeRule(NoticeBand.HOUR, 1, False, False),
    NoticeBand.SHORT: NoticeRule(NoticeBand.SHORT, 2, False, False),
    NoticeBand.FORTNIGHT: NoticeRule(NoticeBand.FORTNIGHT, 5, True, False),
    NoticeBand.LONG: NoticeRule(NoticeBand.LONG, 5, True, True),
}


def _local_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The Asia/Shanghai dates that the half-open period [start, end) touches."""
    first = shanghai_date(start)
    last = shanghai_date(end - dt.timedelta(microseconds=1))
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def notice_rule(start: dt.datetime, end: dt.datetime) -> NoticeRule:
    """The PY·21 band of a suspension from ``start`` to ``end`` (aware datetimes, end after
    start). Raises :class:`InvalidKiosk` otherwise."""
    start = check.utc(InvalidKiosk, "start", start)
    end = check.utc(InvalidKiosk, "end", end)
    if end <= start:
        raise InvalidKiosk("end", "must be after the start")
    length = end - start
    if length <= ONE_HOUR:
        return _RULES[NoticeBand.HOUR]
    working = sum(1 for d in _local_days(start, end) if is_working_day(d))
    if working <= 3:
        return _RULES[NoticeBand.SHORT]
    if length <= TWO_WEEKS:
        return _RULES[NoticeBand.FORTNIGHT]
    return _RULES[NoticeBand.LONG]


def notice_is_late(notified_at: dt.datetime, start: dt.datetime, rule: NoticeRule) -> bool:
    """True when fewer than ``rule.notice_working_days`` working days lie after the notice's
    Asia/Shanghai date up to and including the suspension's first date."""
    notified_on = shanghai_date(check.utc(InvalidKiosk, "notified_at", notified_at))
    starts_on = shanghai_date(check.utc(InvalidKiosk, "start", start))
    return working_days_between(notified_on, starts_on) < rule.notice_working_days


def _clip(
    periods: Iterable[tuple[dt.datetime, dt.datetime | None]], as_of: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(s, min(e or as_of, as_of)) for s, e in periods if s < as_of and (e or as_of) > s]


def unavailable_working_days(
    periods: Iterable[tuple[dt.datetime, dt.datetime | None]],
    year: int,
    month: int,
    *,
    as_of: dt.datetime,
) -> int:
    """The working days of ``year``-``month`` (Asia/Shanghai) on which the kiosk was out of
    service for any part of the day; ``periods`` are outages (an open one has ``None`` as its
    end and lasts until ``as_of``)."""
    days: set[dt.date] = set()
    for start, end in _clip(periods, as_of):
        days.update(d for d in _local_days(start, end) if d.year == year and d.month == month)
    return sum(1 for d in days if is_working_day(d))


def longest_outage(
    periods: Iterable[tuple[dt.datetime, dt.datetime | None]], *, as_of: dt.datetime
) -> dt.timedelta:
    """The longest single outage (an open one runs until ``as_of``)."""
    return max((e - s for s, e in _clip(periods, as_of)), default=dt.timedelta(0))


def retirement_grounds(
    periods: Iterable[tuple[dt.datetime, dt.datetime | None]], *, as_of: dt.datetime
) -> list[str]:
    """Why the kiosk should be retired (PY·21), given its outages that count (third-party
    causes already left out): a week in a row, or ≥ 5 working days in a calendar month."""
    clipped = _clip(periods, as_of)
    grounds: list[str] = []
    longest = longest_outage(clipped, as_of=as_of)
    if longest >= A_WEEK:
        grounds.append(f"unavailable {longest.days} days in a row (≥ 7)")
    months = sorted({(d.year, d.month) for s, e in clipped for d in _local_days(s, e)})
    for year, month in months:
        count = unavailable_working_days(clipped, year, month, as_of=as_of)
        if count >= RETIREMENT_WORKING_DAYS:
            grounds.append(f"unavailable on {count} working days in {year}-{month:02d} (≥ 5)")
    return grounds


def _kiosk_id(value: object) -> str:
    if not isinstance(value, str) or not KIOSK_ID_PATTERN.fullmatch(value):
        raise InvalidKiosk("kiosk_id", "2–32 characters of 0-9, A-Z and '-'")
    return value


def _key_id(value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != 8:
        raise InvalidKiosk("key_id", "the kiosk key's 8-byte key id")
    return value


@dataclass(frozen=True)
class CardSwallowPlan:
    """What a kiosk with a card reader publishes (PY·21(二)): the emergency contact, the
    retrieval measure (紧急取卡措施) and the resolution limits, in hours, of a working day and
    of a non-working day (非工作日紧急联络方式和解决时限). Building one checks it, naming the
    field."""

    contact: str
    retrieval_measure: str
    working_day_hours: int
    non_working_day_hours: int

    def __post_init__(self) -> None:
        check.text(InvalidKiosk, "contact", self.contact, MAX_CONTACT)
        check.text(InvalidKiosk, "retrieval_measure", self.retrieval_measure, MAX_REASON)
        for name in ("working_day_hours", "non_working_day_hours"):
            hours = getattr(self, name)
            whole = isinstance(hours, int) and not isinstance(hours, bool)
            if not whole or not 1 <= hours <= MAX_SWALLOW_LIMIT_HOURS:
                raise InvalidKiosk(
                    name, f"a resolution limit of 1–{MAX_SWALLOW_LIMIT_HOURS} hours (PY·21(二))"
                )


class Kiosk(Aggregate):
    """One self-service terminal of the fleet, found by its kiosk id (e.g. ``GZ-TH-001``)."""

    @staticmethod
    def create_id(kiosk_id: str) -> UUID:
        return uuid5(KIOSK_NAMESPACE, kiosk_id)

    @classmethod
    def id_for(cls, kiosk_id: str) -> UUID:
        return cls.create_id(_kiosk_id(kiosk_id))

    @classmethod
    def register(
        cls,
        *,
        kiosk_id: str,
        location: str,
        key_id: bytes,
        department: str,
        at: dt.datetime,
        functions: Iterable[str] | None = None,
    ) -> Kiosk:
        """Register a kiosk at ``location`` with its key, run by ``department``, offering
        ``functions`` (default: all). A single-function kiosk is refused (GZ20·14)."""
        return cls(
            kiosk_id=_kiosk_id(kiosk_id),
            location=check.text(InvalidKiosk, "location", location, MAX_LOCATION),
            key_id=_key_id(key_id),
            department=check.department_code(InvalidKiosk, "department", department),
            at=check.utc(InvalidKiosk, "at", at),
            functions=_functions(functions),
        )

    @event("Registered")
    def __init__(
        self,
        kiosk_id: str,
        location: str,
        key_id: bytes,
        department: str,
        at: dt.datetime,
        functions: tuple[str, ...] = ALL_FUNCTIONS,
    ) -> None:
        self.kiosk_id = kiosk_id
        self.functions = tuple(functions)
        self.location = location
        self.key_id = key_id
        self.department = department
        self.registered_at = at
        self.status = KioskStatus.IN_SERVICE
        self.suspensions: list[dict[str, object]] = []
        self.open_fault: dict[str, object] | None = None
        self.faults = 0
        self.emergency: dict[str, object] | None = None
        self.swallows: list[dict[str, object]] = []

    def _require(self, *allowed: KioskStatus) -> None:
        if self.status not in allowed:
            raise KioskNotInService(
                f"kiosk {self.kiosk_id} is {self.status.value}", state=self.status.value
            )

    def plan_suspension(
        self, *, start: dt.datetime, end: dt.datetime, notified_at: dt.datetime, reason: str
    ) -> NoticeRule:
        """Record the notice of a planned suspension (PY·21); returns its rule. A late notice
        is recorded with ``late`` set (a supervision flag), not refused."""
        self._require(KioskStatus.IN_SERVICE, KioskStatus.FAULTY)
        rule = notice_rule(start, end)
        notified_at = check.utc(InvalidKiosk, "notified_at", notified_at)
        if notified_at > check.utc(InvalidKiosk, "start", start):
            raise InvalidKiosk("notified_at", "a notice comes before the suspension starts")
        late = notice_is_late(notified_at, start, rule)
        self._suspension_planned(
            number=len(self.suspensions) + 1,
            start=start.astimezone(dt.UTC),
            end=end.astimezone(dt.UTC),
            notified_at=notified_at,
            reason=check.text(InvalidKiosk, "reason", reason, MAX_REASON),
            band=rule.band.value,
            notice_working_days=rule.notice_working_days,
            removal=rule.removal,
            reregistration=rule.reregistration,
            late=late,
        )
        return rule

    @event("SuspensionPlanned")
    def _suspension_planned(
        self,
        number: int,
        start: dt.datetime,
        end: dt.datetime,
        notified_at: dt.datetime,
        reason: str,
        band: str,
        notice_working_days: int,
        removal: bool,
        reregistration: bool,
        late: bool,
    ) -> None:
        self.suspensions.append(
            {
                "number": number,
                "start": start,
                "end": end,
                "band": band,
                "late": late,
                "reason": reason,
            }
        )
        if reregistration:
            self.status = KioskStatus.REREGISTRATION_REQUIRED

    def report_fault(self, *, at: dt.datetime, cause: Cause | str, note: str = "") -> None:
        """A fault took the kiosk out of service at ``at``."""
        self._require(KioskStatus.IN_SERVICE)
        try:
            checked = Cause(cause)
        except ValueError:
            allowed = ", ".join(c.value for c in Cause)
            raise InvalidKiosk("cause", f"{cause!r} is not one of {allowed}") from None
        if len(note) > MAX_REASON:
            raise InvalidKiosk("note", f"longer than {MAX_REASON} characters")
        self._fault_reported(at=check.utc(InvalidKiosk, "at", at), cause=checked.value, note=note)

    @event("FaultReported")
    def _fault_reported(self, at: dt.datetime, cause: str, note: str) -> None:
        self.status = KioskStatus.FAULTY
        self.faults += 1
        self.open_fault = {"at": at, "cause": cause}

    def resume(self, *, at: dt.datetime) -> None:
        """The kiosk serves again after a fault."""
        self._require(KioskStatus.FAULTY)
        at = check.utc(InvalidKiosk, "at", at)
        assert self.open_fault is not None
        if at < self.open_fault["at"]:  # type: ignore[operator]
            raise InvalidKiosk("at", "a resumption comes after the fault")
        self._resumed(at=at)

    @event("Resumed")
    def _resumed(self, at: dt.datetime) -> None:
        self.status = KioskStatus.IN_SERVICE
        self.open_fault = None

    def reregister(self, *, location: str, key_id: bytes, at: dt.datetime) -> None:
        """Register the kiosk anew after a suspension longer than two weeks (PY·21)."""
        self._require(KioskStatus.REREGISTRATION_REQUIRED)
        self._reregistered(
            location=check.text(InvalidKiosk, "location", location, MAX_LOCATION),
            key_id=_key_id(key_id),
            at=check.utc(InvalidKiosk, "at", at),
        )

    @event("Reregistered")
    def _reregistered(self, location: str, key_id: bytes, at: dt.datetime) -> None:
        self.location = location
        self.key_id = key_id
        self.status = KioskStatus.IN_SERVICE

    def retire(self, *, at: dt.datetime, reason: str) -> None:
        """Retire (撤除) the kiosk for good (PY·21)."""
        if self.status is KioskStatus.RETIRED:
            raise KioskNotInService(f"kiosk {self.kiosk_id} is already retired", state="retired")
        self._retired(
            at=check.utc(InvalidKiosk, "at", at),
            reason=check.text(InvalidKiosk, "reason", reason, MAX_REASON),
        )

    @event("Retired")
    def _retired(self, at: dt.datetime, reason: str) -> None:
        self.status = KioskStatus.RETIRED
        self.open_fault = None

    # -- card swallowing (吞卡, PY·21(二)) ------------------------------------------------------

    def publish_emergency_contact(self, plan: CardSwallowPlan, *, at: dt.datetime) -> None:
        """Publish (or replace) the kiosk's card-swallow plan (PY·21(二))."""
        if self.status is KioskStatus.RETIRED:
            raise KioskNotInService(f"kiosk {self.kiosk_id} is retired", state="retired")
        if not isinstance(plan, CardSwallowPlan):
            raise InvalidKiosk("plan", "must be a CardSwallowPlan")
        self._emergency_contact_published(plan=asdict(plan), at=check.utc(InvalidKiosk, "at", at))

    @event("EmergencyContactPublished")
    def _emergency_contact_published(self, plan: dict[str, object], at: dt.datetime) -> None:
        self.emergency = dict(plan)

    def record_card_swallow(self, *, at: dt.datetime) -> int:
        """A card was swallowed at ``at``: recorded with the published limit of that day
        (working or non-working, PY·21(二)) and its deadline; returns its number. Without a
        published contact it is recorded all the same, with no deadline (a supervision flag)."""
        at = check.utc(InvalidKiosk, "at", at)
        working = is_working_day(shanghai_date(at))
        hours: int | None = None
        if self.emergency is not None:
            key = "working_day_hours" if working else "non_working_day_hours"
            hours = int(self.emergency[key])  # type: ignore[call-overload]
        number = len(self.swallows) + 1
        self._card_swallowed(
            number=number,
            at=at,
            working_day=working,
            limit_hours=hours,
            due_at=None if hours is None else at + dt.timedelta(hours=hours),
        )
        return number

    @event("CardSwallowed")
    def _card_swallowed(
        self,
        number: int,
        at: dt.datetime,
        working_day: bool,
        limit_hours: int | None,
        due_at: dt.datetime | None,
    ) -> None:
        self.swallows.append({"number": number, "at": at, "due_at": due_at, "resolved_at": None})

    def resolve_card_swallow(self, number: int, *, at: dt.datetime, how: str) -> bool:
        """The card of swallow ``number`` was given back (or the case otherwise resolved);
        returns whether that was late. A late resolution is recorded, not refused."""
        found = next((s for s in self.swallows if s["number"] == number), None)
        if found is None or found["resolved_at"] is not None:
            raise InvalidKiosk("number", f"no unresolved card swallow {number} at {self.kiosk_id}")
        at = check.utc(InvalidKiosk, "at", at)
        if at < found["at"]:  # type: ignore[operator]
            raise InvalidKiosk("at", "a resolution comes after the card was swallowed")
        due: Any = found["due_at"]
        late = due is None or at > due
        self._card_swallow_resolved(
            number=number, at=at, how=check.text(InvalidKiosk, "how", how, MAX_REASON), late=late
        )
        return late

    @event("CardSwallowResolved")
    def _card_swallow_resolved(self, number: int, at: dt.datetime, how: str, late: bool) -> None:
        for s in self.swallows:
            if s["number"] == number:
                s["resolved_at"] = at

    def suspended_at(self, at: dt.datetime) -> bool:
        """Whether a planned suspension covers the instant ``at``."""
        return any(s["start"] <= at < s["end"] for s in self.suspensions)  # type: ignore[operator]

    def serves_at(self, at: dt.datetime) -> bool:
        """Whether the kiosk may serve applicants at ``at``."""
        return self.status is KioskStatus.IN_SERVICE and not self.suspended_at(at)

    def public_notice(self, at: dt.datetime) -> PublicNotice | None:
        """The 暂停服务 notice the kiosk shows the public at ``at``, if any: under repair
        (PY·18(七): "须于故障设备醒目位置给出'暂停服务'提示"), a planned suspension in force or
        announced ahead (PY·21(四): "出示暂停服务公告"), or out of service for good."""
        if self.status is KioskStatus.FAULTY and self.open_fault is not None:
            since: Any = self.open_fault["at"]
            return PublicNotice("repair", since, None, "设备维修中 under repair", "PY·18(七)")
        for s in sorted(self.suspensions, key=lambda s: s["start"]):  # type: ignore[arg-type,return-value]
            start: Any = s["start"]
            end: Any = s["end"]
            if at < end:
                kind = "suspended" if start <= at else "announced"
                return PublicNotice(kind, start, end, str(s.get("reason", "")), "PY·21(四)")
        if self.status is not KioskStatus.IN_SERVICE:
            return PublicNotice("withdrawn", None, None, self.status.value, "PY·21")
        return None


@dataclass(frozen=True)
class PublicNotice:
    """A suspension notice shown at the kiosk: ``repair`` (PY·18(七)), ``suspended`` or
    ``announced`` (a planned suspension in force or ahead, PY·21(四)), ``withdrawn``."""

    kind: str
    start: dt.datetime | None
    end: dt.datetime | None
    reason: str
    rule: str


class PrintOutcome(StrEnum):
    PRINTED = "printed"
    """核验通过并打印"""
    REFUSED = "refused"
    """核验未通过，未打印"""


class KioskPrint(Aggregate):
    """One print at a kiosk, or its refusal: which kiosk, which document, what verification
    found (GZ20·14, PY·23). Signed by the kiosk's key."""

    @staticmethod
    def create_id(print_id: bytes) -> UUID:
        return uuid5(PRINT_NAMESPACE, print_id.hex())

    @classmethod
    def record(
        cls,
        *,
        print_id: bytes,
        kiosk_id: str,
        serial: str,
        kind: str,
        subject: str,
        content_hash: bytes,
        outcome: PrintOutcome | str,
        failed_check: str,
        reason: str,
        at: dt.datetime,
    ) -> KioskPrint:
        """Record a print (``failed_check`` and ``reason`` empty) or a refusal (both set)."""
        if not isinstance(print_id, bytes) or len(print_id) != 8:
            raise InvalidKiosk("print_id", "8 bytes")
        try:
            checked = PrintOutcome(outcome)
        except ValueError:
            raise InvalidKiosk("outcome", f"{outcome!r} is not printed or refused") from None
        if (checked is PrintOutcome.REFUSED) != bool(failed_check and reason):
            raise InvalidKiosk("reason", "a refusal names the failed check and why; a print not")
        if not isinstance(content_hash, bytes) or len(content_hash) not in (0, 32):
            raise InvalidKiosk("content_hash", "the document's 32-byte content hash (or none)")
        return cls(
            print_id=print_id,
            kiosk_id=_kiosk_id(kiosk_id),
            serial=check.text(InvalidKiosk, "serial", serial, 64),
            kind=check.text(InvalidKiosk, "kind", kind, 32),
            subject=check.text(InvalidKiosk, "subject", subject, 120),
            content_hash=content_hash,
            outcome=checked.value,
            failed_check=failed_check[:32],
            reason=reason[:MAX_REASON],
            at=check.utc(InvalidKiosk, "at", at),
        )

    @event("Recorded")
    def __init__(
        self,
        print_id: bytes,
        kiosk_id: str,
        serial: str,
        kind: str,
        subject: str,
        content_hash: bytes,
        outcome: str,
        failed_check: str,
        reason: str,
        at: dt.datetime,
    ) -> None:
        self.print_id = print_id
        self.kiosk_id = kiosk_id
        self.serial = serial
        self.kind = kind
        self.subject = subject
        self.content_hash = content_hash
        self.outcome = PrintOutcome(outcome)
        self.failed_check = failed_check
        self.reason = reason
        self.at = at


KIOSK_TOPIC_PREFIX: Final = "ledger.kiosks:Kiosk."
PRINT_RECORDED_TOPIC: Final = "ledger.kiosks:KioskPrint.Recorded"


keep_topics(globals(), "ledger.kiosks")
