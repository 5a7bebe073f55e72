"""Red light (FZ·24): the department's own explanation of a delayed case is recordable, a
supervision order is due only when the department has not explained, and the assessment
deduction (考核扣分) is recorded and shown in the supervision view."""

from __future__ import annotations

import datetime as dt

from ledger.chain.seals import verify_sealed
from ledger.domain.keys import KeyRole
from ledger.domain.rules import (
    RULE_VIOLATIONS,
    DelayAlreadyHandled,
    DelayNotOverdue,
    InvalidRedLight,
    NotInDepartmentScope,
    SupervisionOrderNotDue,
)
from ledger.domain.sealed import SealedKind
from ledger.services.domain_services import SupervisionService
from ledger.services.red_light import RedLightService
from ledger.storage.urls import parse_storage_url
from projections.runner import catch_up, open_view
from projections.supervision import SupervisionView, case_lights, needing_orders, summary
from tests.helpers import enrol
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, World, shanghai
from tests.ledger.test_case_lifecycle import refused

world = lifecycle.world  # the lifecycle tests' fixture: a fresh SQLite world per test
OFFICE = "GZ-ZWFW"
OVERDUE_ON = dt.date(2026, 11, 2)  # accepted 2026-09-28, due 2026-10-30


def _red(world: World) -> str:
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    world.clock.set(OVERDUE_ON)
    return serial


def _explain(world: World, serial: str, text: str = "专家评审延误，已协调加快") -> object:
    return RedLightService(world.ledger).explain(
        serial, signer=world.food, department=FOOD_DEPT, explanation=text, at=world.clock.now()
    )


def _supervisor(world: World) -> object:
    return enrol(world.ledger, world.platform, "supervisor:zwfw", KeyRole.SUPERVISOR, OFFICE)


def _order(world: World, serial: str, supervisor: object) -> object:
    return SupervisionService(world.ledger).issue(
        signer=supervisor,  # type: ignore[arg-type]
        department=FOOD_DEPT,
        reason="overdue",
        details="办件超期未说明",
        at=world.clock.now(),
        case_id=world.case(serial).id,
        case_serial=serial,
    )


def _lights(world: World) -> SupervisionView:
    view = open_view(SupervisionView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    return view  # type: ignore[return-value]


def test_a_department_explains_its_red_case_itself_and_no_order_is_due_FZ_24(
    world: World,
) -> None:
    serial = _red(world)
    view = _lights(world)
    assert [c.serial for c in needing_orders(view, today=OVERDUE_ON)] == [serial]
    record = _explain(world, serial)
    assert record.kind is SealedKind.DELAY_EXPLANATION  # type: ignore[attr-defined]
    assert verify_sealed(record, world.food.public_key)  # type: ignore[arg-type]
    view = _lights(world)
    assert needing_orders(view, today=OVERDUE_ON) == []
    (light,) = case_lights(view, today=OVERDUE_ON).items
    assert light.light == "red" and light.explained and light.explained_by_department
    supervisor = _supervisor(world)
    error = refused(world, SupervisionOrderNotDue, lambda: _order(world, serial, supervisor))
    assert error.rule == "FZ·24" and error.code == "supervision-order-not-due"


def test_without_an_explanation_the_overdue_order_is_issued_FZ_24(world: World) -> None:
    serial = _red(world)
    order = _order(world, serial, _supervisor(world))
    assert order.case_serial == serial  # type: ignore[attr-defined]


def test_an_explanation_is_refused_before_the_light_is_red_once_and_for_another_department_FZ_24(
    world: World,
) -> None:
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    error = refused(world, DelayNotOverdue, lambda: _explain(world, serial))
    assert error.rule == "FZ·24"
    world.clock.set(OVERDUE_ON)
    refused(
        world,
        NotInDepartmentScope,
        lambda: RedLightService(world.ledger).explain(
            serial, signer=world.card, department=CARD_DEPT, explanation="x", at=world.clock.now()
        ),
    )
    refused(world, InvalidRedLight, lambda: _explain(world, serial, " "))
    _explain(world, serial)
    refused(world, DelayAlreadyHandled, lambda: _explain(world, serial, "again"))


def test_the_assessment_deduction_is_recorded_and_shown_FZ_24(world: World) -> None:
    serial = _red(world)
    supervisor = _supervisor(world)
    service = RedLightService(world.ledger)

    def deduct(points: int) -> None:
        service.deduct(
            serial,
            signer=supervisor,  # type: ignore[arg-type]
            office=OFFICE,
            points=points,
            reasons="红灯警告超时",
            at=shanghai(OVERDUE_ON, 15),
        )

    refused(world, InvalidRedLight, lambda: deduct(0))
    deduct(2)
    refused(world, DelayAlreadyHandled, lambda: deduct(3))
    view = _lights(world)
    (light,) = case_lights(view, today=OVERDUE_ON).items
    assert light.deducted_points == 2
    totals = summary(view, today=OVERDUE_ON)
    assert totals.deducted_points == 2 and totals.by_department[FOOD_DEPT].deducted_points == 2


def test_the_red_light_violations_are_registered() -> None:
    for cls in (DelayNotOverdue, DelayAlreadyHandled, InvalidRedLight, SupervisionOrderNotDue):
        assert cls in RULE_VIOLATIONS and cls.rule == "FZ·24"
