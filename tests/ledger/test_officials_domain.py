"""Officials act outside the case commands too (FZ·26(二)(五)): e-certificates, answers,
supervision orders, blacklisting — each checked against the one role table
(``DOMAIN_COMMAND_ROLES``), refused and recorded otherwise, sealed by the department's or the
office's key, re-checked by verification and listed in the official's history."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import resolve_topic

import ledger.domain.credit
import ledger.domain.red_light
from ledger.chain.authority import PLACES
from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.certificates import Certificate
from ledger.domain.complaints import ConsultationKind
from ledger.domain.keys import KeyRole
from ledger.domain.officials import DOMAIN_COMMAND_ROLES, DOMAIN_TOPIC_ROLES
from ledger.domain.rules import AuthorityExceeded, DecisionNotSealed, UnknownOfficial
from ledger.domain.sealed import SealedRecord
from ledger.domain.supervision import SupervisionOrder, SupervisionReason
from ledger.services.credit import CreditService
from ledger.services.domain_services import (
    BlacklistService,
    CertificateService,
    ConsultationService,
    SupervisionService,
)
from ledger.services.official_history import official_history
from ledger.services.red_light import RedLightService
from tests.helpers import enrol
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, World
from tests.ledger.test_officials import Staff, _accepted, staff, world

__all__ = ["staff", "world"]  # the fixtures, shared with tests/ledger/test_officials.py

ROOT = Path(__file__).resolve().parents[2]
OFFICE = "GZ-ZWFW"  # the supervision office (电子监察)


@pytest.fixture
def office(world: World, staff: Staff) -> Ed25519Signer:
    """The supervision office's key (its seal) and its official J-001 (supervision role)."""
    seal = enrol(world.ledger, world.platform, f"supervisor:{OFFICE}", KeyRole.SUPERVISOR, OFFICE)
    staff.keys["office"] = seal
    staff.appoint("J-001", OFFICE, ["supervision"])
    return seal


def _seals(world: World, staff: Staff) -> Any:
    """The current seal of a department (its e-seal) or of the supervision office."""
    return lambda code: world.seals.get(code) or staff.keys["office"]


def _approved(world: World, staff: Staff) -> str:
    serial = _accepted(world, staff)
    world.cases.approve(serial, signer=staff.keys["D-001"])
    return serial


def _issue(
    world: World, staff: Staff, serial: str, signer: Ed25519Signer, *, sealed: bool = True
) -> Certificate:
    """The case's e-certificate, issued by ``signer`` (``sealed``: with the seals at hand)."""
    case = world.case(serial)
    service = CertificateService(world.ledger).sealed_by(_seals(world, staff) if sealed else None)
    fields: dict[str, Any] = {"holder": case.applicant_id, "serial": "2026000777"}
    fields |= {"type_code": "11440100MB2C90001X002", "content": {"licence": "食品经营许可证"}}
    fields |= {"case_id": case.id, "case_serial": serial, "case_decided": case.approved}
    fields |= {"department": case.department, "case_department": case.department}
    fields |= {"issuer_code": "11440100MB2C90001X", "at": world.clock.now()}
    return service.issue(signer=signer, case=case, **fields)


def _answered(
    world: World, service: Any, subject: Any, refused: Ed25519Signer, signer: Ed25519Signer
) -> SealedRecord:
    """``refused`` may not answer ``subject`` for the food department; ``signer`` does."""

    def answer(by: Ed25519Signer) -> SealedRecord:
        now = world.clock.now()
        record: SealedRecord = service.answer(
            subject, signer=by, department=FOOD_DEPT, answer="已答复", at=now
        )
        return record

    with pytest.raises(AuthorityExceeded):
        answer(refused)
    return answer(signer)


def _order(world: World, signer: Ed25519Signer) -> SupervisionOrder:
    """``signer`` orders the food department to explain an application left unhandled."""
    service = SupervisionService(world.ledger)
    return service.issue(
        signer=signer,
        department=FOOD_DEPT,
        reason=SupervisionReason.NOT_HANDLED,
        details="网上申请三个工作日未处理",
        at=world.clock.now(),
    )


def _verified(world: World) -> None:
    report = verify_chain(world.ledger.chain)
    assert report.ok, report.failure


def test_every_domain_command_names_a_role_and_where_verification_checks_it() -> None:
    assert ledger.domain.credit and ledger.domain.red_light  # their topics are registered
    for topic in DOMAIN_TOPIC_ROLES:
        resolve_topic(topic)  # a real event class of the stored format
    assert set(PLACES) == set(DOMAIN_TOPIC_ROLES)
    named: set[str] = set()
    for module in ("domain_services", "credit", "red_light"):
        text = (ROOT / "ledger" / "services" / f"{module}.py").read_text()
        named |= set(re.findall(r'"((?:[a-z_]+)\.[a-z_]+)"', text)) & set(DOMAIN_COMMAND_ROLES)
    assert named == set(DOMAIN_COMMAND_ROLES)  # every table entry is asked by a service


def test_an_official_issues_the_e_certificate_sealed_by_the_department(
    world: World, staff: Staff
) -> None:
    serial = _approved(world, staff)
    certificate = _issue(world, staff, serial, staff.keys["D-001"])  # certificate role
    assert certificate.versions[0].record.key_id == world.food.key_id  # the department's seal
    head = world.ledger.chain.chain_head()
    assert head is not None and head.key_id == staff.keys["D-001"].key_id  # the person
    assert world.case(serial).certificate_ids == [certificate.identifier]
    assert CertificateService(world.ledger).verify(certificate.identifier)
    _verified(world)


def test_out_of_role_certificate_is_refused_and_the_attempt_recorded_FZ_26_5(
    world: World, staff: Staff
) -> None:
    serial = _approved(world, staff)
    before = world.case(serial).version
    with pytest.raises(AuthorityExceeded) as caught:
        _issue(world, staff, serial, staff.keys["R-001"])  # reception may not issue
    assert caught.value.code == "authority-exceeded"
    assert "does not hold the certificate role" in str(caught.value)
    assert world.case(serial).version == before and world.case(serial).certificate_ids == []
    head = world.ledger.chain.chain_head()
    assert head is not None and head.topic == "ledger.officials:Official.ActionRefused"
    assert head.key_id == staff.keys["R-001"].key_id
    assert staff.service.get("R-001").refusals == 1
    ghost = staff.key("X-404", FOOD_DEPT)  # registered, never appointed (冒用, FZ·26(二))
    with pytest.raises(UnknownOfficial):
        _issue(world, staff, serial, ghost)
    _verified(world)


def test_an_officials_step_is_not_taken_without_the_departments_seal(
    world: World, staff: Staff
) -> None:
    serial = _approved(world, staff)
    head = world.head()
    with pytest.raises(DecisionNotSealed):  # no seal at hand: nothing recorded
        _issue(world, staff, serial, staff.keys["D-001"], sealed=False)
    assert world.head() == head


def test_reception_answers_a_consultation_under_the_departments_seal(
    world: World, staff: Staff
) -> None:
    service = ConsultationService(world.ledger).sealed_by(_seals(world, staff))
    asked = service.receive(
        signer=world.portal,
        kind=ConsultationKind.ENQUIRY,
        channel="hotline_12345",
        department=FOOD_DEPT,
        applicant_id=world.enterprise.id,
        summary="食品经营许可需要哪些材料",
        at=world.clock.now(),
    )
    record = _answered(world, service, asked.id, staff.keys["S-001"], staff.keys["R-001"])
    assert record.key_id == world.food.key_id
    _verified(world)


def test_a_supervision_official_issues_and_closes_an_order_the_department_answers(
    world: World, staff: Staff, office: Ed25519Signer
) -> None:
    service = SupervisionService(world.ledger).sealed_by(_seals(world, staff))
    order = _order(world, staff.keys["J-001"])
    assert order.supervisor == "official:J-001"
    record = _answered(world, service, order.id, staff.keys["R-001"], staff.keys["D-001"])
    assert staff.service.get("R-001").refusals == 1  # reception may not answer an order
    assert record.key_id == world.food.key_id
    service.close(order.id, signer=staff.keys["J-001"], conclusion="已整改", at=world.clock.now())
    assert service.order(order.id).closed
    _verified(world)
    history = official_history(world.ledger, "J-001")
    assert history.verification.ok
    signed = [a.topics for a in history.actions if a.signed_by_official]
    assert signed == [
        ("ledger.supervision:SupervisionOrder.Issued",),
        ("ledger.supervision:SupervisionOrder.Closed",),
    ]
    assert [a.topics for a in official_history(world.ledger, "D-001").actions][-1] == (
        "ledger.supervision:SupervisionOrder.Answered",
    )


def test_no_one_supervises_their_own_department_nor_without_the_role(
    world: World, staff: Staff, office: Ed25519Signer
) -> None:
    own = staff.appoint("F-009", FOOD_DEPT, ["supervision"], by=staff.keys["A-001"])
    for signer, why in (
        (own, f"of {FOOD_DEPT} may not supervise {FOOD_DEPT}"),
        (staff.keys["D-001"], "does not hold the supervision role"),
    ):
        with pytest.raises(AuthorityExceeded, match=why):
            _order(world, signer)
    with pytest.raises(AuthorityExceeded, match=f"may not act for {OFFICE}"):
        SupervisionService(world.ledger).issue(  # the caller pins the office: not F-009's
            signer=own,
            department=CARD_DEPT,
            reason=SupervisionReason.NOT_HANDLED,
            details="x",
            at=world.clock.now(),
            office=OFFICE,
        )
    assert staff.service.get("F-009").refusals == 2
    _verified(world)


def test_a_supervision_official_blacklists_under_the_offices_seal(
    world: World, staff: Staff, office: Ed25519Signer
) -> None:
    service = BlacklistService(world.ledger).sealed_by(_seals(world, staff))
    decision: dict[str, Any] = {"authority": OFFICE, "ground": "false_materials"}
    decision |= {"facts": ["case:GZ-2025-0001"], "details": "提交伪造的房产证明"}
    with pytest.raises(AuthorityExceeded, match="does not hold the supervision role"):
        service.blacklist(
            world.person.id, signer=staff.keys["D-001"], at=world.clock.now(), **decision
        )
    notice = service.blacklist(
        world.person.id, signer=staff.keys["J-001"], at=world.clock.now(), **decision
    )
    assert notice.key_id == office.key_id and notice.issuer == OFFICE
    _verified(world)


def test_forged_certificate_revocation_beyond_the_role_fails_verify(
    world: World, staff: Staff
) -> None:
    serial = _approved(world, staff)
    certificate = _issue(world, staff, serial, staff.keys["D-001"])
    _verified(world)
    found = world.ledger.repository.get(certificate.id)
    assert isinstance(found, Certificate)
    found.revoke(department=FOOD_DEPT, reason="伪造撤销", at=world.clock.now())
    world.ledger.save_signed(found, signer=staff.keys["R-001"])  # bypassing the service
    report = verify_chain(world.ledger.chain)
    assert report.failure is not None and report.failure.reason == "authority-exceeded"
    assert report.failure.sequence == world.head()
    assert "does not hold the certificate role" in report.failure.detail


def test_forged_order_over_the_officials_own_department_fails_verify(
    world: World, staff: Staff
) -> None:
    staff.appoint("F-009", FOOD_DEPT, ["supervision"], by=staff.keys["A-001"])
    order = SupervisionOrder.issue(
        supervisor="official:F-009",
        department=FOOD_DEPT,
        reason=SupervisionReason.NOT_HANDLED,
        details="自己督办自己",
        at=world.clock.now(),
    )
    world.ledger.save_signed(order, signer=staff.keys["F-009"])  # bypassing the service
    report = verify_chain(world.ledger.chain)
    assert report.failure is not None and report.failure.reason == "authority-exceeded"
    assert report.failure.sequence == world.head()
    assert f"may not supervise {FOOD_DEPT}" in report.failure.detail


def test_the_decision_official_explains_a_red_light_the_office_official_deducts_FZ_24(
    world: World, staff: Staff, office: Ed25519Signer
) -> None:
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    world.clock.set(dt.date(2026, 11, 2))  # accepted 2026-09-28, due 2026-10-30: red
    service = RedLightService(world.ledger).sealed_by(_seals(world, staff))
    now = world.clock.now()
    explanation = {"department": FOOD_DEPT, "explanation": "专家评审延误", "at": now}
    with pytest.raises(AuthorityExceeded, match="does not hold the decision role"):
        service.explain(serial, signer=staff.keys["R-001"], **explanation)
    record = service.explain(serial, signer=staff.keys["D-001"], **explanation)
    assert record.key_id == world.food.key_id  # sealed by the department, signed by D-001
    deduction = {"office": OFFICE, "points": 2, "reasons": "超期办结", "at": now}
    with pytest.raises(AuthorityExceeded, match="does not hold the supervision role"):
        service.deduct(serial, signer=staff.keys["D-001"], **deduction)
    service.deduct(serial, signer=staff.keys["J-001"], **deduction)
    found = service.record(serial)
    assert found is not None and found.explained
    _verified(world)


def test_the_decision_official_enters_a_credit_record_of_their_own_case_GZ20_28(
    world: World, staff: Staff
) -> None:
    serial = _approved(world, staff)
    entry: dict[str, Any] = {"department": FOOD_DEPT, "misconduct": "improper_licence"}
    entry |= {"details": "伪造场地证明取得许可", "evidence": ["核查报告 2026-17"]}
    entry["at"] = world.clock.now()
    service = CreditService(world.ledger)
    with pytest.raises(AuthorityExceeded, match="does not hold the decision role"):
        service.enter(world.enterprise.id, signer=staff.keys["C-001"], case_serial=serial, **entry)
    made = service.enter(
        world.enterprise.id, signer=staff.keys["D-001"], case_serial=serial, **entry
    )
    assert made["case_serial"] == serial
    _verified(world)
    actions = official_history(world.ledger, "D-001").actions
    assert actions[-1].topics[-1] == "ledger.credit:CreditRecord.Entered"
