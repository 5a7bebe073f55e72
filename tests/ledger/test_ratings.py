"""Ratings (好差评): RULES.md "Ratings", one test per rule with its source; the code mapping
both ways (property tests); deadlines over National Day; the chain verifies."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.chain.seals import verify_sealed
from ledger.domain.calendar import add_working_days
from ledger.domain.ratings import (
    CODE_TABLES,
    Channel,
    CodeSystem,
    Rating,
    RatingKind,
    RatingLevel,
    from_code,
    to_code,
)
from ledger.domain.rules import (
    EvidenceRequired,
    InvalidRating,
    NotInDepartmentScope,
    RatingAlreadyGiven,
    RatingNotDisputable,
    RatingNotOfCase,
    RatingReasonRequired,
    RectificationNotOpen,
)
from ledger.domain.sealed import SealedKind, SealedRecord
from ledger.services.application import KeyNotUsable
from ledger.services.domain_services import RatingService, UnknownRecord
from tests.ledger.domain_world import ISSUER, USER, OwnCase, World, at


def _rate(
    world: World,
    case: OwnCase,
    code: int = 1,
    system: CodeSystem = CodeSystem.GBT_39046,
    reason: str = "",
    day: str = "2025-09-30",
    service: RatingService | None = None,
    applicant: UUID | None = None,
) -> Rating:
    """Rate ``case`` through the portal, as its own applicant unless ``applicant`` is given."""
    return (service or world.ratings).rate(
        signer=world.portal,
        case_id=case.id,
        case_serial=case.serial,
        department=ISSUER,
        applicant_id=applicant or case.applicant,
        system=system,
        code=code,
        channel=Channel.MOBILE,
        reason=reason,
        at=at(day),
    )


# --- code systems (GB/T 39046 vs the national interface; FZ·22) -----------------------------------


def test_gbt_39046_and_the_national_interface_code_in_opposite_orders() -> None:
    assert from_code(CodeSystem.GBT_39046, 1) is RatingLevel.VERY_SATISFIED
    assert from_code(CodeSystem.GBT_39046, 5) is RatingLevel.VERY_DISSATISFIED
    assert from_code(CodeSystem.NATIONAL, 1) is RatingLevel.VERY_DISSATISFIED
    assert from_code(CodeSystem.NATIONAL, 5) is RatingLevel.VERY_SATISFIED
    assert from_code("gbt39046", 3) is from_code("national", 3) is RatingLevel.BASICALLY_SATISFIED


def test_fuzhou_has_four_levels_and_no_very_dissatisfied_FZ_22() -> None:
    assert list(CODE_TABLES[CodeSystem.FUZHOU].values()) == [
        RatingLevel.VERY_SATISFIED,
        RatingLevel.SATISFIED,
        RatingLevel.BASICALLY_SATISFIED,
        RatingLevel.DISSATISFIED,
    ]
    with pytest.raises(InvalidRating) as caught:
        to_code(CodeSystem.FUZHOU, RatingLevel.VERY_DISSATISFIED)
    assert caught.value.field == "level"
    with pytest.raises(InvalidRating):
        from_code(CodeSystem.FUZHOU, 5)


SYSTEM_CODES = st.sampled_from(
    [(system, code) for system, table in CODE_TABLES.items() for code in table]
)


@given(SYSTEM_CODES)
def test_code_to_level_to_code_round_trips(pair: tuple[CodeSystem, int]) -> None:
    system, code = pair
    assert to_code(system, from_code(system, code)) == code


@given(st.sampled_from(list(CodeSystem)), st.sampled_from(list(RatingLevel)))
def test_level_to_code_to_level_round_trips_where_representable(
    system: CodeSystem, level: RatingLevel
) -> None:
    if system is CodeSystem.FUZHOU and level is RatingLevel.VERY_DISSATISFIED:
        return
    assert from_code(system, to_code(system, level)) is level


@given(st.integers(min_value=1, max_value=5))
def test_a_national_code_is_six_minus_the_gbt_code(code: int) -> None:
    level = from_code(CodeSystem.GBT_39046, code)
    assert to_code(CodeSystem.NATIONAL, level) == 6 - code


@given(st.one_of(st.integers(), st.booleans(), st.text(max_size=3), st.none()))
def test_anything_but_a_listed_code_is_refused(code: object) -> None:
    for system, table in CODE_TABLES.items():
        if code in table and type(code) is int:
            continue
        with pytest.raises(InvalidRating):
            from_code(system, code)  # type: ignore[arg-type]


# --- rating a case (GZ20·16) ----------------------------------------------------------------------


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_rates_GZ20_16(world: World, channel: Channel) -> None:
    case = world.case()
    rating = world.ratings.rate(
        signer=world.kiosk if channel is Channel.KIOSK else world.portal,
        case_id=case.id,
        case_serial=case.serial,
        department=ISSUER,
        applicant_id=case.applicant,
        system=CodeSystem.NATIONAL,
        code=5,
        channel=channel,
        at=at("2025-09-30"),
    )
    entry = rating.entry()
    assert entry is not None
    assert (entry["channel"], entry["level"], entry["system"], entry["code"]) == (
        channel.value,
        "very_satisfied",
        "national",
        5,
    )
    assert world.verifies()


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CodeSystem.GBT_39046, 4),
        (CodeSystem.GBT_39046, 5),
        (CodeSystem.NATIONAL, 1),
        (CodeSystem.NATIONAL, 2),
        (CodeSystem.FUZHOU, 4),
    ],
)
def test_dissatisfied_and_worse_need_a_reason_GZ16_17_NH_17_PY_17_FZ_22(
    world: World, system: CodeSystem, code: int
) -> None:
    case = world.case()
    exc = world.refused(RatingReasonRequired, lambda: _rate(world, case, code, system, reason=" "))
    assert exc.field == "reason"  # type: ignore[attr-defined]
    assert exc.rule == "GZ16·17, NH·17, PY·17, FZ·22"  # type: ignore[attr-defined]


def test_one_first_rating_and_one_follow_up_per_case(world: World) -> None:
    case = world.case()
    _rate(world, case, 2)
    rating = _rate(world, case, 1, day="2025-10-09")
    assert rating.level(RatingKind.FOLLOW_UP) is RatingLevel.VERY_SATISFIED
    world.refused(RatingAlreadyGiven, lambda: _rate(world, case, 3))
    assert world.verifies()


def test_only_the_applicant_who_rated_follows_up(world: World) -> None:
    case = world.case()
    _rate(world, case, 2)
    other = world.applicant()
    exc = world.refused(RatingNotOfCase, lambda: _rate(world, case, 1, applicant=other))
    assert exc.field == "applicant_id"  # type: ignore[attr-defined]


def test_another_applicant_cannot_rate_someone_elses_case_GZ20_16_FZ_22_NH_25(
    world: World,
) -> None:
    """The regulator's finding: a rating of someone else's case was accepted. It is refused,
    citing the rule, and nothing is recorded: no rating exists for the case."""
    case = world.case()
    stranger = world.applicant()
    exc = world.refused(RatingNotOfCase, lambda: _rate(world, case, 5, "差", applicant=stranger))
    assert (exc.field, exc.rule, exc.code) == (  # type: ignore[attr-defined]
        "applicant_id",
        "GZ20·16, FZ·22, NH·25",
        "rating-not-of-case",
    )
    with pytest.raises(UnknownRecord):
        world.ratings.rating(case.id)
    assert _rate(world, case, 1).applicant_id == case.applicant  # its own applicant may


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("case_id", {"case_id": uuid4()}),
        ("case_serial", {"case_serial": "11440100MB2C92400X-20250929-0000999"}),
        ("department", {"department": USER}),
    ],
)
def test_a_rating_names_an_existing_case_with_its_serial_and_department_FZ_22(
    world: World, field: str, change: dict[str, Any]
) -> None:
    """Ratings feed the department's assessment (FZ·22): an unknown case, or another serial or
    department than the case's, is refused naming the field."""
    case = world.case()
    fields: dict[str, Any] = {
        "case_id": case.id,
        "case_serial": case.serial,
        "department": ISSUER,
        "applicant_id": case.applicant,
    }
    exc = world.refused(
        RatingNotOfCase,
        lambda: world.ratings.rate(
            signer=world.portal,
            system="gbt39046",
            code=1,
            channel="pc",
            at=at("2025-09-30"),
            **(fields | change),
        ),
    )
    assert exc.field == field  # type: ignore[attr-defined]


def test_departments_do_not_rate_themselves(world: World) -> None:
    world.refused(
        KeyNotUsable,
        lambda: world.ratings.rate(
            signer=world.issuer,
            case_id=uuid4(),
            case_serial="GZ-1",
            department=ISSUER,
            applicant_id=uuid4(),
            system="gbt39046",
            code=1,
            channel="pc",
            at=at("2025-09-30"),
        ),
    )


# --- callback and rectification (FZ·22) -----------------------------------------------------------


def test_a_bad_rating_opens_a_rectification_due_in_5_working_days_over_national_day(
    world: World,
) -> None:
    rating = _rate(world, world.case(), 5, reason="多次往返", day="2025-09-30")
    entry = rating.entry()
    assert entry is not None
    due = add_working_days(dt.date(2025, 9, 30), 5)
    assert entry["rectification_due"] == due == dt.date(2025, 10, 14)
    assert not rating.is_rectification_overdue(due)
    assert rating.is_rectification_overdue(due + dt.timedelta(days=1))
    assert _rate(world, world.case(), 1).entry()["rectification_due"] is None  # type: ignore[index]


def test_the_rectification_deadline_is_configurable(world: World) -> None:
    service = RatingService(world.app, rectification_days=15)
    rating = _rate(world, world.case(), 4, reason="等候时间长", service=service)
    entry = rating.entry()
    assert entry is not None
    assert entry["rectification_due"] == add_working_days(dt.date(2025, 9, 30), 15)


def test_callback_then_sealed_rectification_report_FZ_22(world: World) -> None:
    case = world.case()
    case_id = case.id
    _rate(world, case, 5, reason="多次往返")
    world.refused(
        RectificationNotOpen,
        lambda: world.ratings.rectify(
            case_id,
            signer=world.issuer,
            department=ISSUER,
            kind="first",
            measures="x",
            at=at("2025-10-09"),
        ),
    )
    world.ratings.record_callback(
        case_id,
        signer=world.issuer,
        department=ISSUER,
        kind="first",
        note="已电话回访",
        at=at("2025-10-09"),
    )
    world.ratings.rectify(
        case_id,
        signer=world.issuer,
        department=ISSUER,
        kind="first",
        measures="实行一次性告知，培训窗口人员",
        at=at("2025-10-15"),
    )
    rating = world.ratings.rating(case_id)
    assert rating.state_of("first") == "rectified"
    assert not rating.is_rectification_overdue(dt.date(2025, 10, 20))
    events = list(world.app.events.get(rating.id))
    rectified: Any = events[-1]
    assert rectified.late is True  # due 14 Oct, rectified 15 Oct
    report = rectified.report
    assert report["kind"] == SealedKind.RECTIFICATION_REPORT.value
    assert verify_sealed(SealedRecord.from_dict(report), world.issuer.public_key)
    world.refused(
        RectificationNotOpen,
        lambda: world.ratings.record_callback(
            case_id,
            signer=world.issuer,
            department=ISSUER,
            kind="first",
            note="again",
            at=at("2025-10-16"),
        ),
    )
    assert world.verifies()


# --- disputes (NH·17) -----------------------------------------------------------------------------


def test_the_rated_department_disputes_with_evidence_NH_17(world: World) -> None:
    case = world.case()
    case_id = case.id
    _rate(world, case, 5, reason="未办理")
    exc = world.refused(
        EvidenceRequired,
        lambda: world.ratings.dispute(
            case_id,
            signer=world.issuer,
            department=ISSUER,
            kind="first",
            reasons="已办结",
            evidence=[],
            at=at("2025-10-09"),
        ),
    )
    assert "NH·17" in exc.rule  # type: ignore[attr-defined]
    world.refused(
        NotInDepartmentScope,
        lambda: world.ratings.dispute(
            case_id,
            signer=world.user,
            department=ISSUER,
            kind="first",
            reasons="x",
            evidence=["y"],
            at=at("2025-10-09"),
        ),
    )
    world.refused(
        InvalidRating,
        lambda: world.ratings.dispute(
            case_id,
            signer=world.user,
            department=USER,
            kind="first",
            reasons="x",
            evidence=["y"],
            at=at("2025-10-09"),
        ),
    )


def test_an_upheld_dispute_removes_the_rating_from_statistics_but_not_the_chain_NH_17(
    world: World,
) -> None:
    case = world.case()
    case_id = case.id
    _rate(world, case, 5, reason="未办理")
    world.ratings.dispute(
        case_id,
        signer=world.issuer,
        department=ISSUER,
        kind="first",
        reasons="系统记录显示已当场办结",
        evidence=["receipt:GZ-2025-0001"],
        at=at("2025-10-09"),
    )
    world.refused(
        RatingNotDisputable,
        lambda: world.ratings.dispute(
            case_id,
            signer=world.issuer,
            department=ISSUER,
            kind="first",
            reasons="again",
            evidence=["z"],
            at=at("2025-10-09"),
        ),
    )
    world.refused(
        KeyNotUsable,
        lambda: world.ratings.decide_dispute(
            case_id,
            signer=world.issuer,
            kind="first",
            upheld=True,
            reasons="x",
            at=at("2025-10-10"),
        ),
    )
    world.ratings.decide_dispute(
        case_id,
        signer=world.supervisor,
        kind="first",
        upheld=True,
        reasons="评价与事实不符",
        at=at("2025-10-10"),
    )
    rating = world.ratings.rating(case_id)
    assert not rating.counts_in_statistics() and rating.is_untrue()
    assert rating.level() is RatingLevel.VERY_DISSATISFIED  # still in the chain
    assert not rating.is_rectification_overdue(dt.date(2025, 12, 31))
    assert [type(e).__name__ for e in world.app.events.get(rating.id)] == [
        "Rated",
        "Disputed",
        "DisputeDecided",
    ]
    assert world.verifies()


def test_a_rejected_dispute_keeps_the_rating_in_statistics(world: World) -> None:
    case = world.case()
    case_id = case.id
    _rate(world, case, 4, reason="态度差")
    world.ratings.dispute(
        case_id,
        signer=world.issuer,
        department=ISSUER,
        kind="first",
        reasons="x",
        evidence=["y"],
        at=at("2025-10-09"),
    )
    world.ratings.decide_dispute(
        case_id,
        signer=world.supervisor,
        kind="first",
        upheld=False,
        reasons="z",
        at=at("2025-10-10"),
    )
    assert world.ratings.rating(case_id).counts_in_statistics()


def test_a_good_rating_is_not_disputed(world: World) -> None:
    case = world.case()
    case_id = case.id
    _rate(world, case, 1)
    world.refused(
        RatingNotDisputable,
        lambda: world.ratings.dispute(
            case_id,
            signer=world.issuer,
            department=ISSUER,
            kind="first",
            reasons="x",
            evidence=["y"],
            at=at("2025-10-09"),
        ),
    )
