"""Officials as actors (FZ·26(二)(五)): appointed by their department's administrator, acting
only in their roles, for their department or under the window's delegation (NH·6(二),
GZ20·6(二), GZ20·11); refusals recorded; verification re-checks authority from the chain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.cases import Case
from ledger.domain.keys import KeyRole
from ledger.domain.officials import COMMAND_ROLES, Official, OfficialRole
from ledger.domain.rules import AuthorityExceeded, InvalidOfficial, UnknownOfficial
from ledger.services.official_history import official_history
from ledger.services.officials import OfficialService
from ledger.storage.urls import parse_storage_url
from projections.runner import catch_up, open_view
from projections.supervision import SupervisionThresholds, SupervisionView, flags
from tests.helpers import enrol
from tests.ledger import test_case_lifecycle
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, World

world = test_case_lifecycle.world  # the same real world fixture
WINDOW = "GZ-ZHCK"  # the comprehensive window (综合窗口)


class Staff:
    """A department's officials in one world, each with a personal registered key."""

    def __init__(self, world: World):
        self.world = world
        self.service = OfficialService(world.ledger)
        self.keys: dict[str, Ed25519Signer] = {}

    def key(self, code: str, department: str) -> Ed25519Signer:
        signer = enrol(
            self.world.ledger, self.world.platform, f"official:{code}", KeyRole.OFFICIAL, department
        )
        self.keys[code] = signer
        return signer

    def appoint(
        self, code: str, department: str, roles: list[str], by: Ed25519Signer | None = None
    ) -> Ed25519Signer:
        signer = self.key(code, department)
        self.service.appoint(code, department, roles, f"{code} 号", by=by or self.world.platform)
        return signer


@pytest.fixture
def staff(world: World) -> Staff:
    s = Staff(world)
    admin = s.appoint("A-001", FOOD_DEPT, ["admin"])  # the first admin, by the platform
    for code, roles in (
        ("R-001", ["reception"]),
        ("C-001", ["acceptance"]),
        ("D-001", ["decision", "certificate"]),
        ("S-001", ["delivery"]),
    ):
        s.appoint(code, FOOD_DEPT, roles, by=admin)
    s.appoint("W-001", WINDOW, ["reception"])
    return s


def _verified(world: World) -> None:
    report = verify_chain(world.ledger.chain)
    assert report.ok, report.failure


def test_every_command_needs_a_role_from_the_one_table() -> None:
    import ledger.services.cases as cases

    commands = {
        name
        for name in vars(cases.CaseService)
        if not name.startswith("_") and name not in {"case", "documents", "upload"}
    }
    assert commands == set(COMMAND_ROLES)


def test_named_officials_drive_a_case_and_the_chain_verifies(world: World, staff: Staff) -> None:
    k = staff.keys
    serial = _accepted(world, staff)
    decided = world.cases.approve(serial, signer=k["D-001"])
    assert decided.document is not None  # sealed by the department's key, signed by D-001
    assert decided.document.key_id == world.food.key_id
    world.cases.issue_result_document(serial, signer=k["D-001"])
    world.issue_certificate(serial)  # the result is an e-certificate (GZ16·15)
    world.cases.dispatch(serial, "online", signer=k["S-001"])
    head = world.ledger.chain.chain_head()
    assert head is not None and head.key_id == k["S-001"].key_id
    _verified(world)


def test_out_of_role_attempt_is_refused_nothing_recorded_but_the_attempt_FZ_26_5(
    world: World, staff: Staff
) -> None:
    serial = world.submit_food().serial
    before = world.case(serial).version
    with pytest.raises(AuthorityExceeded) as caught:
        world.cases.pass_pre_review(serial, signer=staff.keys["D-001"])
    assert caught.value.rule == "FZ·26(五)" and caught.value.code == "authority-exceeded"
    assert world.case(serial).version == before
    official = staff.service.get("D-001")
    assert official.refusals == 1
    head = world.ledger.chain.chain_head()
    assert head is not None and head.topic == "ledger.officials:Official.ActionRefused"
    assert head.key_id == staff.keys["D-001"].key_id
    _verified(world)


def test_official_of_another_department_is_refused(world: World, staff: Staff) -> None:
    other = staff.appoint("G-001", CARD_DEPT, ["reception"])
    serial = world.submit_food().serial
    with pytest.raises(AuthorityExceeded, match="may not act for"):
        world.cases.pass_pre_review(serial, signer=other)


def test_unknown_official_is_refused_FZ_26_2(world: World, staff: Staff) -> None:
    ghost = staff.key("X-404", FOOD_DEPT)  # a registered key, never appointed
    serial = world.submit_food().serial
    head = world.head()
    with pytest.raises(UnknownOfficial) as caught:
        world.cases.pass_pre_review(serial, signer=ghost)
    assert caught.value.rule == "FZ·26(二)"
    assert world.head() == head


def test_suspended_and_left_officials_may_not_act(world: World, staff: Staff) -> None:
    admin, k = staff.keys["A-001"], staff.keys
    serial = world.submit_food().serial
    staff.service.suspend("R-001", "调查期间暂停", by=admin)
    with pytest.raises(AuthorityExceeded, match="suspended"):
        world.cases.pass_pre_review(serial, signer=k["R-001"])
    staff.service.reinstate("R-001", by=admin)
    world.cases.pass_pre_review(serial, signer=k["R-001"])
    staff.service.leave("R-001", "调离", by=admin)
    with pytest.raises(AuthorityExceeded, match="left"):
        world.cases.record_material_delivery(
            serial, "courier", waybill="SF1234567890", signer=k["R-001"]
        )
    _verified(world)


def test_roles_changed_and_moved_take_effect(world: World, staff: Staff) -> None:
    admin, k = staff.keys["A-001"], staff.keys
    serial = world.submit_food().serial
    staff.service.change_roles("C-001", ["reception", "acceptance"], by=admin)
    world.cases.pass_pre_review(serial, signer=k["C-001"])
    card_admin = staff.appoint("A-002", CARD_DEPT, ["admin"])
    with pytest.raises(AuthorityExceeded):  # the releasing administrator may not place people
        staff.service.move("C-001", CARD_DEPT, ["acceptance"], by=admin)
    with pytest.raises(AuthorityExceeded):  # nor themselves, as administrators elsewhere
        staff.service.move("A-001", CARD_DEPT, ["admin"], by=admin)
    staff.service.move("C-001", CARD_DEPT, ["acceptance"], by=card_admin)
    world.cases.record_material_delivery(
        serial, "courier", waybill="SF1234567890", signer=k["R-001"]
    )
    with pytest.raises(AuthorityExceeded):
        world.cases.accept(serial, signer=k["C-001"])
    _verified(world)


def test_only_the_departments_admin_manages_its_officials(world: World, staff: Staff) -> None:
    other_admin = staff.appoint("A-003", CARD_DEPT, ["admin"])
    with pytest.raises(AuthorityExceeded):
        staff.service.suspend("R-001", "x", by=other_admin)
    with pytest.raises(AuthorityExceeded):  # an official without the admin role
        staff.service.appoint("R-002", FOOD_DEPT, ["reception"], "R2", by=staff.keys["R-001"])
    with pytest.raises(InvalidOfficial, match="roles"):
        staff.service.change_roles("R-001", ["judge"], by=staff.keys["A-001"])
    assert staff.service.get("R-001").active
    _verified(world)


def test_window_acts_for_a_department_only_under_a_delegation_NH_6_2(
    world: World, staff: Staff
) -> None:
    admin, window = staff.keys["A-001"], staff.keys["W-001"]
    serial = world.submit_food().serial
    with pytest.raises(AuthorityExceeded, match="no delegation"):
        world.cases.pass_pre_review(serial, signer=window)
    staff.service.grant_delegation(FOOD_DEPT, WINDOW, "《一窗受理》委托书 2026-1", by=admin)
    world.cases.pass_pre_review(serial, signer=window)
    staff.service.withdraw_delegation(FOOD_DEPT, WINDOW, "收回委托", by=admin)
    with pytest.raises(AuthorityExceeded):
        world.cases.record_material_delivery(
            serial, "courier", waybill="SF1234567890", signer=window
        )
    staff.service.grant_delegation(FOOD_DEPT, WINDOW, "重新委托", by=admin)
    world.cases.record_material_delivery(serial, "courier", waybill="SF1234567890", signer=window)
    with pytest.raises(AuthorityExceeded):  # acceptance is never delegated
        world.cases.accept(serial, signer=window)
    _verified(world)


def _accepted(world: World, staff: Staff) -> str:
    """A case taken to acceptance by the food department's named officials."""
    k = staff.keys
    serial = world.submit_food().serial
    world.cases.pass_pre_review(serial, signer=k["R-001"])
    world.cases.record_material_delivery(
        serial, "courier", waybill="SF1234567890", signer=k["R-001"]
    )
    world.cases.accept(serial, signer=k["C-001"])
    return serial


def _forge_approval(world: World, serial: str, signer: Ed25519Signer) -> int:
    """Approve bypassing the service, signed with the official's real key; its sequence."""
    case = world.ledger.repository.get(Case.id_for(serial))
    assert isinstance(case, Case)
    seal, _ = world.cases._sealer(serial, case.department, world.clock.now())
    case.approve(at=world.clock.now(), seal=seal)
    world.ledger.save_signed(case, signer=signer)
    head = world.ledger.chain.chain_head()
    assert head is not None
    return head.sequence


def test_forged_command_beyond_the_role_fails_plain_verify(world: World, staff: Staff) -> None:
    k = staff.keys
    serial = _accepted(world, staff)
    _verified(world)
    sequence = _forge_approval(world, serial, k["R-001"])  # reception may not decide
    report = verify_chain(world.ledger.chain)
    assert report.failure is not None
    assert report.failure.reason == "authority-exceeded"
    assert report.failure.sequence == sequence
    assert "does not hold the decision role" in report.failure.detail
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify", "--db", world.url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"sequence {sequence}" in done.stdout + done.stderr
    assert "authority-exceeded" in done.stdout + done.stderr


def test_forged_command_by_a_suspended_official_fails_verify(world: World, staff: Staff) -> None:
    k = staff.keys
    serial = _accepted(world, staff)
    staff.service.suspend("D-001", "暂停", by=k["A-001"])
    sequence = _forge_approval(world, serial, k["D-001"])
    report = verify_chain(world.ledger.chain)
    assert report.failure is not None and report.failure.sequence == sequence
    assert report.failure.reason == "authority-exceeded"
    assert "suspended" in report.failure.detail


def test_forged_appointment_by_a_non_admin_fails_verify(world: World, staff: Staff) -> None:
    world.ledger.save_signed(
        Official.appoint("Z-001", FOOD_DEPT, [OfficialRole.DECISION], "Z"),
        signer=staff.keys["R-001"],
    )
    report = verify_chain(world.ledger.chain)
    assert report.failure is not None and report.failure.reason == "authority-exceeded"
    assert report.failure.sequence == world.head()


def test_supervision_flags_an_official_with_repeated_refused_attempts(
    world: World, staff: Staff
) -> None:
    serial = world.submit_food().serial
    for _ in range(3):
        with pytest.raises(AuthorityExceeded):
            world.cases.accept(serial, signer=staff.keys["R-001"])
    with pytest.raises(AuthorityExceeded):
        world.cases.accept(serial, signer=staff.keys["S-001"])
    view: Any = open_view(SupervisionView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    today = world.clock.today
    found = [f for f in flags(view, today=today) if f.flag == "repeated_refusals"]
    assert [(f.subject, f.department) for f in found] == [("official:R-001", FOOD_DEPT)]
    assert found[0].detail.startswith("3 refused attempts; last: accept on " + serial)
    strict = SupervisionThresholds(refusals=1)
    assert (
        len(
            [
                f
                for f in flags(view, today=today, thresholds=strict)
                if f.flag == "repeated_refusals"
            ]
        )
        == 2
    )


def test_the_auditors_history_lists_every_action_of_one_official(
    world: World, staff: Staff
) -> None:
    serial = _accepted(world, staff)
    with pytest.raises(AuthorityExceeded):
        world.cases.approve(serial, signer=staff.keys["C-001"])
    other = world.submit_food().serial
    world.cases.pass_pre_review(other, signer=staff.keys["R-001"])
    history = official_history(world.ledger, "R-001")
    assert history.verification.ok
    assert [a.case_serial for a in history.actions if a.signed_by_official] == [
        serial,
        serial,
        other,
    ]
    assert history.actions[0].topics == ("ledger.officials:Official.Appointed",)
    assert not history.actions[0].signed_by_official  # appointed by the administrator
    refused = official_history(world.ledger, "C-001").actions[-1]
    assert refused.topics == ("ledger.officials:Official.ActionRefused",)
    entry = world.ledger.chain.select_entries(refused.sequence, 1)[0]
    assert refused.entry_hashes == (entry.entry_hash,)


def test_forged_move_into_another_department_by_its_own_admin_fails_verify(
    world: World, staff: Staff
) -> None:
    official = staff.service.get("A-001")
    official.move(CARD_DEPT, ["admin"])  # bypassing the service, signed with A-001's own key
    world.ledger.save_signed(official, signer=staff.keys["A-001"])
    report = verify_chain(world.ledger.chain)
    assert report.failure is not None and report.failure.reason == "authority-exceeded"
    assert report.failure.sequence == world.head()
    assert f"may not act for {CARD_DEPT}" in report.failure.detail
