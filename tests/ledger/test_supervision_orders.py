"""Supervision orders (督办): RULES.md "Supervision" (FZ·24, GZ20·26, FZ·26), one test per
rule; answers sealed and in time; every invalid transition records nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.calendar import add_working_days
from ledger.domain.rules import (
    InvalidSupervisionOrder,
    NotInDepartmentScope,
    SupervisionOrderNotOpen,
)
from ledger.domain.supervision import SupervisionOrder, SupervisionReason
from ledger.services.application import KeyNotUsable
from tests.ledger.domain_world import ISSUER, World, at


def _order(
    world: World,
    reason: SupervisionReason = SupervisionReason.OVERDUE,
    day: str = "2025-09-30",
    **extra: Any,
) -> SupervisionOrder:
    arguments: dict[str, object] = {
        "signer": world.supervisor,
        "department": ISSUER,
        "reason": reason,
        "details": "办件 GZ-2025-0001 已超承诺时限且未说明原因（红灯）",
        "at": at(day),
        "case_id": uuid4(),
        "case_serial": "GZ-2025-0001",
        **extra,
    }
    return world.supervision.issue(**arguments)  # type: ignore[arg-type]


def _answer(
    world: World, order: SupervisionOrder, answer: str, day: str, signer: Any = None
) -> Any:
    """The issuing department (or ``signer``) answers ``order`` on ``day``."""
    return world.supervision.answer(
        order.id, signer=signer or world.issuer, department=ISSUER, answer=answer, at=at(day)
    )


def _close(
    world: World, order: SupervisionOrder, conclusion: str, day: str, signer: Any = None
) -> None:
    """The supervisor (or ``signer``) closes ``order`` on ``day``."""
    world.supervision.close(
        order.id, signer=signer or world.supervisor, conclusion=conclusion, at=at(day)
    )


def test_a_red_light_case_gets_an_order_answered_within_the_set_time_FZ_24(
    world: World,
) -> None:
    order = _order(world, answer_days=3)
    assert order.due == add_working_days(dt.date(2025, 9, 30), 3) == dt.date(2025, 10, 11)
    assert not order.is_overdue(dt.date(2025, 10, 11)) and order.is_overdue(dt.date(2025, 10, 13))
    record = _answer(world, order, "因专家评审延误，已办结并补充说明", "2025-10-10")
    assert record.body["order"] == order.id
    assert world.supervision.verify_answer(order.id)
    stored = world.supervision.order(order.id)
    assert not stored.answered_late and not stored.is_overdue(dt.date(2025, 12, 1))
    assert world.verifies()


@pytest.mark.parametrize("reason", list(SupervisionReason))
def test_every_supervised_matter_can_be_ordered_GZ20_26_FZ_26(
    world: World, reason: SupervisionReason
) -> None:
    order = _order(world, reason, answer_days=5)
    assert order.reason is reason
    assert order.due == add_working_days(dt.date(2025, 9, 30), 5)


def test_an_order_may_target_a_department_without_a_case(world: World) -> None:
    order = _order(world, SupervisionReason.CERTIFICATE_NOT_USED, case_id=None, case_serial="")
    assert order.case_id is None
    world.refused(
        InvalidSupervisionOrder,
        lambda: _order(world, case_id=None, case_serial="GZ-1"),
    )


def test_a_late_answer_is_recorded_as_late_FZ_24(world: World) -> None:
    order = _order(world, answer_days=3)
    _answer(world, order, "已整改", "2025-10-13")
    assert world.supervision.order(order.id).answered_late


def test_only_supervisors_issue_and_close_and_only_the_department_answers(world: World) -> None:
    world.refused(
        KeyNotUsable,
        lambda: _order(world, signer=world.issuer),
    )
    order = _order(world)
    world.refused(
        NotInDepartmentScope,
        lambda: _answer(world, order, "x", "2025-10-09", signer=world.user),
    )
    world.refused(
        KeyNotUsable,
        lambda: _close(world, order, "x", "2025-10-09", signer=world.issuer),
    )


def test_an_order_is_answered_once_and_closed_once(world: World) -> None:
    order = _order(world)
    _answer(world, order, "已说明", "2025-10-09")
    world.refused(
        SupervisionOrderNotOpen,
        lambda: _answer(world, order, "再答", "2025-10-09"),
    )
    _close(world, order, "说明合理，督办办结", "2025-10-10")
    assert world.supervision.order(order.id).state == "closed"
    world.refused(
        SupervisionOrderNotOpen,
        lambda: _close(world, order, "x", "2025-10-11"),
    )
    assert world.verifies()


def test_a_closed_order_is_not_answered_nor_overdue(world: World) -> None:
    order = _order(world)
    _close(world, order, "已转纪检", "2025-10-13")
    stored = world.supervision.order(order.id)
    assert not stored.is_overdue(dt.date(2025, 12, 1))
    world.refused(
        SupervisionOrderNotOpen,
        lambda: _answer(world, order, "x", "2025-10-14"),
    )


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("reason", {"reason": "rudeness"}),
        ("details", {"details": " "}),
        ("answer_days", {"answer_days": 0}),
        ("at", {"at": dt.datetime(2025, 9, 30)}),
    ],
)
def test_malformed_orders_are_refused_naming_the_field(
    world: World, field: str, changes: dict[str, Any]
) -> None:
    exc = world.refused(InvalidSupervisionOrder, lambda: _order(world, **changes))
    assert exc.field == field  # type: ignore[attr-defined]
