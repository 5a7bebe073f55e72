"""Every invalid transition from every state is refused and records nothing (NH·11–NH·22).

One case is driven into each :class:`CaseState` once per module; then every command that
``TRANSITIONS`` does not allow in that state is tried on it, with otherwise valid arguments:
it must raise ``InvalidTransition`` naming the state (or ``CaseNotClosable`` for delivering or
closing an approved case with no result yet, GZ16·15) — and the chain head must not move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from ledger.domain.cases import TRANSITIONS, CaseState
from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.rules import CaseNotClosable, InvalidTransition
from ledger.errors import RuleViolation
from ledger.services.cases import CaseService
from tests.ledger.case_world import ISSUER, World, build_world

Command = Callable[[World, str], Any]

COMMANDS: dict[str, Command] = {
    "pass_pre_review": lambda w, s: w.cases.pass_pre_review(s, signer=w.food),
    "request_correction": lambda w, s: w.cases.request_correction(
        s, {"FLOOR-PLAN": "不清晰"}, signer=w.food
    ),
    "correct": lambda w, s: w.cases.correct(
        s, w.enterprise.id, [w.copy("FLOOR-PLAN", "v2")], signer=w.portal
    ),
    "record_material_delivery": lambda w, s: w.cases.record_material_delivery(
        s, "on_site", signer=w.food
    ),
    "accept": lambda w, s: w.cases.accept(s, signer=w.food),
    "deem_accepted": lambda w, s: w.cases.deem_accepted(s, signer=w.platform),
    "not_accept": lambda w, s: w.cases.not_accept(s, ["不属于本机关职权"], signer=w.food),
    "return_case": lambda w, s: w.cases.return_case(s, ["逾期未补正"], signer=w.food),
    "start_special_procedure": lambda w, s: w.cases.start_special_procedure(
        s, "hearing", 3, signer=w.food
    ),
    "end_special_procedure": lambda w, s: w.cases.end_special_procedure(
        s, "听证结束", signer=w.food
    ),
    "extend_time_limit": lambda w, s: w.cases.extend_time_limit(
        s, 5, ["需现场核查"], "局长 王五", signer=w.food
    ),
    "assess_fee": lambda w, s: w.cases.assess_fee(s, Decimal("20"), signer=w.food),
    "pay_fee": lambda w, s: w.cases.pay_fee(s, "PAY-0001", Decimal("20"), signer=w.platform),
    "approve": lambda w, s: w.cases.approve(s, signer=w.food),
    "disapprove": lambda w, s: w.cases.disapprove(s, ["不符合法定条件"], signer=w.food),
    "issue_result_document": lambda w, s: w.cases.issue_result_document(s, signer=w.food),
    "record_certificate": lambda w, s: w.cases.record_certificate(
        s, make_certificate_id(ISSUER + "001", ISSUER, "T0001", 1), signer=w.food
    ),
    "dispatch": lambda w, s: w.cases.dispatch(s, "online", signer=w.food),
    "record_delivery_failure": lambda w, s: w.cases.record_delivery_failure(
        s, "无人签收", signer=w.food
    ),
    "sign_off": lambda w, s: w.cases.sign_off(s, signer=w.food),
    "deliver_by_public_notice": lambda w, s: w.cases.deliver_by_public_notice(s, signer=w.food),
    "close": lambda w, s: w.cases.close(s, signer=w.food),
    "withdraw": lambda w, s: w.cases.withdraw(s, w.enterprise.id, signer=w.portal),
}

#: How to reach each state from a fresh online submission (commands applied in order).
ROUTES: dict[CaseState, tuple[str, ...]] = {
    CaseState.SUBMITTED: (),
    CaseState.CORRECTION_REQUESTED: ("request_correction",),
    CaseState.CORRECTED: ("request_correction", "correct"),
    CaseState.PRE_REVIEWED: ("pass_pre_review",),
    CaseState.MATERIALS_RECEIVED: ("pass_pre_review", "record_material_delivery"),
    CaseState.ACCEPTED: ("pass_pre_review", "record_material_delivery", "accept"),
}
_ACCEPTED = ROUTES[CaseState.ACCEPTED]
ROUTES |= {
    CaseState.SPECIAL_PROCEDURE: (*_ACCEPTED, "start_special_procedure"),
    CaseState.APPROVED: (*_ACCEPTED, "approve"),
    CaseState.DISAPPROVED: (*_ACCEPTED, "disapprove"),
    CaseState.RESULT_ISSUED: (*_ACCEPTED, "approve", "issue_result_document"),
    CaseState.DISPATCHED: (*_ACCEPTED, "approve", "record_certificate", "dispatch"),
    CaseState.DELIVERY_FAILED: (
        *_ACCEPTED,
        "approve",
        "record_certificate",
        "dispatch",
        "record_delivery_failure",
    ),
    CaseState.DELIVERED: (*_ACCEPTED, "approve", "record_certificate", "dispatch", "sign_off"),
    CaseState.CLOSED: (
        *_ACCEPTED,
        "approve",
        "record_certificate",
        "dispatch",
        "sign_off",
        "close",
    ),
    CaseState.NOT_ACCEPTED: ("not_accept",),
    CaseState.RETURNED: ("return_case",),
    CaseState.WITHDRAWN: ("withdraw",),
}

INVALID = [
    (state, command)
    for state in CaseState
    for command in COMMANDS
    if state not in TRANSITIONS[command]
]


def test_every_state_and_command_is_covered() -> None:
    assert set(ROUTES) == set(CaseState)
    assert set(COMMANDS) == set(TRANSITIONS)
    assert set(TRANSITIONS) == {name for name in vars(CaseService) if not name.startswith("_")} - {
        "submit",
        "case",
        "documents",
        "upload",
    }


@pytest.fixture(scope="module")
def states(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, dict[CaseState, str]]]:
    tmp = tmp_path_factory.mktemp("transitions")
    world = build_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp)
    serials = {}
    for state, route in ROUTES.items():
        serial = world.submit_food().serial
        for command in route:
            COMMANDS[command](world, serial)
        assert world.case(serial).state is state
        serials[state] = serial
    try:
        yield world, serials
    finally:
        world.ledger.close()


@pytest.mark.parametrize(("state", "command"), INVALID, ids=[f"{s.value}-{c}" for s, c in INVALID])
def test_invalid_transition_is_refused_and_records_nothing(
    states: tuple[World, dict[CaseState, str]], state: CaseState, command: str
) -> None:
    world, serials = states
    serial = serials[state]
    head, version = world.head(), world.case(serial).version
    expected: type[RuleViolation] = InvalidTransition
    if state is CaseState.APPROVED and command in ("dispatch", "close"):
        expected = CaseNotClosable
    with pytest.raises(expected) as caught:
        COMMANDS[command](world, serial)
    if isinstance(caught.value, InvalidTransition):
        assert caught.value.state == state.value
    assert (world.head(), world.case(serial).version) == (head, version)
