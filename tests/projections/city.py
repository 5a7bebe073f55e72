"""A scripted city for the read-model tests: real cases through the real services.

Built on ``tests.ledger.case_world`` (real keys, real storage, real vault; only the clock is
simulated) plus a supervisor key and the domain services of ``ledger.services.domain_services``.
Each case is named by what it demonstrates; the expected values in the tests are worked out
by hand from the 2026 State Council schedule (National Day: 1–7 October off, 8 October a
working day, Saturday 10 October a make-up working day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from ledger.chain.signing import Ed25519Signer
from ledger.domain.anchoring import AnchorLog
from ledger.domain.cases import Case
from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.keys import KeyRole
from ledger.storage.urls import parse_storage_url
from projections.registry import VIEWS
from projections.runner import catch_up, open_view
from projections.view import View
from tests.helpers import enrol
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, ISSUER, World, build_world, shanghai

OFFICE = "GZ-ZWFW"
TYPE_CODE = ISSUER + "001"
D = dt.date

CLEAR_VALUES = (
    "11010519491231002X",
    "110105198001010016",
    "914403001922038216",
    "张三",
    "李四",
    "广州某某餐饮有限公司",
    "13800138000",
    "广州市天河区天河路1号",
)
"""Every clear personal value the scenario's applicants registered with."""


@dataclass
class City:
    world: World
    supervisor: Ed25519Signer
    serials: dict[str, str] = field(default_factory=dict)
    case_ids: dict[str, UUID] = field(default_factory=dict)
    certificates: dict[str, str] = field(default_factory=dict)
    facts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def storage(self):  # type: ignore[no-untyped-def]
        return parse_storage_url(self.world.url)

    def views(self) -> dict[str, View]:
        """Every registered view, caught up with the log."""
        found = {}
        for cls in VIEWS:
            view = open_view(cls, self.storage)
            catch_up(view, self.world.ledger)
            found[cls.name] = view
        return found

    def at(self, day: dt.date, hour: int = 10) -> dt.datetime:
        return shanghai(day, hour)


def _clock(w: World, day: dt.date) -> None:
    w.clock.set(day)


def build_city(url: str, tmp: Path, *, full: bool = True) -> City:
    """The scenario; ``full=False`` builds only the cases (for the two-backend tests)."""
    w = build_world(url, tmp, start=D(2026, 9, 28))
    supervisor = enrol(w.ledger, w.platform, "supervisor:zwfw", KeyRole.SUPERVISOR, OFFICE)
    city = City(w, supervisor)
    s = city.serials

    # A — accepted Monday 28 September: promised 20 working days → due Friday 30 October.
    _clock(w, D(2026, 9, 28))
    s["accepted"] = w.submit_food().serial
    w.to_accepted(s["accepted"])
    # B — fully online card, waiting for pre-review: due 5 working days later, 10 October.
    s["pre_review"] = w.submit_card().serial

    # E — a second correction request (recorded as a repeat, GZ20·11).
    _clock(w, D(2026, 9, 29))
    s["second_correction"] = w.submit_food().serial
    w.cases.request_correction(s["second_correction"], {"FLOOR-PLAN": "比例不清"}, signer=w.food)
    w.cases.correct(
        s["second_correction"], w.enterprise.id, [w.copy("FLOOR-PLAN", "v2")], signer=w.portal
    )
    w.cases.request_correction(s["second_correction"], {"FLOOR-PLAN": "仍不清晰"}, signer=w.food)
    # F — paper demanded for a fully online item: materials delivered on site.
    s["paper"] = w.submit_card().serial
    w.cases.pass_pre_review(s["paper"], signer=w.card)
    w.cases.record_material_delivery(s["paper"], "on_site", signer=w.card)

    # G — closed with a result document and its e-certificate: without the certificate the
    # ledger refuses dispatch and close (GZ16·15), so no case is closed without one.
    _clock(w, D(2026, 9, 30))
    s["no_certificate"] = w.submit_food().serial
    w.to_accepted(s["no_certificate"])
    w.cases.approve(s["no_certificate"], signer=w.food)
    w.cases.issue_result_document(s["no_certificate"], signer=w.food)
    w.cases.record_certificate(
        s["no_certificate"], make_certificate_id(TYPE_CODE, ISSUER, "2026000666", 1), signer=w.food
    )
    w.cases.dispatch(s["no_certificate"], "online", signer=w.food)
    w.cases.sign_off(s["no_certificate"], signer=w.portal)
    w.cases.close(s["no_certificate"], signer=w.food)
    # H — closed with its e-certificate recorded.
    s["certified"] = w.submit_food().serial
    w.to_accepted(s["certified"])
    w.cases.approve(s["certified"], signer=w.food)
    if full:
        issued = w.issue_certificate(
            s["certified"],
            holder=w.enterprise.id,
            type_code=TYPE_CODE,
            serial="2026000777",
            content={"business_scope": "餐饮服务"},
        )
        city.certificates["v1"] = issued.identifier
    else:
        w.cases.issue_result_document(s["certified"], signer=w.food)
        w.cases.record_certificate(
            s["certified"], make_certificate_id(TYPE_CODE, ISSUER, "2026000777", 1), signer=w.food
        )
    w.cases.dispatch(s["certified"], "online", signer=w.food)
    w.cases.sign_off(s["certified"], signer=w.portal)
    w.cases.close(s["certified"], signer=w.food)

    # C — paused by a special procedure from 19 October, never ended; C2 — ended 13 November.
    _clock(w, D(2026, 10, 12))
    s["paused"] = w.submit_food().serial
    w.to_accepted(s["paused"])
    s["resumed"] = w.submit_food().serial
    w.to_accepted(s["resumed"])
    _clock(w, D(2026, 10, 19))
    for key in ("paused", "resumed"):
        w.cases.start_special_procedure(s[key], "expert_review", 10, signer=w.food)
    _clock(w, D(2026, 11, 13))
    w.cases.end_special_procedure(s["resumed"], "专家评审通过", signer=w.food)

    # D — accepted 21 December 2026: the due date falls in 2027, a year with no schedule.
    _clock(w, D(2026, 12, 21))
    s["provisional"] = w.submit_food().serial
    w.to_accepted(s["provisional"])

    for key, serial in s.items():
        city.case_ids[key] = Case.id_for(serial)
    if full:
        _domain(city)
    return city


def _domain(city: City) -> None:
    w, s = city.world, city.serials
    at = city.at
    certs = w.certificates
    v1 = city.certificates["v1"]
    v2 = certs.update(
        v1,
        signer=w.food,
        department=FOOD_DEPT,
        content={"business_scope": "餐饮服务、食品销售"},
        reason="经营范围变更",
        at=at(D(2026, 10, 9)),
    )
    city.certificates["v2"] = v2
    certs.raise_dispute(
        v2,
        signer=w.card,
        department=CARD_DEPT,
        reasons="地址与登记不一致",
        evidence=["doc:registry-extract-1"],
        at=at(D(2026, 10, 12)),
    )  # due 15 October; never answered
    revoked = certs.issue(
        signer=w.food,
        department=FOOD_DEPT,
        case_id=city.case_ids["no_certificate"],
        case_serial=s["no_certificate"],
        case_department=FOOD_DEPT,
        case_decided=True,
        holder=w.person.id,
        type_code=TYPE_CODE,
        issuer_code=ISSUER,
        serial="2026000888",
        content={"business_scope": "个体餐饮"},
        at=at(D(2026, 10, 9)),
    )
    city.certificates["revoked"] = revoked.identifier
    certs.revoke(
        revoked.identifier,
        signer=w.food,
        department=FOOD_DEPT,
        reason="申请人注销",
        at=at(D(2026, 10, 20)),
    )
    # I — a held certificate referenced for A, then demanded again at the window.
    certs.reference(
        v2,
        signer=w.portal,
        case_id=city.case_ids["accepted"],
        case_serial=s["accepted"],
        material_code="LICENCE",
        applicant_id=w.enterprise.id,
        at=at(D(2026, 10, 13)),
    )
    certs.record_reupload_demand(
        city.case_ids["accepted"],
        "LICENCE",
        signer=w.portal,
        department=FOOD_DEPT,
        note="窗口要求重新上传营业执照",
        at=at(D(2026, 10, 14)),
    )

    # Consultations: a complaint never answered (due 13 working days later), an enquiry
    # answered in time.
    consult = w.consultations
    consult.receive(
        signer=w.portal,
        kind="complaint",
        channel="online",
        department=FOOD_DEPT,
        applicant_id=w.person.id,
        summary="窗口人员推诿",
        at=at(D(2026, 10, 12)),
    )
    enquiry = consult.receive(
        signer=w.portal,
        kind="enquiry",
        channel="online",
        department=CARD_DEPT,
        applicant_id=w.person.id,
        summary="换领需要哪些材料",
        at=at(D(2026, 10, 12)),
    )
    consult.answer(
        enquiry.id,
        signer=w.card,
        department=CARD_DEPT,
        answer="数码照片回执",
        at=at(D(2026, 10, 13)),
    )

    # A supervision order on B, issued 12 October, due 19 October, never answered.
    w.supervision.issue(
        signer=city.supervisor,
        department=CARD_DEPT,
        reason="overdue",
        details="预审超期未说明",
        at=at(D(2026, 10, 12)),
        case_id=city.case_ids["pre_review"],
        case_serial=s["pre_review"],
    )

    # Ratings (October): G very satisfied then satisfied; H dissatisfied (called back and
    # rectified); E very dissatisfied, disputed and upheld (excluded, an untrue rating).
    ratings = w.ratings

    def rate(key: str, code: int, reason: str = "", day: int = 15) -> None:
        ratings.rate(
            signer=w.portal,
            case_id=city.case_ids[key],
            case_serial=s[key],
            department=FOOD_DEPT,
            applicant_id=w.enterprise.id,
            system="gbt39046",
            code=code,
            channel="pc",
            reason=reason,
            at=at(D(2026, 10, day)),
        )

    rate("no_certificate", 1)
    rate("no_certificate", 2, day=16)
    rate("certified", 4, "等候时间过长")
    ratings.record_callback(
        city.case_ids["certified"],
        signer=w.food,
        department=FOOD_DEPT,
        kind="first",
        note="已电话回访",
        at=at(D(2026, 10, 16)),
    )
    ratings.rectify(
        city.case_ids["certified"],
        signer=w.food,
        department=FOOD_DEPT,
        kind="first",
        measures="增设窗口",
        at=at(D(2026, 10, 19)),
    )
    rate("second_correction", 5, "不合理的补正")
    ratings.dispute(
        city.case_ids["second_correction"],
        signer=w.food,
        department=FOOD_DEPT,
        kind="first",
        reasons="补正依据充分",
        evidence=["notice:1"],
        at=at(D(2026, 10, 16)),
    )
    ratings.decide_dispute(
        city.case_ids["second_correction"],
        signer=city.supervisor,
        kind="first",
        upheld=True,
        reasons="评价与事实不符",
        at=at(D(2026, 10, 19)),
    )

    # Missed appointments: 李四 five (four used by a blacklisting), 张三 four (proposed).
    for who, count in (("basic", 5), ("person", 4)):
        applicant = w.basic_person if who == "basic" else w.person
        city.facts[who] = [
            w.missed_appointment(
                w.food,
                FOOD_DEPT,
                applicant.id,
                at(D(2026, 10, 12 + i), 9 if who == "basic" else 14),
                at(D(2026, 10, 9)),
            )
            for i in range(count)
        ]
    w.blacklist.blacklist(
        w.basic_person.id,
        signer=city.supervisor,
        authority=OFFICE,
        ground="missed_appointments",
        facts=city.facts["basic"][:4],
        details="预约后失约超过三次",
        at=at(D(2026, 10, 20)),
    )

    # An anchor receipt for the first 10 entries.
    log = AnchorLog(origin="test.example/log", checkpoint_key="test.example+0+key")
    log.anchored(10, b"\x01" * 32, "checkpoint", "block", 0, [])
    w.ledger.save_signed(log, signer=w.platform)
