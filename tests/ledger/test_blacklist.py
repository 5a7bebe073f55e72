"""The online-services blacklist (黑名单): RULES.md "Blacklist and credit", one test per rule
with its source (GZ16·22, NH·25, PY·28); the flows on both backends; the chain verifies."""

from __future__ import annotations

import datetime as dt
from uuid import UUID, uuid4

import pytest

from ledger.chain.seals import verify_sealed
from ledger.domain.blacklist import COUNTED_GROUNDS, BlacklistGround, Restriction, add_months
from ledger.domain.calendar import add_working_days
from ledger.domain.complaints import ConsultationKind
from ledger.domain.ratings import CodeSystem
from ledger.domain.rules import (
    AppealOutOfTime,
    BlacklistedApplicant,
    BlacklistThresholdNotMet,
    InvalidBlacklisting,
    InvalidBlacklistTransition,
    NotInDepartmentScope,
)
from ledger.domain.sealed import SealedKind
from ledger.services.application import KeyNotUsable
from ledger.services.domain_services import appointment_fact, consultation_fact, rating_fact
from tests.ledger.domain_world import ISSUER, OFFICE, World, at


def _blacklist(
    world: World,
    applicant: UUID,
    day: str = "2025-03-14",
    ground: BlacklistGround = BlacklistGround.FALSE_MATERIALS,
    facts: list[str] | None = None,
) -> None:
    world.blacklist.blacklist(
        applicant,
        signer=world.supervisor,
        authority=OFFICE,
        ground=ground,
        facts=facts or ["case:GZ-2025-0001"],
        details="提交伪造的房产证明",
        at=at(day),
    )


def _no_shows(world: World, applicant: UUID, count: int) -> list[str]:
    return [
        world.missed_appointment(
            world.issuer, ISSUER, applicant, at(f"2025-03-0{3 + i}", 9), at("2025-03-01")
        )
        for i in range(count)
    ]


def test_blacklisting_is_a_decision_with_a_sealed_notice_GZ16_22(both: World) -> None:
    applicant = uuid4()
    _blacklist(both, applicant)
    record = both.blacklist.record(applicant)
    assert record is not None
    (notice,) = record.notices
    assert notice.kind is SealedKind.BLACKLIST_NOTICE
    assert verify_sealed(notice, both.supervisor.public_key)
    assert notice.body["ground"] == "false_materials"
    assert notice.body["until"] == dt.date(2025, 6, 13)
    assert "appeal_due" not in notice.body  # the period runs from receipt (GZ16·22, PY·28)
    assert notice.body["appeal_working_days"] == 30
    assert "receipt" in notice.body["appeal_period_from"]
    assert OFFICE in notice.body["appeal_route"]
    assert both.verifies()


def test_online_application_is_blocked_for_3_months_then_lapses_GZ16_22_PY_28(
    both: World,
) -> None:
    applicant = uuid4()
    assert both.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 14)) == (False, None, "")
    _blacklist(both, applicant, "2025-03-14")
    blocked, until, route = both.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 14))
    assert blocked and until == dt.date(2025, 6, 13) and "30 working days of receiving" in route
    assert both.blacklist.is_blacklisted(applicant, dt.date(2025, 6, 13)).blocked
    assert not both.blacklist.is_blacklisted(applicant, dt.date(2025, 6, 14)).blocked
    assert not both.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 13)).blocked
    assert both.verifies()


def test_blacklisted_online_submission_is_refused_with_end_date_and_appeal_route_GZ16_22(
    world: World,
) -> None:
    applicant = uuid4()
    world.blacklist.refuse_if_blacklisted(applicant, dt.date(2025, 3, 14))
    _blacklist(world, applicant)
    with pytest.raises(BlacklistedApplicant) as caught:
        world.blacklist.refuse_if_blacklisted(applicant, dt.date(2025, 4, 1))
    message = str(caught.value)
    assert "2025-06-13" in message and OFFICE in message and "GZ16·22" in message
    assert caught.value.code == "blacklisted-applicant"


def test_more_than_three_missed_appointments_blacklist_NH_25(both: World) -> None:
    applicant = both.applicant("basic")
    facts = _no_shows(both, applicant, 4)
    both.refused(
        BlacklistThresholdNotMet,
        lambda: _blacklist(
            both, applicant, ground=BlacklistGround.MISSED_APPOINTMENTS, facts=facts[:3]
        ),
    )
    _blacklist(both, applicant, ground=BlacklistGround.MISSED_APPOINTMENTS, facts=facts)
    assert both.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 20)).blocked
    assert both.verifies()


@pytest.mark.parametrize("ground", sorted(COUNTED_GROUNDS))
def test_every_counted_ground_needs_more_than_three_facts_NH_25(
    world: World, ground: BlacklistGround
) -> None:
    exc = world.refused(
        BlacklistThresholdNotMet,
        lambda: _blacklist(world, uuid4(), ground=ground, facts=["case:1", "case:2", "case:3"]),
    )
    assert exc.rule == "NH·25"  # type: ignore[attr-defined]


def test_more_than_three_untrue_complaints_or_ratings_blacklist_NH_25(world: World) -> None:
    applicant = world.applicant()
    facts = []
    for _ in range(2):
        complaint = world.consultations.receive(
            signer=world.portal,
            kind=ConsultationKind.COMPLAINT,
            channel="hotline_12345",
            department=ISSUER,
            applicant_id=applicant,
            summary="窗口人员态度恶劣",
            at=at("2025-03-03"),
        )
        world.consultations.answer(
            complaint.id,
            signer=world.issuer,
            department=ISSUER,
            answer="经核查",
            at=at("2025-03-04"),
        )
        world.consultations.find_untrue(
            complaint.id,
            signer=world.issuer,
            department=ISSUER,
            reasons="监控录像显示未发生",
            evidence=["video:20250303-0930"],
            at=at("2025-03-05"),
        )
        facts.append(consultation_fact(complaint.id))
    for _ in range(2):
        case = world.case(applicant)
        case_id = case.id
        world.ratings.rate(
            signer=world.portal,
            case_id=case_id,
            case_serial=case.serial,
            department=ISSUER,
            applicant_id=applicant,
            system=CodeSystem.GBT_39046,
            code=5,
            channel="pc",
            reason="未办理",
            at=at("2025-03-03"),
        )
        world.ratings.dispute(
            case_id,
            signer=world.issuer,
            department=ISSUER,
            kind="first",
            reasons="已办结",
            evidence=["receipt:1"],
            at=at("2025-03-04"),
        )
        world.ratings.decide_dispute(
            case_id,
            signer=world.supervisor,
            kind="first",
            upheld=True,
            reasons="评价与事实不符",
            at=at("2025-03-05"),
        )
        facts.append(rating_fact(case_id))
    world.refused(
        InvalidBlacklisting,
        lambda: _blacklist(
            world,
            uuid4(),  # someone else's facts
            ground=BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS,
            facts=facts,
        ),
    )
    _blacklist(world, applicant, ground=BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS, facts=facts)
    assert world.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 20)).blocked
    assert world.verifies()


def test_a_fact_that_did_not_happen_is_refused(world: World) -> None:
    applicant = world.applicant("basic")
    facts = [*_no_shows(world, applicant, 3), appointment_fact(uuid4(), uuid4())]
    exc = world.refused(
        InvalidBlacklisting,
        lambda: _blacklist(
            world, applicant, ground=BlacklistGround.MISSED_APPOINTMENTS, facts=facts
        ),
    )
    assert exc.field == "facts[3]"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "ground",
    [
        BlacklistGround.FALSE_MATERIALS,
        BlacklistGround.BATCH_OR_UNCIVIL,
        BlacklistGround.MALICIOUS_COMPLAINTS_OR_RATINGS,
        BlacklistGround.OTHER_MALICIOUS,
    ],
)
def test_each_uncounted_ground_blacklists_on_one_fact_GZ16_22_PY_28(
    world: World, ground: BlacklistGround
) -> None:
    applicant = uuid4()
    _blacklist(world, applicant, ground=ground)
    assert world.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 14)).blocked


def _received(world: World, applicant: UUID, on: dt.date, recorded: str) -> dt.date:
    return world.blacklist.record_notice_receipt(
        applicant,
        signer=world.supervisor,
        authority=OFFICE,
        received_on=on,
        how="received",
        evidence=["sha256:" + "ab" * 32],
        at=at(recorded),
    )


def test_appeal_within_30_working_days_of_the_notice_GZ16_22_NH_25_PY_28(both: World) -> None:
    applicant = uuid4()
    _blacklist(both, applicant, "2025-03-14")
    due = _received(both, applicant, dt.date(2025, 3, 14), "2025-03-14")
    assert due == add_working_days(dt.date(2025, 3, 14), 30)
    late = due + dt.timedelta(days=1)
    both.refused(
        AppealOutOfTime,
        lambda: both.blacklist.lodge_appeal(
            applicant, signer=both.portal, reasons="系误操作", at=at(late.isoformat())
        ),
    )
    both.blacklist.lodge_appeal(
        applicant, signer=both.portal, reasons="系误操作", at=at(due.isoformat())
    )
    both.refused(
        InvalidBlacklistTransition,
        lambda: both.blacklist.lodge_appeal(
            applicant, signer=both.portal, reasons="再次申诉", at=at(due.isoformat())
        ),
    )
    assert "pending" in both.blacklist.is_blacklisted(applicant, due).appeal_route
    assert both.verifies()


def test_removal_when_the_act_proves_unintentional_on_appeal_NH_25(both: World) -> None:
    applicant = uuid4()
    _blacklist(both, applicant, "2025-03-14")
    both.blacklist.lodge_appeal(
        applicant,
        signer=both.portal,
        reasons="批量申办系代理机构系统故障",
        evidence=["sha256:" + "cd" * 32],
        at=at("2025-03-17"),
    )
    decision = both.blacklist.decide_appeal(
        applicant,
        signer=both.supervisor,
        authority=OFFICE,
        unintentional=True,
        reasons="经核实为非故意行为，予以除名",
        at=at("2025-03-20"),
    )
    assert verify_sealed(decision, both.supervisor.public_key)
    assert both.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 19)).blocked
    assert not both.blacklist.is_blacklisted(applicant, dt.date(2025, 3, 20)).blocked
    record = both.blacklist.record(applicant)
    assert record is not None and record.state == "removed"
    assert both.verifies()


def test_a_dismissed_appeal_leaves_the_block_in_force(world: World) -> None:
    applicant = uuid4()
    _blacklist(world, applicant, "2025-03-14")
    world.blacklist.lodge_appeal(
        applicant, signer=world.portal, reasons="不服", at=at("2025-03-17")
    )
    world.blacklist.decide_appeal(
        applicant,
        signer=world.supervisor,
        authority=OFFICE,
        unintentional=False,
        reasons="材料系故意伪造",
        at=at("2025-03-20"),
    )
    blocked, until, route = world.blacklist.is_blacklisted(applicant, dt.date(2025, 4, 1))
    assert blocked and until == dt.date(2025, 6, 13) and "dismissed" in route
    world.refused(
        InvalidBlacklistTransition,
        lambda: world.blacklist.decide_appeal(
            applicant,
            signer=world.supervisor,
            authority=OFFICE,
            unintentional=True,
            reasons="x",
            at=at("2025-03-21"),
        ),
    )


def test_removal_on_proof_without_appeal_after_the_appeal_period_PY_28(world: World) -> None:
    applicant = uuid4()
    _blacklist(world, applicant, "2025-03-14")
    world.blacklist.remove(
        applicant,
        signer=world.supervisor,
        authority=OFFICE,
        reasons="公安机关证实证件被冒用，非本人故意",
        evidence=["police-report:2025-77"],
        at=at("2025-05-06"),
    )
    assert not world.blacklist.is_blacklisted(applicant, dt.date(2025, 5, 6)).blocked
    world.refused(
        InvalidBlacklistTransition,
        lambda: world.blacklist.remove(
            applicant,
            signer=world.supervisor,
            authority=OFFICE,
            reasons="x",
            evidence=["y"],
            at=at("2025-05-07"),
        ),
    )


def test_a_second_blacklisting_waits_for_the_first_to_lapse(world: World) -> None:
    applicant = uuid4()
    _blacklist(world, applicant, "2025-03-14")
    world.refused(InvalidBlacklistTransition, lambda: _blacklist(world, applicant, "2025-04-01"))
    _blacklist(world, applicant, "2025-06-16")
    record = world.blacklist.record(applicant)
    assert record is not None and len(record.entries) == 2
    assert world.blacklist.is_blacklisted(applicant, dt.date(2025, 9, 15)).blocked
    assert world.verifies()


def test_only_the_management_offices_supervisor_blacklists(world: World) -> None:
    world.refused(
        KeyNotUsable,
        lambda: world.blacklist.blacklist(
            uuid4(),
            signer=world.issuer,
            authority=OFFICE,
            ground="false_materials",
            facts=["case:1"],
            details="x",
            at=at("2025-03-14"),
        ),
    )
    world.refused(
        NotInDepartmentScope,
        lambda: world.blacklist.blacklist(
            uuid4(),
            signer=world.supervisor,
            authority="FS-ZWFW",
            ground="false_materials",
            facts=["case:1"],
            details="x",
            at=at("2025-03-14"),
        ),
    )


def test_unknown_grounds_are_refused_naming_the_field(world: World) -> None:
    exc = world.refused(
        InvalidBlacklisting,
        lambda: _blacklist(world, uuid4(), ground="rude"),  # type: ignore[arg-type]
    )
    assert exc.field == "ground"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (dt.date(2025, 3, 14), 3, dt.date(2025, 6, 14)),
        (dt.date(2025, 11, 30), 3, dt.date(2026, 2, 28)),
        (dt.date(2023, 11, 29), 3, dt.date(2024, 2, 29)),
        (dt.date(2025, 10, 31), 3, dt.date(2026, 1, 31)),
    ],
)
def test_three_months_are_calendar_months_clipped_to_the_month_end(
    start: dt.date, months: int, expected: dt.date
) -> None:
    assert add_months(start, months) == expected


def test_restriction_has_the_shape_the_case_service_calls() -> None:
    r = Restriction(True, dt.date(2025, 6, 13), "appeal")
    blocked, until, route = r
    assert (blocked, until, route) == (True, dt.date(2025, 6, 13), "appeal")


def test_the_appeal_period_runs_from_receipt_or_knowledge_not_the_decision_GZ16_22_PY_28(
    both: World,
) -> None:
    """自收到处理决定通知书或知悉该处理决定之日起30个工作日内 (GZ16·22, PY·28)."""
    applicant = uuid4()
    _blacklist(both, applicant, "2025-03-14")
    by_decision = add_working_days(dt.date(2025, 3, 14), 30)
    late = at((by_decision + dt.timedelta(days=3)).isoformat())
    received = dt.date(2025, 3, 28)  # the courier's 送达回证: two weeks after the decision
    due = _received(both, applicant, received, "2025-03-31")
    assert due == add_working_days(received, 30) > by_decision
    assert due.isoformat() in both.blacklist.is_blacklisted(applicant, received).appeal_route
    both.refused(  # once: the first receipt or knowledge starts the period
        InvalidBlacklistTransition,
        lambda: _received(both, applicant, dt.date(2025, 3, 31), "2025-03-31"),
    )
    both.blacklist.lodge_appeal(applicant, signer=both.portal, reasons="系误操作", at=late)
    assert both.blacklist.record(applicant).entries[-1]["appealed_on"] == late.date()  # type: ignore[union-attr]
    assert both.verifies()


def test_an_appeal_before_any_receipt_is_recorded_is_in_time_GZ16_22_PY_28(both: World) -> None:
    applicant = uuid4()
    _blacklist(both, applicant, "2025-03-14")
    long_after = at(add_working_days(dt.date(2025, 3, 14), 45).isoformat())
    both.blacklist.lodge_appeal(applicant, signer=both.portal, reasons="刚知悉", at=long_after)
    assert "pending" in both.blacklist.is_blacklisted(applicant, long_after.date()).appeal_route


def test_a_receipt_before_the_decision_or_in_the_future_is_refused_GZ16_22_PY_28(
    both: World,
) -> None:
    applicant = uuid4()
    _blacklist(both, applicant, "2025-03-14")
    for day in (dt.date(2025, 3, 13), dt.date(2025, 3, 20)):
        error = both.refused(
            InvalidBlacklisting, lambda d=day: _received(both, applicant, d, "2025-03-17")
        )
        assert "received_on" in str(error)
