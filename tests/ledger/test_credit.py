"""Credit record (GZ20·28): an improper acquisition of a licence, payment, award or
compensation, or an untrue commitment, enters the applicant's credit record; a serious case,
with its legal basis, puts the applicant on the joint-punishment list. Refusals record nothing."""

from __future__ import annotations

from uuid import uuid4

from ledger.domain.credit import Misconduct
from ledger.domain.rules import (
    RULE_VIOLATIONS,
    InvalidCreditEntry,
    NothingAcquired,
    NotInDepartmentScope,
)
from ledger.services.credit import CreditService
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, World
from tests.ledger.test_case_lifecycle import refused

world = lifecycle.world  # the lifecycle tests' fixture: a fresh SQLite world per test
EVIDENCE = ["sha256:" + "cd" * 32]
BASIS = "《关于建立完善守信联合激励和失信联合惩戒制度的指导意见》"


def _approved(world: World) -> str:
    serial = world.submit_food().serial
    world.to_accepted(serial)
    world.cases.approve(serial, signer=world.food)
    return serial


def _enter(world: World, serial: str, **changes: object) -> object:
    arguments: dict[str, object] = {
        "signer": world.food,
        "department": FOOD_DEPT,
        "misconduct": Misconduct.IMPROPER_LICENCE,
        "details": "以伪造的场地证明取得食品经营许可",
        "evidence": EVIDENCE,
        "at": world.clock.now(),
        "case_serial": serial,
    } | changes
    return CreditService(world.ledger).enter(world.enterprise.id, **arguments)  # type: ignore[arg-type]


def test_an_improperly_acquired_licence_enters_the_credit_record_GZ20_28(world: World) -> None:
    serial = _approved(world)
    entry = _enter(world, serial)
    service = CreditService(world.ledger)
    record = service.record(world.enterprise.id)
    assert record is not None and record.entries == (entry,)
    assert entry["basis"] == "GZ20·28" and entry["case_serial"] == serial  # type: ignore[index]
    assert not service.on_joint_punishment_list(world.enterprise.id)


def test_a_serious_case_with_its_legal_basis_joins_the_joint_punishment_list_GZ20_28(
    world: World,
) -> None:
    serial = _approved(world)
    error = refused(world, InvalidCreditEntry, lambda: _enter(world, serial, serious=True))
    assert error.rule == "GZ20·28" and "legal_basis" in str(error)
    _enter(
        world,
        serial,
        serious=True,
        legal_basis="《关于建立完善守信联合激励和失信联合惩戒制度的指导意见》",
    )
    assert CreditService(world.ledger).on_joint_punishment_list(world.enterprise.id)


def test_an_acquisition_names_an_approved_case_of_the_applicant_and_department_GZ20_28(
    world: World,
) -> None:
    refused(world, InvalidCreditEntry, lambda: _enter(world, ""))
    refused(world, InvalidCreditEntry, lambda: _enter(world, "GZ-NO-SUCH-CASE"))
    undecided = world.submit_food().serial
    error = refused(world, NothingAcquired, lambda: _enter(world, undecided))
    assert error.rule == "GZ20·28"
    serial = _approved(world)
    refused(
        world,
        NotInDepartmentScope,
        lambda: _enter(world, serial, signer=world.card, department=CARD_DEPT),
    )
    refused(world, InvalidCreditEntry, lambda: _enter(world, serial, evidence=[]))
    refused(world, InvalidCreditEntry, lambda: _enter(world, serial, misconduct="late_payment"))


def test_an_untrue_commitment_enters_the_record_without_an_acquisition_GZ20_28(
    world: World,
) -> None:
    entry = _enter(world, "", misconduct=Misconduct.UNTRUE_COMMITMENT, details="告知承诺不实")
    assert entry["misconduct"] == "untrue_commitment"  # type: ignore[index]
    assert CreditService(world.ledger).record(uuid4()) is None


def test_the_credit_violations_are_registered() -> None:
    assert {InvalidCreditEntry, NothingAcquired} <= set(RULE_VIOLATIONS)
