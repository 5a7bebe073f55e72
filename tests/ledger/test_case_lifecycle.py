"""The case lifecycle: one test per rule of RULES.md "Case lifecycle" and "Time", the happy path
end to end on SQLite and PostgreSQL, deemed acceptance, special-procedure pauses and idempotent
retries. Every refusal is checked to record nothing (the chain head does not move)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.seals import verify_document
from ledger.chain.verification import verify_chain
from ledger.domain.calendar import deadline
from ledger.domain.cases import CaseState, SubmittedMaterial
from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.documents import DocumentKind, SignedDocument
from ledger.domain.personal_data import ERASED, Sealed
from ledger.domain.rules import (
    AuthenticationTooLow,
    BlacklistedApplicant,
    CaseNotClosable,
    ChannelNotOffered,
    CorrectionNoticeOverdue,
    CorrectionOutsideGuide,
    DecisionNotSealed,
    DeemedAcceptanceNotDue,
    FeeNotInGuide,
    FeeNotPaid,
    InvalidApplicant,
    InvalidCaseStep,
    InvalidMaterial,
    InvalidSerial,
    InvalidTransition,
    MaterialNotInGuide,
    NotInDepartmentScope,
    ReasonRequired,
    RequiredMaterialsMissing,
    SecondCorrectionRequest,
    StepOutOfOrder,
)
from ledger.domain.serials import serial_number
from ledger.encoding import canonical
from ledger.errors import RuleViolation
from ledger.services.application import KeyNotUsable
from ledger.services.cases import CaseNotFound
from ledger.services.idempotency import IdempotencyKeyReused
from tests.ledger.case_world import ISSUER, World, build_world, opened_world, shanghai

ACCEPTED_ON = dt.date(2026, 9, 28)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with opened_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path) as w:
        yield w


CERTIFICATE = make_certificate_id(ISSUER + "001", ISSUER, "2026000123", 1)
"""The food licence's e-certificate (the guide's result is a certificate, GZ16·15)."""


def refused(world: World, error: type[RuleViolation], action: Callable[[], Any]) -> RuleViolation:
    """Run ``action``, expect ``error``, and check that nothing was recorded."""
    head = world.head()
    with pytest.raises(error) as caught:
        action()
    assert world.head() == head, "a refused command recorded something"
    return caught.value


def _accepted_at_window(world: World) -> str:
    """A food case submitted and accepted at the window; its serial."""
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    return serial


def document(outcome: Any) -> SignedDocument:
    assert outcome.document is not None
    return outcome.document  # type: ignore[no-any-return]


# --- the happy path, on every backend -------------------------------------------------------------


def test_happy_path_submit_to_close_on_each_backend(storage_url: str, tmp_path: Path) -> None:
    world = build_world(storage_url, tmp_path)
    try:
        w, cases, food = world, world.cases, world.food
        serial = w.submit_food().serial
        w.clock.set(dt.date(2026, 9, 29))
        cases.pass_pre_review(serial, signer=food)
        cases.record_material_delivery(serial, "courier", waybill="SF1234567890", signer=food)
        accepted = cases.accept(serial, signer=food)
        w.clock.set(dt.date(2026, 10, 20))
        approval = cases.approve(serial, signer=food)
        result = cases.issue_result_document(serial, signer=food)
        cases.record_certificate(serial, CERTIFICATE, signer=food)
        w.clock.set(dt.date(2026, 10, 21))
        cases.dispatch(serial, "online", signer=food)
        delivered = cases.sign_off(serial, signer=w.portal)
        closed = cases.close(serial, signer=food)

        assert closed.state is CaseState.CLOSED
        kinds = [d.kind for d in cases.documents(serial)]
        assert kinds == [
            DocumentKind.APPLICATION_RECEIPT,
            DocumentKind.ACCEPTANCE_RECEIPT,
            DocumentKind.APPROVAL_DECISION,
            DocumentKind.RESULT_DOCUMENT,
            DocumentKind.DELIVERY_RECEIPT,
        ]
        for outcome in (accepted, approval, result, delivered):
            assert verify_document(document(outcome), food.public_key)
        case = cases.case(serial)
        assert (case.accepted_on, case.due, case.decided_on) == (
            dt.date(2026, 9, 29),
            dt.date(2026, 11, 2),
            dt.date(2026, 10, 20),
        )
        assert document(approval).body["on_time"] is True
        assert verify_chain(w.ledger.chain).ok
    finally:
        world.ledger.close()


def test_case_replays_from_the_ledger_with_canonical_events(world: World) -> None:
    serial = world.submit_food().serial
    world.to_accepted(serial)
    case = world.case(serial)
    for stored in world.ledger.events.get(case.id):  # type: ignore[attr-defined]
        assert canonical(dict(vars(stored)))
    assert (case.state, case.version) == (CaseState.ACCEPTED, 4)


# --- 2. submission (GZ20·10, GZ16·14, FZ·11, GZ16·22, FZ·8) ---------------------------------


def test_materials_may_be_e_certificates_signed_files_copies_or_paper_GZ20_10(
    world: World,
) -> None:
    signed = world.cases.upload(b"%PDF-1.7\nsigned application\n%%EOF", "application/pdf")
    materials = [
        SubmittedMaterial.e_signed("APPLICATION", signed.sha256, signed.size, signed.media_type),
        world.licence(),
        world.copy("FLOOR-PLAN"),
        SubmittedMaterial.paper("ORIGINAL", "SF1234567890"),
    ]
    case = world.case(world.submit_food(materials).serial)
    forms = {code: m["form"] for code, m in case.materials.items()}
    assert forms == {
        "APPLICATION": "e_signed",
        "LICENCE": "e_certificate",
        "FLOOR-PLAN": "e_copy",
        "ORIGINAL": "paper",
    }
    assert case.materials["APPLICATION"]["sha256"] == signed.sha256  # the hash, never the bytes


def test_material_not_in_the_guide_is_refused_GZ16_14(world: World) -> None:
    extra = [*world.full_food_materials(), world.copy("HOUSEHOLD-REGISTER")]
    error = refused(world, MaterialNotInGuide, lambda: world.submit_food(extra))
    assert error.rule.startswith("GZ16·14")


def test_e_certificate_of_a_type_the_guide_does_not_accept_is_refused_GZ16_14(
    world: World,
) -> None:
    cert = make_certificate_id(ISSUER + "009", ISSUER, "77", 1)
    materials = [
        *world.full_food_materials()[:1],
        SubmittedMaterial.e_certificate("LICENCE", cert, "驾驶证"),
    ]
    refused(world, MaterialNotInGuide, lambda: world.submit_food(materials))


def test_copy_that_was_not_uploaded_is_refused_GZ20_10(world: World) -> None:
    phantom = SubmittedMaterial.e_copy("APPLICATION", b"\x01" * 32, 10, "application/pdf")
    refused(world, InvalidMaterial, lambda: world.submit_food([phantom]))


def test_the_one_copy_not_uploaded_among_uploaded_ones_is_named_GZ20_10(world: World) -> None:
    """All of a submission's copies are looked up at once; the refusal names the material
    whose copy the store lacks, not another, and nothing is recorded."""
    phantom = SubmittedMaterial.e_copy("FLOOR-PLAN", b"\x02" * 32, 10, "application/pdf")
    materials = [m if m.code != "FLOOR-PLAN" else phantom for m in world.full_food_materials()]
    caught = refused(world, InvalidMaterial, lambda: world.submit_food(materials))
    assert caught.field == "materials[FLOOR-PLAN].sha256"


def test_channel_or_handling_mode_the_guide_does_not_offer_is_refused_GZ20_10(
    world: World,
) -> None:
    refused(
        world,
        ChannelNotOffered,
        lambda: world.submit_food([world.licence()], handling_mode="full_online"),
    )
    window_only = [*world.full_food_materials()[:2], world.copy("ORIGINAL")]
    refused(world, ChannelNotOffered, lambda: world.submit_food(window_only))


def test_signer_must_match_the_channel(world: World) -> None:
    with pytest.raises(KeyNotUsable):
        world.submit_food(channel="kiosk", signer=world.portal)
    assert world.submit_food(channel="kiosk", signer=world.kiosk).state is CaseState.SUBMITTED


def test_online_application_needs_advanced_authentication_FZ_8(world: World) -> None:
    """Real-name authentication before applying online (GZ16·7, NH·7, NH·24, PY·7, FZ·8): a
    basic-level account may not apply online; at the window the department authenticates."""
    error = refused(
        world,
        AuthenticationTooLow,
        lambda: world.submit_food([world.licence()], applicant=world.basic_person),
    )
    assert error.rule == "FZ·8"
    at_window = world.submit_food(channel="window", applicant=world.basic_person)
    assert at_window.state is CaseState.SUBMITTED


def test_blacklisted_applicant_cannot_apply_online_GZ16_22(world: World) -> None:
    world.blacklisted.add(world.enterprise.id)
    error = refused(world, BlacklistedApplicant, lambda: world.submit_food())
    assert "12345" in str(error) and "GZ16·22" in error.rule
    assert world.submit_food(channel="window").state is CaseState.SUBMITTED


def test_erased_applicant_cannot_apply(world: World) -> None:
    world.enterprise.erase("申请人要求删除")
    world.ledger.save_signed(world.enterprise, signer=world.platform)
    world.vault.erase(world.enterprise.id)
    refused(world, RuleViolation, lambda: world.submit_food())


# --- 3. application receipt (GZ16·11, PY·11, NH·11) ----------------------------------------------


def test_application_receipt_is_issued_at_once_with_serial_and_approval_code_GZ16_11_NH_11(
    world: World,
) -> None:
    outcome = world.submit_food(delivery="courier")
    receipt = document(outcome)
    assert receipt.kind is DocumentKind.APPLICATION_RECEIPT
    assert receipt.serial == outcome.serial == "GZ-SCJG-20260928-000001E"
    assert verify_document(receipt, world.food.public_key)
    body = receipt.body
    assert body["approval_code"] == outcome.approval_code
    assert body["applicant"] == world.enterprise.id
    assert (body["item_name"], body["department"]) == ("食品经营许可", "GZ-SCJG")
    assert [m["code"] for m in body["materials"]] == [
        "APPLICATION",
        "LICENCE",
        "FLOOR-PLAN",
        "ORIGINAL",
    ]
    assert body["handling_mode"] == "online_pre_acceptance" and body["location"]
    assert body["pre_review_due"] == dt.date(2026, 10, 10)  # National Day off, Saturday 调休
    assert body["mailing_address"]["sealed"]  # the courier address, sealed
    second = world.submit_food()
    assert second.serial.startswith("GZ-SCJG-20260928-000002")


def test_case_events_and_receipts_hold_no_personal_data_invariant_5(world: World) -> None:
    serial = world.submit_food(delivery="courier", mailing_address="广州市越秀区北京路88号").serial
    case = world.case(serial)
    data = b"".join(canonical(dict(vars(e))) for e in world.ledger.events.get(case.id))  # type: ignore[attr-defined]
    for clear in ("广州某某餐饮", "北京路", "天河路", "914403001922038216", "13800138000"):
        assert clear.encode() not in data
    sealed = case.mailing_address
    assert sealed is not None
    world.vault.erase(world.enterprise.id)
    assert world.vault.open(Sealed(world.enterprise.id, "mailing_address", sealed)) is ERASED


def test_case_is_found_by_its_serial_number_GZ16_13(world: World) -> None:
    serial = world.submit_food().serial
    assert world.cases.case(serial).serial == serial
    with pytest.raises(InvalidSerial):
        world.cases.case(serial[:-1] + ("0" if serial[-1] != "0" else "1"))
    with pytest.raises(CaseNotFound):
        world.cases.case(serial_number("GZ-SCJG", dt.date(2026, 9, 28), 99))


# --- 5. correction: one notice, only the guide's materials (GZ20·11, FZ·15, GZ16·14, ALL·32) ---


def test_correction_request_lists_every_defective_material_in_one_notice_GZ20_11(
    world: World,
) -> None:
    """Pre-review finds every defect and tells them in ONE notice (NH·12, GZ20·11)."""
    serial = world.submit_food(world.full_food_materials()[:3]).serial
    notice = document(
        world.cases.request_correction(
            serial,
            {"ORIGINAL": "缺少承诺书原件", "FLOOR-PLAN": "未标注清洗区"},
            signer=world.food,
        )
    )
    assert notice.kind is DocumentKind.CORRECTION_NOTICE
    assert [(m["code"], m["reason"]) for m in notice.body["materials"]] == [
        ("FLOOR-PLAN", "未标注清洗区"),
        ("ORIGINAL", "缺少承诺书原件"),
    ]
    assert notice.body["one_time_notice"] is True
    assert verify_document(notice, world.food.public_key)


def test_correction_request_for_material_outside_guide_is_refused_GZ16_14(world: World) -> None:
    serial = world.submit_food().serial
    error = refused(
        world,
        CorrectionOutsideGuide,
        lambda: world.cases.request_correction(
            serial, {"FLOOR-PLAN": "不清晰", "BIRTH-CERT": "出生证明"}, signer=world.food
        ),
    )
    # Only materials in the guide (GZ16·14), trust first (GZ16·4), Panyu likewise (PY·14).
    assert "BIRTH-CERT" in str(error) and error.rule == "GZ16·14, GZ16·4, PY·14"


def test_correction_request_states_a_reason_per_material_GZ20_11(world: World) -> None:
    serial = world.submit_food().serial
    refused(
        world, ReasonRequired, lambda: world.cases.request_correction(serial, {}, signer=world.food)
    )
    refused(
        world,
        ReasonRequired,
        lambda: world.cases.request_correction(serial, {"FLOOR-PLAN": " "}, signer=world.food),
    )


def _corrected(world: World) -> str:
    serial = world.submit_food().serial
    world.cases.request_correction(serial, {"FLOOR-PLAN": "未标注清洗区"}, signer=world.food)
    world.cases.correct(
        serial, world.enterprise.id, [world.copy("FLOOR-PLAN", "v2")], signer=world.portal
    )
    return serial


def test_second_correction_request_is_refused_GZ20_11_FZ_15(world: World) -> None:
    serial = _corrected(world)
    error = refused(
        world,
        SecondCorrectionRequest,
        lambda: world.cases.request_correction(
            serial, {"APPLICATION": "签字不清"}, signer=world.food
        ),
    )
    assert error.rule == "GZ20·11, FZ·15"


def test_second_request_only_for_materials_the_correction_changed_is_recorded_GZ20_11(
    world: World,
) -> None:
    serial = _corrected(world)
    notice = document(
        world.cases.request_correction(serial, {"FLOOR-PLAN": "补正后仍不清晰"}, signer=world.food)
    )
    assert notice.body["one_time_notice"] is False and notice.body["round"] == 2
    case = world.case(serial)
    assert case.one_time_notice_breaches == 1
    assert [c["repeat"] for c in case.corrections] == [False, True]


def test_correction_supplies_every_material_the_notice_asked_for_FZ_15(world: World) -> None:
    serial = world.submit_food().serial
    world.cases.request_correction(
        serial, {"FLOOR-PLAN": "未标注", "APPLICATION": "未签字"}, signer=world.food
    )
    refused(
        world,
        RequiredMaterialsMissing,
        lambda: world.cases.correct(
            serial, world.enterprise.id, [world.copy("FLOOR-PLAN", "v2")], signer=world.portal
        ),
    )
    refused(
        world,
        InvalidApplicant,
        lambda: world.cases.correct(
            serial, world.person.id, [world.copy("FLOOR-PLAN", "v2")], signer=world.portal
        ),
    )


def test_correction_notice_after_5_working_days_is_refused_ALL_32(world: World) -> None:
    serial = world.submit_food().serial  # the 5th working day: Saturday 10-10 (调休)
    world.clock.set(dt.date(2026, 10, 12))
    error = refused(
        world,
        CorrectionNoticeOverdue,
        lambda: world.cases.request_correction(serial, {"FLOOR-PLAN": "x"}, signer=world.food),
    )
    assert error.rule == "ALL·32"


def test_correction_notice_on_the_5th_working_day_is_in_time_ALL_32(world: World) -> None:
    serial = world.submit_food().serial
    world.clock.set(dt.date(2026, 10, 10), hour=17)
    outcome = world.cases.request_correction(serial, {"FLOOR-PLAN": "x"}, signer=world.food)
    assert outcome.state is CaseState.CORRECTION_REQUESTED


# --- 6–7. material delivery, acceptance (NH·13, NH·14, FZ·15, GZ16·12) -----------------------


def test_paper_materials_are_delivered_before_acceptance_NH_13(world: World) -> None:
    serial = world.submit_food().serial
    world.cases.pass_pre_review(serial, signer=world.food)
    refused(world, RequiredMaterialsMissing, lambda: world.cases.accept(serial, signer=world.food))
    world.cases.record_material_delivery(serial, "on_site", signer=world.food)
    assert world.cases.accept(serial, signer=world.food).state is CaseState.ACCEPTED


def test_acceptance_with_a_required_material_missing_is_refused_GZ16_12(world: World) -> None:
    serial = world.submit_food([world.licence()], channel="window").serial
    error = refused(
        world, RequiredMaterialsMissing, lambda: world.cases.accept(serial, signer=world.food)
    )
    assert "APPLICATION" in str(error)


def test_acceptance_receipt_starts_the_time_limit_NH_14(world: World) -> None:
    serial = world.submit_food(channel="window").serial  # 2026-09-28, materials handed over
    receipt = document(world.cases.accept(serial, signer=world.food))
    assert receipt.kind is DocumentKind.ACCEPTANCE_RECEIPT
    assert (receipt.body["accepted_on"], receipt.body["due"]) == (
        ACCEPTED_ON,
        dt.date(2026, 10, 30),
    )
    assert receipt.body["deemed"] is False and receipt.body["due_provisional"] is False


def test_non_acceptance_and_return_state_their_reasons_GZ16_12(world: World) -> None:
    first, second = world.submit_food().serial, world.submit_food().serial
    for command in (world.cases.not_accept, world.cases.return_case):
        refused(world, ReasonRequired, lambda c=command: c(first, [], signer=world.food))
        refused(world, ReasonRequired, lambda c=command: c(first, [""], signer=world.food))
    notice = document(world.cases.not_accept(first, ["不属于本机关职权范围"], signer=world.food))
    assert notice.kind is DocumentKind.NON_ACCEPTANCE_NOTICE
    assert notice.body["reasons"] == ["不属于本机关职权范围"]
    returned = world.cases.return_case(second, ["逾期未补正"], signer=world.food)
    assert returned.state is CaseState.RETURNED
    assert document(returned).kind is DocumentKind.RETURN_NOTICE


# --- ALL·32 deemed acceptance -------------------------------------------------------------------


def test_deemed_acceptance_after_5_working_days_without_findings_ALL_32(world: World) -> None:
    serial = world.submit_food().serial  # 5th working day: Saturday 10-10 (调休)
    world.clock.set(dt.date(2026, 10, 10), hour=17)
    error = refused(
        world,
        DeemedAcceptanceNotDue,
        lambda: world.cases.deem_accepted(serial, signer=world.platform),
    )
    assert error.rule == "ALL·32"
    world.clock.set(dt.date(2026, 10, 13))
    receipt = document(world.cases.deem_accepted(serial, signer=world.platform))
    case = world.case(serial)
    assert case.state is CaseState.ACCEPTED and case.deemed_accepted
    assert case.accepted_on == case.submitted_on == ACCEPTED_ON  # 自收到申请材料之日起
    assert receipt.body["accepted_on"] == ACCEPTED_ON
    assert receipt.body["deemed"] is True and receipt.body["basis"] == "ALL·32"
    assert verify_document(receipt, world.food.public_key)  # the department's seal still


def test_deemed_acceptance_counts_from_the_day_the_materials_were_received_ALL_32(
    world: World,
) -> None:
    serial = world.submit_food().serial
    world.clock.set(dt.date(2026, 10, 13))
    world.cases.deem_accepted(serial, signer=world.platform)
    case = world.case(serial)
    assert case.due == deadline(case.submitted_on, case.promised_limit_days).due
    assert case.accepted_on is not None and case.accepted_on < case.pre_review_due


def test_late_acceptance_counts_from_the_submission_date_ALL_32(world: World) -> None:
    serial = world.submit_food(channel="window").serial
    world.clock.set(dt.date(2026, 10, 20))
    world.cases.accept(serial, signer=world.food)
    case = world.case(serial)
    assert case.accepted_on == ACCEPTED_ON and case.deemed_accepted


def test_deemed_acceptance_is_not_for_cases_with_findings_ALL_32(world: World) -> None:
    serial = world.submit_food().serial
    world.cases.request_correction(serial, {"FLOOR-PLAN": "x"}, signer=world.food)
    world.clock.set(dt.date(2026, 10, 20))
    refused(
        world, InvalidTransition, lambda: world.cases.deem_accepted(serial, signer=world.platform)
    )


# --- 8. special procedures (NH·15, ALL·45) ------------------------------------------------------


def test_special_procedure_pauses_the_time_limit_NH_15_ALL_45(world: World) -> None:
    """The site survey, an offline step, is recorded in the platform with its written notice
    and period (FZ·17), and its days do not count toward the time limit (NH·15, ALL·45)."""
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)  # 2026-09-28 + 20 working days = 2026-10-30
    world.clock.set(dt.date(2026, 10, 12))
    notice = document(
        world.cases.start_special_procedure(serial, "site_survey", 5, signer=world.food)
    )
    assert notice.kind is DocumentKind.SPECIAL_PROCEDURE_NOTICE
    assert notice.body["period"] == {
        "working_days": 5,
        "from": dt.date(2026, 10, 12),
        "expected_end": dt.date(2026, 10, 16),
    }
    world.clock.set(dt.date(2026, 10, 16), hour=16)
    world.cases.end_special_procedure(serial, "现场踏勘合格", signer=world.food)
    case = world.case(serial)
    assert case.pauses == [(dt.date(2026, 10, 12), dt.date(2026, 10, 16))]
    assert case.due == dt.date(2026, 11, 6)


# --- 9. fees (FZ·18) ----------------------------------------------------------------------------


def test_fee_is_the_guides_and_is_paid_before_approval_FZ_18(world: World) -> None:
    serial = world.submit_card().serial
    world.cases.accept(serial, signer=world.card)
    refused(
        world,
        FeeNotInGuide,
        lambda: world.cases.assess_fee(serial, Decimal("25"), signer=world.card),
    )
    world.cases.assess_fee(serial, Decimal("20.00"), signer=world.card)
    error = refused(world, FeeNotPaid, lambda: world.cases.approve(serial, signer=world.card))
    assert error.rule == "FZ·18"
    refused(
        world,
        FeeNotPaid,
        lambda: world.cases.pay_fee(serial, "PAY-2026-0001", Decimal("2"), signer=world.platform),
    )
    world.cases.pay_fee(serial, "PAY-2026-0001", Decimal("20"), signer=world.platform)
    assert world.cases.approve(serial, signer=world.card).state is CaseState.APPROVED


def test_no_fee_is_assessed_for_a_free_item_FZ_18(world: World) -> None:
    serial = _accepted_at_window(world)
    refused(
        world,
        FeeNotInGuide,
        lambda: world.cases.assess_fee(serial, Decimal("1"), signer=world.food),
    )


# --- 10. decisions, e-sealed (GZ20·12, NH·15) -----------------------------------------------------


def test_decision_with_a_key_that_is_not_the_departments_seal_is_refused_GZ20_12(
    world: World,
) -> None:
    serial = _accepted_at_window(world)
    world.cases.seals = {"GZ-SCJG": world.card}.__getitem__  # the wrong department's key
    error = refused(
        world, DecisionNotSealed, lambda: world.cases.approve(serial, signer=world.food)
    )
    assert "GZ20·12" in error.rule


def test_disapproval_states_reasons_and_remedies_GZ16_12(world: World) -> None:
    serial = _accepted_at_window(world)
    refused(world, ReasonRequired, lambda: world.cases.disapprove(serial, [], signer=world.food))
    decision = document(
        world.cases.disapprove(serial, ["经营场所与申请材料不符"], signer=world.food)
    )
    assert decision.kind is DocumentKind.DISAPPROVAL_DECISION
    assert decision.body["reasons"] == ["经营场所与申请材料不符"] and decision.body["remedies"]


def test_department_key_acts_only_on_its_own_cases_GZ20_25(world: World) -> None:
    serial = world.submit_food(channel="window").serial
    error = refused(
        world, NotInDepartmentScope, lambda: world.cases.accept(serial, signer=world.card)
    )
    assert error.rule.startswith("GZ20·25")


# --- 11. result before closing (GZ16·15, NH·20, FZ·19) ----------------------------------------


def test_case_cannot_close_before_its_result_is_issued_GZ16_15_NH_20_FZ_19(world: World) -> None:
    serial = _accepted_at_window(world)
    world.cases.approve(serial, signer=world.food)
    error = refused(world, CaseNotClosable, lambda: world.cases.close(serial, signer=world.food))
    assert error.rule == "GZ16·15, NH·20, FZ·19"
    refused(
        world, CaseNotClosable, lambda: world.cases.dispatch(serial, "online", signer=world.food)
    )
    cert = make_certificate_id(ISSUER + "001", ISSUER, "SP2026000001", 1)
    assert (
        world.cases.record_certificate(serial, cert, signer=world.food).state
        is CaseState.RESULT_ISSUED
    )
    assert world.case(serial).certificate_ids == [cert]


def test_a_certificate_result_is_neither_dispatched_nor_closed_without_its_e_certificate_GZ16_15(
    world: World,
) -> None:
    """The regulator's finding: a case whose guide's result is an e-certificate was dispatched
    and closed with ``certificate_ids == []``. A result document alone no longer lets it go."""
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    world.cases.approve(serial, signer=world.food)
    world.cases.issue_result_document(serial, signer=world.food)
    assert world.case(serial).state is CaseState.RESULT_ISSUED
    error = refused(
        world, CaseNotClosable, lambda: world.cases.dispatch(serial, "online", signer=world.food)
    )
    assert (error.rule, error.code) == ("GZ16·15, NH·20, FZ·19", "case-not-closable")
    assert "e-certificate" in str(error) and serial in str(error)
    assert world.case(serial).certificate_ids == []
    world.cases.record_certificate(serial, CERTIFICATE, signer=world.food)
    world.cases.dispatch(serial, "online", signer=world.food)
    world.cases.sign_off(serial, signer=world.portal)
    assert world.cases.close(serial, signer=world.food).state is CaseState.CLOSED
    assert world.case(serial).certificate_ids == [CERTIFICATE]


def test_a_disapproval_is_delivered_and_closed_with_no_certificate_NH_20(world: World) -> None:
    """Only an approved certificate result waits for its e-certificate: a disapproval decision
    (不予批准决定书) is the whole result."""
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    world.cases.disapprove(serial, ["不符合法定条件"], signer=world.food)
    world.cases.dispatch(serial, "online", signer=world.food)
    world.cases.sign_off(serial, signer=world.portal)
    assert world.cases.close(serial, signer=world.food).state is CaseState.CLOSED


# --- 12. delivery (GZ20·15, NH·16, FZ·20) -------------------------------------------------------


def test_courier_delivery_carries_a_sealed_address_and_a_signed_off_receipt_GZ20_15(
    world: World,
) -> None:
    serial = world.submit_food(channel="window", delivery="courier").serial
    world.cases.accept(serial, signer=world.food)
    world.cases.approve(serial, signer=world.food)
    world.cases.issue_result_document(serial, signer=world.food)
    world.cases.record_certificate(serial, CERTIFICATE, signer=world.food)
    no_waybill = refused(
        world, InvalidCaseStep, lambda: world.cases.dispatch(serial, "courier", signer=world.food)
    )
    assert no_waybill.field == "waybill"  # type: ignore[attr-defined]
    world.cases.dispatch(serial, "courier", waybill="SF9876543210", signer=world.food)
    receipt = document(world.cases.sign_off(serial, "agent", signer=world.food))
    assert receipt.kind is DocumentKind.DELIVERY_RECEIPT
    assert (receipt.body["method"], receipt.body["recipient"], receipt.body["waybill"]) == (
        "courier",
        "agent",
        "SF9876543210",
    )


def test_public_notice_only_after_failed_delivery_and_counts_after_its_period_NH_16(
    world: World,
) -> None:
    serial = _accepted_at_window(world)
    world.cases.approve(serial, signer=world.food)
    world.cases.issue_result_document(serial, signer=world.food)
    world.cases.record_certificate(serial, CERTIFICATE, signer=world.food)
    world.cases.dispatch(serial, "on_site", signer=world.food)
    refused(
        world,
        InvalidTransition,
        lambda: world.cases.deliver_by_public_notice(serial, signer=world.food),
    )
    world.cases.record_delivery_failure(serial, "逾期未领取", signer=world.food)
    receipt = document(world.cases.deliver_by_public_notice(serial, signer=world.food))
    assert receipt.body["deemed_delivered_on"] == ACCEPTED_ON + dt.timedelta(days=30)
    assert receipt.body["failed_attempts"] == [{"method": "on_site", "reason": "逾期未领取"}]
    refused(world, CaseNotClosable, lambda: world.cases.close(serial, signer=world.food))
    world.clock.set(dt.date(2026, 10, 28))
    assert world.cases.close(serial, signer=world.food).state is CaseState.CLOSED


# --- withdrawal ---------------------------------------------------------------------------------


def test_applicant_may_withdraw_before_the_decision_only(world: World) -> None:
    serial = _accepted_at_window(world)
    refused(
        world,
        InvalidApplicant,
        lambda: world.cases.withdraw(serial, world.person.id, signer=world.portal),
    )
    outcome = world.cases.withdraw(serial, world.enterprise.id, "经营计划调整", signer=world.portal)
    assert outcome.state is CaseState.WITHDRAWN
    decided = world.submit_food(channel="window").serial
    world.cases.accept(decided, signer=world.food)
    world.cases.approve(decided, signer=world.food)
    refused(
        world,
        InvalidTransition,
        lambda: world.cases.withdraw(decided, world.enterprise.id, signer=world.portal),
    )


# --- Time (DESIGN invariant 7; RULES.md "Time") ---------------------------------------------------


def test_business_date_is_the_shanghai_date_of_the_utc_instant_Time(world: World) -> None:
    world.clock._now = dt.datetime(2026, 9, 27, 17, 30, tzinfo=dt.UTC)  # 01:30 on 09-28 in Shanghai
    serial = world.submit_food(channel="window").serial
    assert serial.startswith("GZ-SCJG-20260928-")
    world.cases.accept(serial, signer=world.food)
    assert world.case(serial).accepted_on == ACCEPTED_ON
    assert world.case(serial).submitted_at.tzinfo is dt.UTC


def test_deadline_in_a_year_without_a_published_schedule_is_provisional_Time(world: World) -> None:
    world.clock.set(dt.date(2026, 12, 21))
    serial = world.submit_food(channel="window").serial
    receipt = document(world.cases.accept(serial, signer=world.food))
    assert receipt.body["due"].year == 2027
    assert receipt.body["due_provisional"] is True and world.case(serial).due_provisional


def test_steps_may_not_go_back_in_time(world: World) -> None:
    serial = world.submit_food(channel="window").serial
    world.clock._now = shanghai(ACCEPTED_ON) - dt.timedelta(minutes=1)
    refused(world, StepOutOfOrder, lambda: world.cases.accept(serial, signer=world.food))


# --- idempotency (DESIGN invariant 6) -----------------------------------------------------------


def test_retried_command_with_the_same_key_records_nothing_and_returns_the_first_result(
    world: World,
) -> None:
    first = world.submit_food(idempotency_key="client-7f3a-0001")
    head = world.head()
    again = world.submit_food(idempotency_key="client-7f3a-0001")
    assert world.head() == head
    assert again == first
    world.cases.pass_pre_review(first.serial, signer=world.food)
    world.cases.record_material_delivery(first.serial, "on_site", signer=world.food)
    accepted = world.cases.accept(
        first.serial, signer=world.food, idempotency_key="accept-0001-xyz"
    )
    head = world.head()
    assert (
        world.cases.accept(first.serial, signer=world.food, idempotency_key="accept-0001-xyz")
        == accepted
    )
    assert world.head() == head
    with pytest.raises(IdempotencyKeyReused):
        world.cases.approve(first.serial, signer=world.food, idempotency_key="accept-0001-xyz")
    assert world.head() == head
