"""E-certificates (电子证照): RULES.md "E-certificates and seals", one test per rule, with its
source; issue → update → revoke and disputes on both backends; the chain verifies after each."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from ledger.chain.seals import verify_sealed
from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.calendar import add_working_days
from ledger.domain.certificates import (
    Certificate,
    CertificateReference,
    VersionStatus,
    check_reupload_request,
    parse_identifier,
)
from ledger.domain.rules import (
    AuthenticationTooLow,
    CaseNotDecided,
    CertificateNotCurrent,
    CertificateNotHeld,
    CertificateReuploadDemanded,
    DisputeNotOpen,
    EvidenceRequired,
    ExtensionOutOfTime,
    InvalidCertificate,
    NotInDepartmentScope,
    NotIssuingDepartment,
    ResubmissionDemanded,
)
from ledger.domain.sealed import SealedKind
from tests.ledger.domain_world import ISSUER, TYPE_CODE, USER, World, at

# Identifiers issued by provincial platforms (Hunan, Zhejiang), as in test_certificate_id.py.
ISSUED = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
]


# --- identifiers (GB/T 36904) ---------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ISSUED)
def test_real_identifiers_are_accepted_and_name_one_certificate_across_versions(
    identifier: str,
) -> None:
    cid = parse_identifier(identifier)
    assert str(cid) == identifier
    other_version = str(replace(cid, version=cid.version + 1))
    assert Certificate.id_for(identifier) == Certificate.id_for(other_version)


@pytest.mark.parametrize(
    ("corrupt", "field"),
    [
        (ISSUED[0][:-1] + "V", "certificate_id.check"),  # wrong check character
        (ISSUED[0].replace("W011", "W012"), "certificate_id.check"),  # one character changed
        (ISSUED[0].replace("20230000403", "20230000430"), "certificate_id.check"),  # transposed
        (ISSUED[0].replace(".001.", ".01."), "certificate_id.version"),
        (ISSUED[0].replace("1.2.156.3005.2.", "1.2.156.3005.3."), "certificate_id"),
        (ISSUED[0].replace("L.2023", ".2023"), "certificate_id.issuer_code"),
        (ISSUED[0] + ".X", "certificate_id"),
    ],
)
def test_corrupted_incoming_identifiers_are_refused_naming_the_part_GBT_36904(
    world: World, corrupt: str, field: str
) -> None:
    with pytest.raises(InvalidCertificate) as caught:
        world.certificates.certificate(corrupt)
    assert caught.value.field == field
    assert caught.value.rule == "GZ20·21, GZ16·15"


# --- issue (GZ16·15, NH·20, FZ·19, GZ20·21) -------------------------------------------------------


def test_issue_update_revoke_keeps_every_version_verifiable_on_both_backends_GZ20_21(
    both: World,
) -> None:
    holder = uuid4()
    first = both.issue(holder)
    assert first.endswith(".001." + first[-1]) and parse_identifier(first).version == 1
    assert both.certificates.verify(first) and both.verifies()

    second = both.certificates.update(
        first,
        signer=both.issuer,
        department=ISSUER,
        content={"business_scope": "餐饮服务；食品销售", "valid_until": "2030-12-31"},
        reason="经营范围变更",
        at=at("2025-10-09"),
    )
    assert parse_identifier(second).version == 2
    certificate = both.certificates.certificate(first)
    assert [v.status for v in certificate.versions] == [
        VersionStatus.SUPERSEDED,
        VersionStatus.CURRENT,
    ]
    assert certificate.versions[1].reason == "经营范围变更"
    assert certificate.versions[1].record.body["supersedes"] == first
    assert both.certificates.verify(first) and both.certificates.verify(second)
    assert both.verifies()

    both.certificates.revoke(
        second, signer=both.issuer, department=ISSUER, reason="营业执照注销", at=at("2025-10-10")
    )
    certificate = both.certificates.certificate(second)
    assert certificate.revoked and certificate.status_of(2) is VersionStatus.REVOKED
    assert both.certificates.verify(first) and both.certificates.verify(second)
    assert [c.identifier for c in both.certificates.wallet(holder)] == [second]
    assert both.verifies()


def test_certificate_versions_are_sealed_with_the_issuers_key_GZ20_19(world: World) -> None:
    identifier = world.issue()
    record = world.certificates.certificate(identifier).versions[0].record
    assert record.kind is SealedKind.E_CERTIFICATE
    assert record.key_id == world.issuer.key_id and record.issuer == ISSUER
    assert verify_sealed(record, world.issuer.public_key)
    assert not verify_sealed(record, world.user.public_key)
    tampered = replace(record, body={**record.body, "content": {"business_scope": "全部"}})
    assert not verify_sealed(tampered, world.issuer.public_key)


def test_certificate_is_issued_only_from_a_decided_case_GZ16_15_FZ_19(world: World) -> None:
    exc = world.refused(
        CaseNotDecided,
        lambda: world.certificates.issue(
            signer=world.issuer,
            department=ISSUER,
            case_id=uuid4(),
            case_serial="GZ-1",
            case_department=ISSUER,
            case_decided=False,
            holder=uuid4(),
            type_code=TYPE_CODE,
            serial="0001",
            content={"x": 1},
            at=at("2025-09-29"),
        ),
    )
    assert "GZ16·15" in str(exc)


def test_certificate_is_issued_by_the_cases_department_only_GZ20_21(world: World) -> None:
    world.refused(
        NotIssuingDepartment,
        lambda: world.certificates.issue(
            signer=world.user,
            department=USER,
            case_id=uuid4(),
            case_serial="GZ-1",
            case_department=ISSUER,
            case_decided=True,
            holder=uuid4(),
            type_code=TYPE_CODE,
            serial="0001",
            content={"x": 1},
            at=at("2025-09-29"),
        ),
    )


def test_a_department_key_acts_only_for_its_own_department_GZ20_25(world: World) -> None:
    identifier = world.issue()
    world.refused(
        NotInDepartmentScope,
        lambda: world.certificates.update(
            identifier,
            signer=world.user,
            department=ISSUER,
            content={"x": 1},
            reason="r",
            at=at("2025-10-09"),
        ),
    )
    world.refused(
        NotIssuingDepartment,
        lambda: world.certificates.revoke(
            identifier, signer=world.user, department=USER, reason="r", at=at("2025-10-09")
        ),
    )


def test_the_same_certificate_is_not_issued_twice(world: World) -> None:
    world.issue(serial="0007")
    world.refused(InvalidCertificate, lambda: world.issue(serial="0007"))


def test_update_states_its_reason_and_revoked_certificates_stay_revoked_GZ16_15(
    world: World,
) -> None:
    identifier = world.issue()
    world.refused(
        InvalidCertificate,
        lambda: world.certificates.update(
            identifier,
            signer=world.issuer,
            department=ISSUER,
            content={"x": 1},
            reason=" ",
            at=at("2025-10-09"),
        ),
    )
    world.certificates.revoke(
        identifier, signer=world.issuer, department=ISSUER, reason="注销", at=at("2025-10-09")
    )
    for command in (
        lambda: world.certificates.update(
            identifier,
            signer=world.issuer,
            department=ISSUER,
            content={"x": 1},
            reason="r",
            at=at("2025-10-10"),
        ),
        lambda: world.certificates.revoke(
            identifier, signer=world.issuer, department=ISSUER, reason="r", at=at("2025-10-10")
        ),
    ):
        exc = world.refused(CertificateNotCurrent, command)
        assert exc.state == "revoked"  # type: ignore[attr-defined]
    assert world.verifies()


class FakeCase(Aggregate):
    """Stands in for ``ledger.domain.cases.Case``: records the certificate issued for it."""

    @event("Opened")
    def __init__(self) -> None:
        self.certificate_ids: list[str] = []

    @event("CertificateRecorded")
    def record_certificate(self, certificate_id: str, *, at: dt.datetime) -> None:
        self.certificate_ids.append(certificate_id)


def test_issuing_records_the_certificate_on_its_case_in_the_same_command_NH_20(
    world: World,
) -> None:
    case = FakeCase()
    world.app.save_signed(case, signer=world.issuer)
    before = world.head()
    certificate = world.certificates.issue(
        signer=world.issuer,
        department=ISSUER,
        case_id=case.id,
        case_serial="GZ-9",
        case_department=ISSUER,
        case_decided=True,
        holder=uuid4(),
        type_code=TYPE_CODE,
        serial="0009",
        content={"x": 1},
        at=at("2025-09-29"),
        case=case,
    )
    stored: FakeCase = world.app.repository.get(case.id)
    assert stored.certificate_ids == [certificate.identifier]
    assert world.head() == before + 4  # certificate, wallet opened + gathered, case
    assert world.verifies()


# --- the holder's wallet (GZ16·15) ----------------------------------------------------------------


def test_certificates_gather_to_their_holder_GZ16_15(world: World) -> None:
    holder, stranger = uuid4(), uuid4()
    a = world.issue(holder, serial="0001")
    b = world.issue(holder, serial="0002")
    world.issue(stranger, serial="0003")
    assert [c.identifier for c in world.certificates.wallet(holder)] == [a, b]
    assert all(c.holder == holder for c in world.certificates.wallet(holder))
    assert world.certificates.wallet(uuid4()) == []


# --- disputes (GZ20·23) ---------------------------------------------------------------------------


def _dispute(world: World, identifier: str, day: str = "2025-09-30") -> UUID:
    dispute = world.certificates.raise_dispute(
        identifier,
        signer=world.user,
        department=USER,
        reasons="持证人姓名与户籍信息不一致",
        evidence=["sha256:" + "ab" * 32],
        at=at(day),
    )
    return dispute.id


def test_dispute_is_answered_within_3_working_days_over_national_day_GZ20_23(
    both: World,
) -> None:
    identifier = both.issue()
    dispute = both.certificates.dispute(_dispute(both, identifier, "2025-09-30"))
    # 1 Oct – 8 Oct 2025 are holidays, Sat 11 Oct a make-up working day: 9, 10, 11 Oct.
    assert dispute.due == add_working_days(dt.date(2025, 9, 30), 3) == dt.date(2025, 10, 11)
    assert not dispute.is_overdue(dt.date(2025, 10, 11))
    assert dispute.is_overdue(dt.date(2025, 10, 13))
    assert both.verifies()


@pytest.mark.parametrize(
    ("reasons", "evidence", "field"),
    [("", ["sha256:00"], "reasons"), ("错误", [], "evidence"), ("错误", ["a", "a"], "evidence")],
)
def test_dispute_states_reasons_and_carries_evidence_GZ20_23(
    world: World, reasons: str, evidence: list[str], field: str
) -> None:
    identifier = world.issue()
    exc = world.refused(
        EvidenceRequired,
        lambda: world.certificates.raise_dispute(
            identifier,
            signer=world.user,
            department=USER,
            reasons=reasons,
            evidence=evidence,
            at=at("2025-09-30"),
        ),
    )
    assert exc.field == field  # type: ignore[attr-defined]


def test_upheld_dispute_is_corrected_by_an_update_and_answered_GZ20_23(both: World) -> None:
    identifier = both.issue()
    dispute_id = _dispute(both, identifier)
    corrected = both.certificates.uphold_dispute(
        dispute_id,
        signer=both.issuer,
        department=ISSUER,
        content={"business_scope": "餐饮服务", "valid_until": "2031-12-31"},
        reason="异议成立，更正有效期",
        answer="经核查异议成立，已更正",
        at=at("2025-10-09"),
    )
    dispute = both.certificates.dispute(dispute_id)
    assert dispute.finding == "upheld" and dispute.correction_identifier == corrected
    assert not dispute.answered_late and not dispute.is_overdue(dt.date(2025, 10, 20))
    record = dispute.answer_record
    assert record is not None and verify_sealed(record, both.issuer.public_key)
    certificate = both.certificates.certificate(corrected)
    assert certificate.status_of(1) is VersionStatus.SUPERSEDED
    assert both.certificates.verify(identifier)
    both.refused(
        DisputeNotOpen,
        lambda: both.certificates.reject_dispute(
            dispute_id, signer=both.issuer, department=ISSUER, answer="x", at=at("2025-10-10")
        ),
    )
    assert both.verifies()


def test_rejected_dispute_is_answered_in_writing_and_late_answers_are_marked_GZ20_23(
    world: World,
) -> None:
    identifier = world.issue()
    dispute_id = _dispute(world, identifier)
    world.certificates.reject_dispute(
        dispute_id,
        signer=world.issuer,
        department=ISSUER,
        answer="经核查，证照信息与户籍信息一致，异议不成立",
        at=at("2025-10-13"),
    )
    dispute = world.certificates.dispute(dispute_id)
    assert dispute.finding == "rejected" and dispute.answered_late
    record = dispute.answer_record
    assert record is not None and record.body["finding"] == "rejected"
    assert verify_sealed(record, world.issuer.public_key)


def test_only_the_issuer_answers_a_dispute_GZ20_23(world: World) -> None:
    identifier = world.issue()
    dispute_id = _dispute(world, identifier)
    world.refused(
        NotIssuingDepartment,
        lambda: world.certificates.reject_dispute(
            dispute_id, signer=world.user, department=USER, answer="x", at=at("2025-10-09")
        ),
    )


def test_extension_is_requested_before_the_answer_is_due_and_once_GZ20_23(
    world: World,
) -> None:
    identifier = world.issue()
    late_id = _dispute(world, identifier)
    world.refused(
        ExtensionOutOfTime,
        lambda: world.certificates.request_extension(
            late_id,
            signer=world.issuer,
            department=ISSUER,
            reason="需向公安部门核实",
            days=3,
            at=at("2025-10-13"),
        ),
    )
    world.certificates.request_extension(
        late_id,
        signer=world.issuer,
        department=ISSUER,
        reason="需向公安部门核实",
        days=3,
        at=at("2025-10-10"),
    )
    dispute = world.certificates.dispute(late_id)
    assert dispute.extended and dispute.due == add_working_days(dt.date(2025, 10, 11), 3)
    assert not dispute.is_overdue(dt.date(2025, 10, 13))
    world.refused(
        DisputeNotOpen,
        lambda: world.certificates.request_extension(
            late_id,
            signer=world.issuer,
            department=ISSUER,
            reason="再次延期",
            days=3,
            at=at("2025-10-13"),
        ),
    )


def test_a_revoked_or_superseded_version_is_not_disputed_GZ20_21(world: World) -> None:
    first = world.issue()
    world.certificates.update(
        first,
        signer=world.issuer,
        department=ISSUER,
        content={"x": 2},
        reason="变更",
        at=at("2025-10-09"),
    )
    exc = world.refused(CertificateNotCurrent, lambda: _dispute(world, first))
    assert exc.state == "superseded"  # type: ignore[attr-defined]


def test_upholding_without_a_new_version_is_refused(world: World) -> None:
    identifier = world.issue()
    dispute_id = _dispute(world, identifier)
    certificate = world.certificates.certificate(identifier)
    dispute = world.certificates.dispute(dispute_id)
    with pytest.raises(InvalidCertificate):
        dispute.uphold(
            certificate, department=ISSUER, answer="x", at=at("2025-10-09"), seal_key=world.issuer
        )


# --- use in new applications (GZ16·15, GZ20·13) ---------------------------------------------------


def test_a_held_certificate_is_referenced_instead_of_uploaded_GZ16_15(world: World) -> None:
    holder, case_id, stranger = world.applicant(), uuid4(), world.applicant()
    identifier = world.issue(holder)
    reference = world.certificates.reference(
        identifier,
        signer=world.portal,
        case_id=case_id,
        case_serial="FS-77",
        material_code="M01",
        applicant_id=holder,
        at=at("2025-10-09"),
    )
    assert reference.identifier == identifier
    world.refused(CertificateNotHeld, lambda: _reference(world, identifier, stranger))
    assert world.verifies()


def _reference(
    world: World, identifier: str, applicant: UUID, day: str = "2025-10-09"
) -> CertificateReference:
    """``applicant`` references ``identifier`` for material M01 of a new case, via the portal."""
    return world.certificates.reference(
        identifier,
        signer=world.portal,
        case_id=uuid4(),
        case_serial="FS-78",
        material_code="M01",
        applicant_id=applicant,
        at=at(day),
    )


@pytest.mark.parametrize(("kind", "level"), [("natural_person", "basic"), ("enterprise", "basic")])
def test_using_ones_certificates_needs_the_advanced_level_FZ_8(
    world: World, kind: str, level: str
) -> None:
    """FZ·8 (三): personal and enterprise certificates (个人证照, 企业证照) need the advanced
    level; a basic-level holder's reference is refused and nothing recorded."""
    holder = world.applicant(level, kind)
    identifier = world.issue(holder)
    exc = world.refused(AuthenticationTooLow, lambda: _reference(world, identifier, holder))
    action = "personal_certificates" if kind == "natural_person" else "enterprise_certificates"
    assert (exc.rule, exc.action, exc.required) == ("FZ·8", action, "advanced")  # type: ignore[attr-defined]


def test_a_revoked_certificate_is_not_referenced_GZ16_15(world: World) -> None:
    holder = world.applicant()
    identifier = world.issue(holder)
    world.certificates.revoke(
        identifier, signer=world.issuer, department=ISSUER, reason="注销", at=at("2025-10-09")
    )
    world.refused(CertificateNotHeld, lambda: _reference(world, identifier, holder, "2025-10-10"))


def test_asking_to_upload_a_referenced_certificate_again_is_a_violation_GZ20_13(
    world: World,
) -> None:
    """Data obtainable by sharing is not asked for again (GZ16·10, NH·21, GZ20·13, FZ·13): a
    re-upload demand for a held e-certificate is a ResubmissionDemanded violation."""
    holder, case_id = world.applicant(), uuid4()
    identifier = world.issue(holder)
    world.certificates.reference(
        identifier,
        signer=world.portal,
        case_id=case_id,
        case_serial="FS-77",
        material_code="M01",
        applicant_id=holder,
        at=at("2025-10-09"),
    )
    reference: CertificateReference = world.app.repository.get(
        CertificateReference.id_for(case_id, "M01")
    )
    with pytest.raises(CertificateReuploadDemanded) as caught:
        check_reupload_request([reference], ["M02", "M01"])
    assert isinstance(caught.value, ResubmissionDemanded)
    assert ResubmissionDemanded.rule == "GZ16·10, NH·21, GZ20·13, FZ·13"
    assert caught.value.field == "materials.M01" and caught.value.rule == "GZ16·15, GZ20·13"
    check_reupload_request([reference], ["M02"])

    world.certificates.record_reupload_demand(
        case_id,
        "M01",
        signer=world.portal,
        department=USER,
        note="窗口要求重新上传营业执照复印件",
        at=at("2025-10-10"),
    )
    stored: CertificateReference = world.app.repository.get(
        CertificateReference.id_for(case_id, "M01")
    )
    assert stored.reupload_demands == [USER]
    demand = world.app.events.get(stored.id)
    last: Any = list(demand)[-1]
    assert (last.rule, last.code) == ("GZ16·15, GZ20·13", "certificate-reupload-demanded")
    assert world.verifies()


def test_seal_keys_are_passed_in_never_built_by_the_domain() -> None:
    signer = Ed25519Signer.generate()
    certificate = Certificate.issue(
        case_id=uuid4(),
        case_serial="GZ-1",
        case_department=ISSUER,
        case_decided=True,
        issuer_department=ISSUER,
        type_code=TYPE_CODE,
        serial="1",
        holder=uuid4(),
        content={"x": 1},
        at=dt.datetime(2025, 9, 29, 2, tzinfo=dt.UTC),
        seal_key=signer,
    )
    assert verify_sealed(certificate.sealed_version(1), signer.public_key)
    with pytest.raises(InvalidCertificate) as caught:
        Certificate.issue(
            case_id=uuid4(),
            case_serial="GZ-1",
            case_department=ISSUER,
            case_decided=True,
            issuer_department=ISSUER,
            type_code=TYPE_CODE,
            serial="1",
            holder=uuid4(),
            content={"x": 1},
            at=dt.datetime(2025, 9, 29, 2),  # naive
            seal_key=signer,
        )
    assert caught.value.field == "at"


# --- integration with the real case (ledger.domain.cases) -----------------------------------


def test_issuing_from_an_approved_case_records_it_and_lets_the_case_proceed_NH_20(
    sqlite_url: str, tmp_path: Path
) -> None:
    from ledger.domain.cases import CaseState
    from ledger.services.domain_services import CertificateService
    from tests.ledger.case_world import build_world

    w = build_world(sqlite_url, tmp_path)
    try:
        serial = w.submit_food().serial
        w.to_accepted(serial)
        w.cases.approve(serial, signer=w.food)
        certificate = w.issue_certificate(serial)
        stored = w.case(serial)
        assert stored.certificate_ids == [certificate.identifier]
        assert stored.state is CaseState.RESULT_ISSUED
        wallet = CertificateService(w.ledger).wallet(stored.applicant_id)
        assert [c.identifier for c in wallet] == [certificate.identifier]
        assert verify_chain(w.ledger.chain).ok
    finally:
        w.ledger.close()
