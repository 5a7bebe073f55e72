"""Demo stage "services": e-certificates, ratings, appointments, 12345, blacklist, 督办.

Layer: api (demo). Issue 4 "Done when": on the demo's ledger, after the cases stage, and with
simulated business times consistent with it (working days of ``ledger.domain.calendar``, nothing
after 2026-11-20 18:00 Asia/Shanghai), every flow of RULES.md "E-certificates and seals",
"Ratings", "Blacklist and credit", "Consultations and complaints" and the supervision orders
of "Supervision" runs through the application services of ``ledger.services.domain_services``:

- e-certificates: the identifiers the cases stage recorded on its cases are issued as sealed
  e-certificates (gathered into each holder's wallet); approved cases still waiting for
  their result get theirs with ``case=`` (the case records it in the same command); a few
  are updated (new version with a reason), two revoked; using departments object (GZ20·23):
  one upheld (corrected by an update), one rejected in writing, one answered late, one
  answered within an extension, one left unanswered past its 3 working days;
- ratings (好差评) of every level on closed cases, on every channel, in the GB/T 39046,
  national-interface and Fuzhou code systems; reasons for the bad ones, callbacks and
  rectifications (one late), follow-up ratings, a department dispute upheld and one rejected;
- appointments at three halls: bookings, check-ins, cancellations, no-shows recorded after
  the slot, one refusal on a GZ20·9 ground; two applicants miss four appointments each;
- 12345 enquiries and complaints answered on time and late, one left open, one complaint
  found untrue;
- the blacklist: both missers blacklisted on the counted ground (NH·25), both appeal within
  30 working days, one appeal upheld (removed), one dismissed — whose online submission the
  case service then refuses (``BlacklistedApplicant``, with the end date and appeal route);
- supervision orders (督办) on a red case, an approved case without its e-certificate and
  on departments: answered (sealed), one late, some closed, one left unanswered.

Everything is signed by the actor the rules name: department seal keys, the portal and
kiosks for applicants, the 12345 centre (platform), the city supervisor, and a supervisor
key of the online-services management office (GZ-ZWFW) for the blacklist.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from eventsourcing.utils import get_topic

from api.bootstrap import enrol_actor
from api.demo.cases import PORTAL_ACTOR, SimulatedClock
from api.demo.main import DemoContext, Stage
from api.services import build_services
from ledger.domain.anchoring import ANCHOR_TOPICS
from ledger.domain.applicants import Applicant, ApplicantKind
from ledger.domain.appointments import RefusalGround
from ledger.domain.blacklist import BlacklistGround
from ledger.domain.calendar import add_working_days, is_working_day
from ledger.domain.cases import Case, CaseState, SubmittedMaterial
from ledger.domain.certificate_id import make_certificate_id, parse_certificate_id
from ledger.domain.complaints import ConsultationChannel, ConsultationKind
from ledger.domain.keys import KeyRole
from ledger.domain.ratings import Channel, CodeSystem, RatingKind, RatingLevel, to_code
from ledger.domain.rules import BlacklistedApplicant, RatingNotOfCase
from ledger.domain.signer import Signer
from ledger.domain.supervision import SupervisionReason
from ledger.services.domain_services import DomainServices, appointment_fact

SHANGHAI: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
NOW: Final = dt.datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)
TODAY: Final = NOW.date()
OFFICE: Final = "GZ-ZWFW"
"""The online-services management office (网上办事管理部门): the blacklist's authority."""
OFFICE_SUPERVISOR: Final = f"supervisor:{OFFICE}"
USING_DEPARTMENTS: Final = ("GZ-RSJ", "GZ-ZJ", "GZ-ZWFW")
"""Departments that use (and may object to) other departments' e-certificates."""
HALLS: Final = {
    "GZ-SCJG": "广州市天河区政务服务中心",
    "GZ-GA": "广州市越秀区政务服务中心",
    "NH-XZFW": "佛山市南海区行政服务中心",
    "FZ-SPJ": "福州市行政服务中心",
}
"""The hall that books appointments for each department's items."""

LEVEL_NAMES: Final = {
    RatingLevel.VERY_SATISFIED: "非常满意",
    RatingLevel.SATISFIED: "满意",
    RatingLevel.BASICALLY_SATISFIED: "基本满意",
    RatingLevel.DISSATISFIED: "不满意",
    RatingLevel.VERY_DISSATISFIED: "非常不满意",
}
LEVEL_PLAN: Final = (
    (RatingLevel.VERY_SATISFIED, 22),
    (RatingLevel.SATISFIED, 12),
    (RatingLevel.BASICALLY_SATISFIED, 6),
    (RatingLevel.DISSATISFIED, 5),
    (RatingLevel.VERY_DISSATISFIED, 3),
)
"""How many first ratings of each level (bad ones first in time, so their follow-ups fit)."""
BAD_REASONS: Final = (
    "窗口人员解释不清，多跑了一次",
    "网上预审退回理由不明确",
    "等候时间超过一小时",
    "办理进度长时间不更新",
    "要求重复提交已有的电子证照",
    "工作人员态度生硬",
)
ENQUIRIES: Final = (
    "食品经营许可需要准备哪些材料？",
    "个体工商户设立能否全程网办？",
    "居住证签注可以在自助终端办理吗？",
    "施工许可办理时限是多少个工作日？",
    "医师执业注册变更执业地点的流程？",
    "身份证换领能否异地办理？",
)
COMPLAINTS: Final = (
    "网上申请提交后五个工作日无人预审",
    "窗口要求提供纸质营业执照复印件",
    "预约后到现场仍需排队两小时",
    "电子证照下载后信息有误",
)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def _working(day: dt.date) -> dt.date:
    """``day`` or the next working day."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def _wd(day: dt.date, days: int) -> dt.date:
    """``days`` working days after ``day`` (0: ``day`` itself, moved to a working day)."""
    return add_working_days(day, days) if days else _working(day)


def _local(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SHANGHAI)


@dataclass
class Issued:
    """An e-certificate issued in this stage and what became of it."""

    identifier: str
    department: str
    issued_at: dt.datetime
    case: Case
    touched: bool = False


@dataclass
class Tally:
    certificates: Counter[str] = field(default_factory=Counter)
    disputes: Counter[str] = field(default_factory=Counter)
    levels: Counter[str] = field(default_factory=Counter)
    systems: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    ratings: Counter[str] = field(default_factory=Counter)
    appointments: Counter[str] = field(default_factory=Counter)
    consultations: Counter[str] = field(default_factory=Counter)
    blacklist: dict[str, Any] = field(default_factory=dict)
    orders: Counter[str] = field(default_factory=Counter)


class ServicesDemo:
    """Drives every flow of issue 4 on the demo's ledger."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        app = ctx.runtime.ledger
        self.app = app
        self.domain = DomainServices.over(app)
        self.clock = SimulatedClock(NOW.astimezone(dt.UTC))
        self.cases = build_services(
            ctx.runtime, clock=self.clock, is_blacklisted=self.domain.blacklist.is_blacklisted
        ).cases
        self.portal: Signer = ctx.signers[PORTAL_ACTOR]
        self.platform: Signer = ctx.runtime.platform_signer()
        self.kiosks = [s for name, s in sorted(ctx.signers.items()) if name.startswith("kiosk:")]
        self.supervisor: Signer = ctx.signers["supervisor"]
        if OFFICE_SUPERVISOR not in ctx.signers:
            ctx.signers[OFFICE_SUPERVISOR] = enrol_actor(
                ctx.runtime, OFFICE_SUPERVISOR, KeyRole.SUPERVISOR, department=OFFICE
            )
        self.office: Signer = ctx.signers[OFFICE_SUPERVISOR]
        self.tally = Tally()
        self.all_cases = list(self._cases())
        self.applicants = self._applicants()
        self.issued: list[Issued] = []
        self.type_codes: dict[str, tuple[str, str]] = {}
        """department → (type code, issuer code) of its e-certificates."""

    # -- look-ups -----------------------------------------------------------------------------

    def seal(self, department: str) -> Signer:
        return self.ctx.signers[f"dept:{department}"]

    def _cases(self) -> Iterator[Case]:
        """Every case of the ledger, in submission order (from the log's Submitted events)."""
        topic = get_topic(Case.Submitted)  # type: ignore[attr-defined]
        start = 0
        while True:
            page = self.app.recorder.select_notifications(
                start=start, limit=500, topics=[topic], inclusive_of_start=False
            )
            for notification in page:
                case: Any = self.app.repository.get(UUID(str(notification.originator_id)))
                if isinstance(case, Case):
                    yield case
            if len(page) < 500:
                return
            start = page[-1].id

    def _applicants(self) -> dict[UUID, Applicant]:
        found: dict[UUID, Applicant] = {}
        for case in self.all_cases:
            if case.applicant_id not in found:
                applicant: Any = self.app.repository.get(case.applicant_id)
                if isinstance(applicant, Applicant):
                    found[case.applicant_id] = applicant
        return found

    def usable(self, applicant_id: UUID) -> bool:
        applicant = self.applicants.get(applicant_id)
        return applicant is not None and not applicant.erased

    def applicant_signer(self, channel: Channel) -> Signer:
        if channel in (Channel.KIOSK, Channel.HALL_TABLET) and self.kiosks:
            return self.rng.choice(self.kiosks)
        return self.portal

    # -- e-certificates (电子证照) --------------------------------------------------------------

    def run_certificates(self) -> None:
        self._issue_recorded()
        self._issue_for_open_cases()
        self._update_and_revoke()
        self._disputes()

    def _content(self, case: Case, on: dt.date, **extra: str) -> dict[str, str]:
        return {
            "holder": str(case.applicant_id),
            "item": case.item_name,
            "item_code": case.item_code,
            "case_serial": case.serial,
            "valid_from": on.isoformat(),
            "valid_until": on.replace(year=on.year + 5).isoformat(),
            **extra,
        }

    def _issue_recorded(self) -> None:
        """The identifiers the cases recorded become sealed e-certificates in the holders'
        wallets (the case already records them; issued when the case recorded them)."""
        for case in self.all_cases:
            if not case.certificate_ids:
                continue
            events: list[Any] = list(self.app.events.get(case.id))
            recorded = {
                e.certificate_id: e.at for e in events if type(e).__name__ == "CertificateRecorded"
            }
            for identifier in case.certificate_ids:
                cid = parse_certificate_id(identifier)
                self.type_codes.setdefault(case.department, (cid.type_code, cid.issuer_code))
                at = _local(recorded[identifier]) - dt.timedelta(minutes=5)
                certificate = self.domain.certificates.issue(
                    signer=self.seal(case.department),
                    department=case.department,
                    case_id=case.id,
                    case_serial=case.serial,
                    case_department=case.department,
                    case_decided=True,
                    holder=case.applicant_id,
                    type_code=cid.type_code,
                    issuer_code=cid.issuer_code,
                    serial=cid.serial,
                    content=self._content(case, at.date()),
                    at=at,
                )
                assert certificate.identifier == identifier
                self.issued.append(Issued(identifier, case.department, at, case))
                self.tally.certificates["issued"] += 1

    def _issue_for_open_cases(self) -> None:
        """Approved cases still waiting for their result get their e-certificate now; the
        case records it in the same command (GZ16·15: issued before the case may close).
        The first still approved draws a supervision order first (GZ20·26 "not generated")."""
        waiting = [
            c
            for c in self.all_cases
            if c.state in (CaseState.APPROVED, CaseState.RESULT_ISSUED)
            and not c.certificate_ids
            and c.department in self.type_codes
        ]
        ordered_once = False
        for case in waiting:
            seal = self.seal(case.department)
            last = _local(case.last_at)
            order_id: UUID | None = None
            if not ordered_once and case.state is CaseState.APPROVED:
                ordered_once = True
                ordered = max(last + dt.timedelta(hours=1), _at(TODAY, 9, 30))
                order = self.domain.supervision.issue(
                    signer=self.supervisor,
                    department=case.department,
                    reason=SupervisionReason.CERTIFICATE_NOT_ISSUED,
                    details=f"办件 {case.serial} 已准予许可，电子证照尚未生成（GZ20·26）",
                    at=ordered,
                    case_id=case.id,
                    case_serial=case.serial,
                )
                order_id = order.id
                self.tally.orders["issued"] += 1
                last = ordered
            at = max(last + dt.timedelta(minutes=20), _at(TODAY, 16, 0))
            if at >= NOW - dt.timedelta(minutes=30):
                continue
            type_code, issuer_code = self.type_codes[case.department]
            certificate = self.domain.certificates.issue(
                signer=seal,
                department=case.department,
                case_id=case.id,
                case_serial=case.serial,
                case_department=case.department,
                case_decided=True,
                holder=case.applicant_id,
                type_code=type_code,
                issuer_code=issuer_code,
                serial=case.serial.replace("-", ""),
                content=self._content(case, at.date()),
                at=at,
                case=case,
            )
            self.issued.append(Issued(certificate.identifier, case.department, at, case))
            self.tally.certificates["issued"] += 1
            self.tally.certificates["issued_with_case"] += 1
            if order_id is not None:
                self.domain.supervision.answer(
                    order_id,
                    signer=seal,
                    department=case.department,
                    answer=f"电子证照 {certificate.identifier} 已生成并汇集至申请人名下",
                    at=at + dt.timedelta(minutes=10),
                )
                self.domain.supervision.close(
                    order_id,
                    signer=self.supervisor,
                    conclusion="已整改：电子证照已生成",
                    at=at + dt.timedelta(minutes=20),
                )
                self.tally.orders["answered"] += 1
                self.tally.orders["closed"] += 1

    def _pick(self, latest: dt.date, count: int) -> list[Issued]:
        """Untouched certificates of closed cases issued on or before ``latest``."""
        pool = [
            i
            for i in self.issued
            if not i.touched and i.case.state is CaseState.CLOSED and i.issued_at.date() <= latest
        ]
        chosen = self.rng.sample(pool, min(count, len(pool)))
        for issued in chosen:
            issued.touched = True
        return chosen

    def _update_and_revoke(self) -> None:
        changes = (
            ("经营场所门牌号变更", {"premises_note": "门牌号经民政部门调整"}),
            ("持证人申请变更许可项目", {"scope_note": "增加预包装食品销售"}),
            ("有效期延续", {"renewed": "true"}),
            ("登记事项变更（经营者联系地址）", {"contact_note": "联系地址已变更"}),
        )
        for issued, (reason, extra) in zip(
            self._pick(dt.date(2026, 10, 30), len(changes)), changes, strict=False
        ):
            on = _wd(max(issued.issued_at.date(), dt.date(2026, 10, 12)), 8)
            at = _at(on, 10, self.rng.randrange(60))
            issued.identifier = self.domain.certificates.update(
                issued.identifier,
                signer=self.seal(issued.department),
                department=issued.department,
                content=self._content(issued.case, on, **extra),
                reason=reason,
                at=at,
            )
            assert self.domain.certificates.verify(issued.identifier)
            self.tally.certificates["updated"] += 1
        reasons = ("持证人申请注销", "经营主体已注销登记，依法注销证照")
        for issued, reason in zip(
            self._pick(dt.date(2026, 11, 6), len(reasons)), reasons, strict=False
        ):
            on = _wd(max(issued.issued_at.date(), dt.date(2026, 11, 2)), 5)
            self.domain.certificates.revoke(
                issued.identifier,
                signer=self.seal(issued.department),
                department=issued.department,
                reason=reason,
                at=_at(on, 15, self.rng.randrange(60)),
            )
            self.tally.certificates["revoked"] += 1

    def _disputes(self) -> None:
        """GZ20·23: the issuer answers within 3 working days or asks for an extension."""
        outcomes = ("upheld", "rejected", "late", "extended", "open")
        chosen = self._pick(dt.date(2026, 10, 23), len(outcomes))
        for number, (issued, outcome) in enumerate(zip(chosen, outcomes, strict=False)):
            users = [d for d in USING_DEPARTMENTS if d != issued.department]
            user = users[number % len(users)]
            raised_on = _wd(max(issued.issued_at.date(), dt.date(2026, 10, 26)), 2 + number)
            if outcome == "open":
                raised_on = _wd(TODAY, 0) - dt.timedelta(days=7)
                raised_on = _wd(raised_on, 0)
            dispute = self.domain.certificates.raise_dispute(
                issued.identifier,
                signer=self.seal(user),
                department=user,
                reasons="证照记载的有效期与纸质证照不一致"
                if number % 2 == 0
                else "证照持有人信息与我局登记信息不符",
                evidence=[f"sha256:{self.rng.getrandbits(256):064x}"],
                at=_at(raised_on, 9, 30),
            )
            seal = self.seal(issued.department)
            dept = issued.department
            if outcome == "upheld":
                issued.identifier = self.domain.certificates.uphold_dispute(
                    dispute.id,
                    signer=seal,
                    department=dept,
                    content=self._content(
                        issued.case, raised_on, correction="有效期按纸质证照更正"
                    ),
                    reason="异议成立，按纸质证照更正有效期",
                    answer="经核查异议成立，已变更证照并重新签章",
                    at=_at(_wd(raised_on, 2), 11),
                )
            elif outcome in ("rejected", "late"):
                days = 1 if outcome == "rejected" else 5
                self.domain.certificates.reject_dispute(
                    dispute.id,
                    signer=seal,
                    department=dept,
                    answer="经核查，证照信息与审批档案一致，异议不成立",
                    at=_at(_wd(raised_on, days), 16),
                )
            elif outcome == "extended":
                self.domain.certificates.request_extension(
                    dispute.id,
                    signer=seal,
                    department=dept,
                    reason="需调取纸质档案核对",
                    days=5,
                    at=_at(_wd(raised_on, 2), 17),
                )
                issued.identifier = self.domain.certificates.uphold_dispute(
                    dispute.id,
                    signer=seal,
                    department=dept,
                    content=self._content(issued.case, raised_on, correction="持证人信息更正"),
                    reason="异议成立，更正持证人信息",
                    answer="经调取档案核实，异议成立，已更正",
                    at=_at(_wd(raised_on, 6), 10),
                )
            answered = self.domain.certificates.dispute(dispute.id)
            key = outcome
            if outcome in ("upheld", "extended"):
                self.tally.certificates["updated"] += 1
            if outcome == "late":
                assert answered.answered_late
            elif outcome == "open":
                key = "open_overdue" if answered.is_overdue(TODAY) else "open"
            else:
                assert not answered.answered_late
            self.tally.disputes[key] += 1

    # -- ratings (好差评) -----------------------------------------------------------------------

    def run_ratings(self) -> None:
        closed = sorted(
            (
                c
                for c in self.all_cases
                if c.state is CaseState.CLOSED
                and c.closed_at is not None
                and _local(c.closed_at).date() <= dt.date(2026, 11, 13)
                and self.usable(c.applicant_id)
            ),
            key=lambda c: c.closed_at or NOW,
        )
        levels = [level for level, n in LEVEL_PLAN for _ in range(n)]
        bad = [lv for lv in levels if lv.is_bad]
        good = [lv for lv in levels if not lv.is_bad]
        self.rng.shuffle(good)
        # Bad ratings on the earliest closed cases: callbacks, rectifications and
        # follow-ups fit before 2026-11-20. Fuzhou has no 非常不满意.
        plan: list[tuple[Case, RatingLevel]] = []
        early = [c for c in closed if _local(c.closed_at or NOW).date() <= dt.date(2026, 10, 23)]
        for level in bad:
            fits = [
                c
                for c in early
                if not (level is RatingLevel.VERY_DISSATISFIED and c.department.startswith("FZ-"))
            ]
            if fits:
                case = fits[0]
                early.remove(case)
                closed.remove(case)
                plan.append((case, level))
        plan += list(zip(self.rng.sample(closed, min(len(good), len(closed))), good, strict=False))
        channels = list(Channel)
        national = True
        for number, (case, level) in enumerate(plan):
            if case.department.startswith("FZ-"):
                system = CodeSystem.FUZHOU
            else:
                system = CodeSystem.NATIONAL if national else CodeSystem.GBT_39046
                national = not national
            channel = channels[number % len(channels)]
            rated = _local(case.closed_at or NOW) + dt.timedelta(
                days=self.rng.randint(0, 2), hours=self.rng.randint(1, 5)
            )
            rated = min(rated, NOW - dt.timedelta(hours=1))
            self.domain.ratings.rate(
                signer=self.applicant_signer(channel),
                case_id=case.id,
                case_serial=case.serial,
                department=case.department,
                applicant_id=case.applicant_id,
                system=system,
                code=to_code(system, level),
                channel=channel,
                reason=BAD_REASONS[number % len(BAD_REASONS)] if level.is_bad else "",
                at=rated,
            )
            self.tally.levels[LEVEL_NAMES[level]] += 1
            self.tally.systems[system.value] += 1
            self.tally.channels[channel.value] += 1
            self.tally.ratings["first"] += 1
            if level.is_bad:
                self._after_bad_rating(case, rated, number)
        for case, level in plan[len(bad) : len(bad) + 2]:  # follow-ups on good ratings too
            self._follow_up(case, _local(case.closed_at or NOW) + dt.timedelta(days=4), level)
        if plan:
            self._stranger_rates(plan[-1][0])

    def _stranger_rates(self, case: Case) -> None:
        """Another applicant tries to rate the case: refused, nothing recorded (RatingNotOfCase,
        GZ20·16, FZ·22, NH·25) — the regulator's finding of issue #16."""
        stranger = next(
            p for p in sorted(self.applicants, key=str) if p != case.applicant_id and self.usable(p)
        )
        attempt: dict[str, Any] = {
            "case_id": case.id,
            "case_serial": case.serial,
            "department": case.department,
            "applicant_id": stranger,  # not the case's applicant
            "system": CodeSystem.NATIONAL,
            "code": 1,
            "channel": Channel.PC,
            "reason": "冒名差评",
        }
        try:
            self.domain.ratings.rate(
                signer=self.portal, at=NOW - dt.timedelta(minutes=20), **attempt
            )
        except RatingNotOfCase:
            self.tally.ratings["stranger_refused"] += 1

    def _after_bad_rating(self, case: Case, rated: dt.datetime, number: int) -> None:
        seal = self.seal(case.department)
        dept = case.department
        day = rated.date()
        disputes = self.tally.ratings["disputed"]
        if disputes < 2:
            upheld = disputes == 0
            self.domain.ratings.dispute(
                case.id,
                signer=seal,
                department=dept,
                kind=RatingKind.FIRST,
                reasons="评价所述情形与窗口录像及办件记录不符",
                evidence=[f"video:{case.serial}", f"sha256:{self.rng.getrandbits(256):064x}"],
                at=_at(_wd(day, 1), 10),
            )
            self.domain.ratings.decide_dispute(
                case.id,
                signer=self.supervisor,
                kind=RatingKind.FIRST,
                upheld=upheld,
                reasons="经核查录像，评价与事实不符，不纳入统计"
                if upheld
                else "部门举证不足，评价保留",
                at=_at(_wd(day, 3), 15),
            )
            self.tally.ratings["disputed"] += 1
            self.tally.ratings["dispute_upheld" if upheld else "dispute_rejected"] += 1
            if upheld:
                return
            day = _wd(day, 3)
        self.domain.ratings.record_callback(
            case.id,
            signer=seal,
            department=dept,
            kind=RatingKind.FIRST,
            note="已电话回访申请人，说明情况并致歉",
            at=_at(_wd(day, 1), 14),
        )
        self.tally.ratings["callbacks"] += 1
        late = number == 3
        if number == 4:
            return  # rectification still open on 2026-11-20
        rectified = _at(_wd(day, 8 if late else 3), 16)
        self.domain.ratings.rectify(
            case.id,
            signer=seal,
            department=dept,
            kind=RatingKind.FIRST,
            measures="优化一次性告知清单，加强窗口人员培训",
            at=rectified,
        )
        self.tally.ratings["rectified"] += 1
        self.tally.ratings["rectified_late"] += late
        self._follow_up(case, rectified + dt.timedelta(days=1), RatingLevel.SATISFIED)

    def _follow_up(self, case: Case, at: dt.datetime, level: RatingLevel) -> None:
        system = CodeSystem.FUZHOU if case.department.startswith("FZ-") else CodeSystem.GBT_39046
        self.domain.ratings.rate(
            signer=self.portal,
            case_id=case.id,
            case_serial=case.serial,
            department=case.department,
            applicant_id=case.applicant_id,
            system=system,
            code=to_code(system, level),
            channel=Channel.MOBILE,
            at=min(at, NOW - dt.timedelta(minutes=30)),
        )
        self.tally.ratings["follow_up"] += 1

    # -- appointments (网上预约) ----------------------------------------------------------------

    def run_appointments(self) -> tuple[list[UUID], dict[UUID, list[str]]]:
        """Slots at the halls; returns the two missers and their missed-appointment facts."""
        items: dict[str, str] = {}
        for case in self.all_cases:
            if case.department in HALLS:
                items.setdefault(case.department, case.item_code)
        people = sorted(
            (
                a.id
                for a in self.applicants.values()
                if not a.erased
                and a.kind is ApplicantKind.NATURAL_PERSON
                and a.authentication_level.value == "advanced"
            ),
            key=str,
        )
        missers = people[:2]
        others = [p for p in sorted(self.applicants, key=str) if p not in missers]
        others = [p for p in others if self.usable(p)]
        days = [d for d in (dt.date(2026, 9, 7) + dt.timedelta(days=i) for i in range(70))]
        days = [d for d in days if is_working_day(d) and d <= dt.date(2026, 11, 13)]
        slot_days = days[:: max(1, len(days) // 12)][:12]
        facts: dict[UUID, list[str]] = {m: [] for m in missers}
        halls = sorted(items)
        refused = False
        for index, day in enumerate(slot_days):
            for hall_index, department in enumerate(halls):
                if (index + hall_index) % 2:
                    continue
                start = _at(day, 9 + hall_index % 3, 0)
                slot = self.domain.appointments.open_slot(
                    signer=self.seal(department),
                    department=department,
                    hall=HALLS[department],
                    service_item=items[department],
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=30),
                    capacity=5,
                )
                self.tally.appointments["slots"] += 1
                bookers = self.rng.sample(others, 3)
                miss = [m for m in missers if len(facts[m]) < 4 and (index + hall_index) % 3 != 2]
                bookings: list[tuple[UUID, UUID]] = []
                for applicant in [*miss[:1], *bookers]:
                    booked_at = _at(day - dt.timedelta(days=3), 20)
                    booking = self.domain.appointments.book(
                        slot.id, signer=self.portal, applicant_id=applicant, at=booked_at
                    )
                    bookings.append((applicant, booking))
                    self.tally.appointments["booked"] += 1
                for applicant, booking in bookings:
                    if applicant in missers:
                        facts[applicant].append(appointment_fact(slot.id, booking))
                        continue
                    roll = self.rng.random()
                    if roll < 0.15:
                        self.domain.appointments.cancel(
                            slot.id,
                            signer=self.portal,
                            booking_id=booking,
                            at=start - dt.timedelta(hours=16),
                        )
                        self.tally.appointments["cancelled"] += 1
                    elif roll < 0.25:
                        continue  # a no-show
                    else:
                        kiosk = department.startswith("GZ-") and self.kiosks
                        self.domain.appointments.check_in(
                            slot.id,
                            signer=self.rng.choice(self.kiosks) if kiosk else self.seal(department),
                            booking_id=booking,
                            at=start - dt.timedelta(minutes=self.rng.randint(0, 30)),
                        )
                        self.tally.appointments["kept"] += 1
                        if not refused and index >= 2 and department.startswith("GZ-"):  # NH·9
                            self.domain.appointments.refuse(
                                slot.id,
                                signer=self.seal(department),
                                booking_id=booking,
                                ground=RefusalGround.LACKS_REQUIRED_MATERIALS,
                                details="申请人未携带经营场所使用证明原件，已一次性告知",
                                at=start + dt.timedelta(minutes=15),
                            )
                            refused = True
                            self.tally.appointments["refused"] += 1
                missed = self.domain.appointments.record_no_shows(
                    slot.id, signer=self.platform, at=start + dt.timedelta(hours=2)
                )
                self.tally.appointments["no_shows"] += len(missed)
        for misser in missers:
            assert len(facts[misser]) >= 4, "the demo needs four missed appointments"
        self.tally.appointments["halls"] = len(halls)
        self.tally.appointments["applicants_with_4_no_shows"] = len(missers)
        return missers, facts

    # -- consultations and complaints (12345) -------------------------------------------------

    def run_consultations(self) -> dict[str, str]:
        """Enquiries and complaints; returns the department with a late complaint answer."""
        departments = sorted(HALLS)
        people = [p for p in sorted(self.applicants, key=str) if self.usable(p)]
        channels = list(ConsultationChannel)
        enquiries = [
            (ConsultationKind.ENQUIRY, text, 5 if i in (3, 8) else i % 3)
            for i, text in enumerate(ENQUIRIES * 2)
        ]
        complaints = [
            (ConsultationKind.COMPLAINT, text, 16 if i == 1 else 4 + i)
            for i, text in enumerate(COMPLAINTS * 2)
        ]
        plan: list[tuple[ConsultationKind, str, int]] = []
        for i, enquiry in enumerate(enquiries):
            plan.append(enquiry)
            if i < len(complaints):
                plan.append(complaints[i])
        plan.append((ConsultationKind.ENQUIRY, "网上办事大厅无法上传材料怎么办？", -1))
        late_department = ""
        received_on = dt.date(2026, 9, 8)
        for number, (kind, text, answer_after) in enumerate(plan):
            received_on = _wd(received_on, self.rng.randint(1, 3))
            if answer_after < 0:
                received_on = _wd(TODAY, 0) - dt.timedelta(days=8)
                received_on = _wd(received_on, 0)
            department = departments[number % len(departments)]
            channel = channels[number % len(channels)]
            signer = {
                ConsultationChannel.HOTLINE_12345: self.platform,
                ConsultationChannel.KIOSK: self.kiosks[0] if self.kiosks else self.portal,
            }.get(channel, self.portal)
            case = next((c for c in self.all_cases if c.department == department), None)
            consultation = self.domain.consultations.receive(
                signer=signer,
                kind=kind,
                channel=channel,
                department=department,
                applicant_id=people[number % len(people)],
                summary=text,
                at=_at(received_on, 10, self.rng.randrange(60)),
                case_serial=case.serial if kind is ConsultationKind.COMPLAINT and case else "",
            )
            name = "enquiries" if kind is ConsultationKind.ENQUIRY else "complaints"
            self.tally.consultations[name] += 1
            if answer_after < 0:
                key = "open_overdue" if consultation.is_overdue(TODAY) else "open"
                self.tally.consultations[key] += 1
                continue
            answered = _at(_wd(received_on, answer_after), 16)
            if answered > NOW:
                key = "open_overdue" if consultation.is_overdue(TODAY) else "open"
                self.tally.consultations[key] += 1
                continue
            self.domain.consultations.answer(
                consultation.id,
                signer=self.seal(department),
                department=department,
                answer="已核实并答复：" + text.rstrip("？"),
                at=answered,
            )
            late = self.domain.consultations.consultation(consultation.id).answered_late
            self.tally.consultations["answered_late" if late else "answered_on_time"] += 1
            if late and kind is ConsultationKind.COMPLAINT and not late_department:
                late_department = department
            if (
                kind is ConsultationKind.COMPLAINT
                and not late
                and not self.tally.consultations["found_untrue"]
            ):
                self.domain.consultations.find_untrue(
                    consultation.id,
                    signer=self.seal(department),
                    department=department,
                    reasons="经调取窗口录像及办件记录，投诉所述情况不存在",
                    evidence=[f"video:{department}:{received_on.isoformat()}"],
                    at=answered + dt.timedelta(days=1),
                )
                self.tally.consultations["found_untrue"] += 1
        return {"late_complaint": late_department}

    # -- blacklist (黑名单) -------------------------------------------------------------------

    def run_blacklist(self, missers: list[UUID], facts: dict[UUID, list[str]]) -> None:
        decided = _at(dt.date(2026, 10, 20), 10)
        until = ""
        for number, applicant in enumerate(missers):
            self.domain.blacklist.blacklist(
                applicant,
                signer=self.office,
                authority=OFFICE,
                ground=BlacklistGround.MISSED_APPOINTMENTS,
                facts=facts[applicant][:4],
                details="预约后失约超过三次（NH·25），限制在线申请3个月",
                at=decided + dt.timedelta(minutes=10 * number),
            )
            self.tally.blacklist["blacklisted"] = self.tally.blacklist.get("blacklisted", 0) + 1
            self.domain.blacklist.lodge_appeal(
                applicant,
                signer=self.portal,
                reasons="因住院治疗未能按时到场，非故意失约"
                if number == 0
                else "预约时间与工作冲突，忘记取消",
                evidence=[f"sha256:{self.rng.getrandbits(256):064x}"] if number == 0 else [],
                at=_at(_wd(decided.date(), 2 + 2 * number), 20),
            )
            self.tally.blacklist["appeals"] = self.tally.blacklist.get("appeals", 0) + 1
            upheld = number == 0
            self.domain.blacklist.decide_appeal(
                applicant,
                signer=self.office,
                authority=OFFICE,
                unintentional=upheld,
                reasons="提供住院证明，失约非故意，予以除名"
                if upheld
                else "未提供证明失约非故意的材料，维持原决定",
                at=_at(_wd(decided.date(), 7 + number), 11),
            )
            key = "appeal_upheld_removed" if upheld else "appeal_dismissed"
            self.tally.blacklist[key] = self.tally.blacklist.get(key, 0) + 1
            record = self.domain.blacklist.record(applicant)
            assert record is not None
            if not upheld:
                until = record.entries[-1]["until"].isoformat()
        self.tally.blacklist["ground"] = BlacklistGround.MISSED_APPOINTMENTS.value
        self.tally.blacklist["restricted_until"] = until
        self._refused_online(missers)

    def _refused_online(self, missers: list[UUID]) -> None:
        """The case service asks the blacklist: the dismissed appellant's online submission
        is refused (with the end date and the appeal route), nothing recorded; the removed
        applicant may apply online again."""
        on = dt.date(2026, 11, 10)
        self.clock.set(_at(on, 10).astimezone(dt.UTC))
        removed, blocked = missers[0], missers[1]
        assert not self.domain.blacklist.is_blacklisted(removed, on).blocked
        item = next(
            (
                c
                for c in self.all_cases
                if c.handling_mode.value == "full_online"
                and self.applicants[c.applicant_id].kind is ApplicantKind.NATURAL_PERSON
            ),
            None,
        )
        assert item is not None
        type_code, issuer = self.type_codes.get(item.department, ("", ""))
        materials = [
            SubmittedMaterial.e_certificate(
                code, make_certificate_id(type_code, issuer, f"BL{n:06d}", 1), "居民身份证"
            )
            for n, code in enumerate(item.materials)
            if type_code
        ][:1]
        head = self.app.chain.chain_head()
        before = head.sequence if head else 0
        try:
            self.cases.submit(
                item_code=item.item_code,
                applicant_id=blocked,
                channel="app",
                handling_mode="full_online",
                materials=materials,
                delivery="online",
                signer=self.portal,
            )
        except BlacklistedApplicant as exc:
            self.tally.blacklist["online_refused"] = 1
            self.tally.blacklist["refusal"] = {
                "code": exc.code,
                "rule": exc.rule,
                "until": exc.until.isoformat() if exc.until else None,
                "appeal_route": exc.appeal_route,
            }
        else:
            raise AssertionError("a blacklisted applicant's online submission was accepted")
        after = self.app.chain.chain_head()
        since = self.app.chain.select_entries(before + 1, (after.sequence if after else 0) - before)
        # the anchoring worker records in the background: only its entries may have come since
        assert all(e.topic in ANCHOR_TOPICS for e in since), "a refused submission recorded"
        self.tally.blacklist["removed_may_apply"] = True

    # -- supervision orders (督办) ------------------------------------------------------------

    def run_orders(self, late_complaint_department: str) -> None:
        red = [c for c in self.all_cases if c.is_open and _red(c)]
        for case in red[:3]:
            issued_on = _wd(case.due or TODAY, 1)
            order = self.domain.supervision.issue(
                signer=self.supervisor,
                department=case.department,
                reason=SupervisionReason.OVERDUE,
                details=f"办件 {case.serial} 超过承诺时限（红灯）未说明原因（FZ·24）",
                at=_at(issued_on, 9, 15),
                case_id=case.id,
                case_serial=case.serial,
            )
            self.tally.orders["issued"] += 1
            self.tally.orders["on_red_cases"] += 1
            answer_at = min(_at(_wd(issued_on, 1), 11), NOW - dt.timedelta(minutes=40))
            answer_at = max(answer_at, _at(issued_on, 14))
            explanation = (
                "因申请人补充检测报告延误，超期作出决定，已向申请人说明并致歉"
                if case.decided_on is not None
                else "现场核查需补充检测报告，已告知申请人，预计三个工作日内作出决定"
            )
            self._answer(order.id, case.department, explanation, answer_at)
        department = late_complaint_department or "GZ-SCJG"
        plans = (
            (
                department,
                SupervisionReason.NOT_HANDLED,
                "12345 投诉逾期未答复，请说明原因",
                dt.date(2026, 10, 19),
                7,
                True,
            ),
            (
                "NH-XZFW",
                SupervisionReason.PAPER_DEMANDED,
                "全程网办事项仍要求申请人提交纸质材料",
                dt.date(2026, 11, 2),
                2,
                True,
            ),
            (
                "GZ-GA",
                SupervisionReason.OFFLINE_BACKFILL,
                "部分办件步骤在系统外办理后补录（FZ·26），请说明",
                dt.date(2026, 11, 4),
                3,
                False,
            ),
            (
                "FZ-SPJ",
                SupervisionReason.DATA_NOT_UPLOADED,
                "办件过程数据未按时上传，请核查",
                dt.date(2026, 11, 10),
                -1,
                False,
            ),
        )
        for dept, reason, details, on, answer_after, close in plans:
            order = self.domain.supervision.issue(
                signer=self.supervisor,
                department=dept,
                reason=reason,
                details=details,
                at=_at(_wd(on, 0), 10),
                answer_days=3 if answer_after < 0 else 5,
            )
            self.tally.orders["issued"] += 1
            if answer_after < 0:
                overdue = self.domain.supervision.order(order.id).is_overdue(TODAY)
                self.tally.orders["open_overdue" if overdue else "open"] += 1
                continue
            answered = _at(_wd(on, answer_after), 15)
            self._answer(order.id, dept, "已组织自查整改，相关情况说明如下：" + details, answered)
            if close:
                self.domain.supervision.close(
                    order.id,
                    signer=self.supervisor,
                    conclusion="答复属实，整改到位，督办办结",
                    at=answered + dt.timedelta(days=1),
                )
                self.tally.orders["closed"] += 1

    def _answer(self, order_id: UUID, department: str, text: str, at: dt.datetime) -> None:
        self.domain.supervision.answer(
            order_id, signer=self.seal(department), department=department, answer=text, at=at
        )
        assert self.domain.supervision.verify_answer(order_id)
        self.tally.orders["answered"] += 1
        if self.domain.supervision.order(order_id).answered_late:
            self.tally.orders["answered_late"] += 1


def _red(case: Case) -> bool:
    """Red (FZ·24): decided after its due date, or still undecided past it."""
    if case.due is None:
        return False
    if case.decided_on is not None:
        return case.decided_on > case.due
    return case.state is CaseState.ACCEPTED and case.due < TODAY


def run(ctx: DemoContext) -> None:
    started = time.perf_counter()
    demo = ServicesDemo(ctx)
    demo.run_certificates()
    demo.run_ratings()
    missers, facts = demo.run_appointments()
    found = demo.run_consultations()
    demo.run_blacklist(missers, facts)
    demo.run_orders(found["late_complaint"])
    t = demo.tally
    ctx.summary["services"] = {
        "certificates": {
            "issued": t.certificates["issued"],
            "issued_with_case": t.certificates["issued_with_case"],
            "updated": t.certificates["updated"],
            "revoked": t.certificates["revoked"],
            "disputes": dict(sorted(t.disputes.items())),
        },
        "ratings": {
            "first": t.ratings["first"],
            "follow_up": t.ratings["follow_up"],
            "by_level": {LEVEL_NAMES[lv]: t.levels[LEVEL_NAMES[lv]] for lv in RatingLevel},
            "by_system": dict(sorted(t.systems.items())),
            "by_channel": dict(sorted(t.channels.items())),
            "callbacks": t.ratings["callbacks"],
            "rectified": t.ratings["rectified"],
            "rectified_late": t.ratings["rectified_late"],
            "disputes": {
                "upheld": t.ratings["dispute_upheld"],
                "rejected": t.ratings["dispute_rejected"],
            },
            "stranger_refused": t.ratings["stranger_refused"],
        },
        "appointments": dict(t.appointments),
        "consultations": dict(sorted(t.consultations.items())),
        "blacklist": t.blacklist,
        "supervision_orders": dict(sorted(t.orders.items())),
        "business_dates": ["2026-09-01", TODAY.isoformat()],
        "seconds": round(time.perf_counter() - started, 2),
    }


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("services")
    if not s:
        return []
    c, r, a = s["certificates"], s["ratings"], s["appointments"]
    q, b, o = s["consultations"], s["blacklist"], s["supervision_orders"]
    d = c["disputes"]
    levels = ", ".join(f"{k} {v}" for k, v in r["by_level"].items())
    return [
        f"certificates   {c['issued']} issued ({c['issued_with_case']} recorded on open cases), "
        f"{c['updated']} updated, {c['revoked']} revoked; disputes: {d.get('upheld', 0)} "
        f"upheld, {d.get('rejected', 0)} rejected, {d.get('late', 0)} late, "
        f"{d.get('extended', 0)} extended, {d.get('open_overdue', 0)} overdue ({s['seconds']} s)",
        f"ratings        {r['first']} first ({levels}), {r['follow_up']} follow-up; "
        f"{r['callbacks']} callbacks, {r['rectified']} rectified ({r['rectified_late']} late); "
        f"disputes {r['disputes']['upheld']} upheld, {r['disputes']['rejected']} rejected; "
        f"{r.get('stranger_refused', 0)} rating of another's case refused ({RatingNotOfCase.rule})",
        f"appointments   {a['slots']} slots at {a['halls']} halls: {a['booked']} booked, "
        f"{a['kept']} kept, {a['cancelled']} cancelled, {a['no_shows']} missed, "
        f"{a.get('refused', 0)} refused (GZ20·9)",
        f"12345          {q['enquiries']} enquiries, {q['complaints']} complaints: "
        f"{q['answered_on_time']} answered on time, {q['answered_late']} late, "
        f"{q.get('open_overdue', 0) + q.get('open', 0)} open; "
        f"{q['found_untrue']} complaint found untrue",
        f"blacklist      {b['blacklisted']} blacklisted (4 missed appointments, NH·25), "
        f"{b['appeals']} appeals: {b['appeal_upheld_removed']} removed, "
        f"{b['appeal_dismissed']} dismissed; online submission refused until "
        f"{b['restricted_until']}",
        f"督办           {o['issued']} supervision orders: {o['answered']} answered "
        f"({o.get('answered_late', 0)} late), {o.get('closed', 0)} closed, "
        f"{o.get('open_overdue', 0) + o.get('open', 0)} open",
    ]


STAGE = Stage("services", run, lines)
