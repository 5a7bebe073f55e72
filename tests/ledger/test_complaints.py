"""Consultations and complaints (咨询投诉, 12345): RULES.md "Consultations and complaints"
(GZ20·8, GZ16·8, NH·8, FZ·9), one test per rule; deadlines over National Day."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import uuid4

import pytest

from ledger.chain.seals import verify_sealed
from ledger.domain.calendar import add_working_days
from ledger.domain.complaints import AnswerLimits, Consultation, ConsultationKind
from ledger.domain.rules import ConsultationNotOpen, InvalidConsultation, NotInDepartmentScope
from ledger.domain.sealed import SealedKind
from ledger.services.domain_services import ConsultationService
from tests.ledger.domain_world import ISSUER, USER, World, at


def _receive(
    world: World,
    kind: ConsultationKind = ConsultationKind.COMPLAINT,
    day: str = "2025-09-30",
    service: ConsultationService | None = None,
) -> Consultation:
    return (service or world.consultations).receive(
        signer=world.portal,
        kind=kind,
        channel="hotline_12345",
        department=ISSUER,
        applicant_id=uuid4(),
        summary="窗口要求重复提交营业执照复印件",
        at=at(day),
        case_serial="GZ-2025-0001",
    )


@pytest.mark.parametrize(
    ("kind", "days", "due"),
    [
        (ConsultationKind.ENQUIRY, 3, dt.date(2025, 10, 11)),
        (ConsultationKind.COMPLAINT, 13, dt.date(2025, 10, 24)),
        (ConsultationKind.SUGGESTION, 13, dt.date(2025, 10, 24)),
    ],
)
def test_answer_limits_per_kind_default_to_3_and_13_working_days_GZ20_8_FZ_9(
    world: World, kind: ConsultationKind, days: int, due: dt.date
) -> None:
    consultation = _receive(world, kind)
    assert consultation.due == add_working_days(dt.date(2025, 9, 30), days) == due
    assert not consultation.is_overdue(due) and consultation.is_overdue(due + dt.timedelta(1))


def test_answer_limits_are_configurable_per_city(world: World) -> None:
    service = ConsultationService(world.app, limits=AnswerLimits(enquiry=1, complaint=5))
    assert _receive(world, ConsultationKind.ENQUIRY, service=service).limit_days == 1
    assert _receive(world, ConsultationKind.COMPLAINT, service=service).due == add_working_days(
        dt.date(2025, 9, 30), 5
    )
    with pytest.raises(InvalidConsultation) as caught:
        AnswerLimits(enquiry=0)
    assert caught.value.field == "limits.enquiry"


def test_the_department_answers_signed_and_on_time_GZ16_8_NH_8(world: World) -> None:
    consultation = _receive(world, ConsultationKind.ENQUIRY)
    record = world.consultations.answer(
        consultation.id,
        signer=world.issuer,
        department=ISSUER,
        answer="已通过电子证照共享获取，无需重复提交",
        at=at("2025-10-10"),
    )
    assert record.kind is SealedKind.CONSULTATION_ANSWER
    assert verify_sealed(record, world.issuer.public_key)
    stored = world.consultations.consultation(consultation.id)
    assert not stored.answered_late and not stored.is_overdue(dt.date(2025, 12, 1))
    world.refused(
        ConsultationNotOpen,
        lambda: world.consultations.answer(
            consultation.id, signer=world.issuer, department=ISSUER, answer="x", at=at("2025-10-11")
        ),
    )
    assert world.verifies()


def test_a_late_answer_is_recorded_as_late_FZ_9(world: World) -> None:
    consultation = _receive(world, ConsultationKind.ENQUIRY)
    assert consultation.is_overdue(dt.date(2025, 10, 13))
    world.consultations.answer(
        consultation.id, signer=world.issuer, department=ISSUER, answer="答复", at=at("2025-10-13")
    )
    stored = world.consultations.consultation(consultation.id)
    assert stored.answered_late and not stored.is_overdue(dt.date(2025, 10, 13))
    event: Any = list(world.app.events.get(consultation.id))[-1]
    assert event.late is True


def test_only_the_addressed_department_answers(world: World) -> None:
    consultation = _receive(world)
    world.refused(
        NotInDepartmentScope,
        lambda: world.consultations.answer(
            consultation.id, signer=world.user, department=ISSUER, answer="x", at=at("2025-10-09")
        ),
    )
    world.refused(
        InvalidConsultation,
        lambda: world.consultations.answer(
            consultation.id, signer=world.user, department=USER, answer="x", at=at("2025-10-09")
        ),
    )


def test_an_untrue_complaint_is_found_after_its_answer_and_once_NH_25(world: World) -> None:
    complaint = _receive(world)
    finding: dict[str, Any] = {
        "signer": world.issuer,
        "department": ISSUER,
        "reasons": "监控显示窗口已一次性告知",
        "evidence": ["video:20250930"],
        "at": at("2025-10-10"),
    }
    world.refused(
        ConsultationNotOpen, lambda: world.consultations.find_untrue(complaint.id, **finding)
    )
    world.consultations.answer(
        complaint.id,
        signer=world.issuer,
        department=ISSUER,
        answer="经核查不属实",
        at=at("2025-10-09"),
    )
    world.consultations.find_untrue(complaint.id, **finding)
    assert world.consultations.consultation(complaint.id).untrue
    world.refused(
        ConsultationNotOpen, lambda: world.consultations.find_untrue(complaint.id, **finding)
    )
    enquiry = _receive(world, ConsultationKind.ENQUIRY)
    world.consultations.answer(
        enquiry.id, signer=world.issuer, department=ISSUER, answer="答复", at=at("2025-10-09")
    )
    world.refused(
        InvalidConsultation, lambda: world.consultations.find_untrue(enquiry.id, **finding)
    )
    assert world.verifies()


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("kind", {"kind": "praise"}),
        ("channel", {"channel": "fax"}),
        ("summary", {"summary": ""}),
        ("at", {"at": dt.datetime(2025, 9, 30, 10)}),
        ("department", {"department": "gz"}),
    ],
)
def test_malformed_consultations_are_refused_naming_the_field(
    world: World, field: str, changes: dict[str, object]
) -> None:
    arguments: dict[str, object] = {
        "signer": world.portal,
        "kind": "complaint",
        "channel": "online",
        "department": ISSUER,
        "applicant_id": None,
        "summary": "咨询",
        "at": at("2025-09-30"),
        **changes,
    }
    exc = world.refused(
        InvalidConsultation,
        lambda: world.consultations.receive(**arguments),  # type: ignore[arg-type]
    )
    assert exc.field == field  # type: ignore[attr-defined]
