"""Extension of a time limit (ALL·42): once, by up to 10 working days, approved by the
department's head, with the reasons told to the applicant in a sealed notice; a second
extension, a longer one or one after the limit ran out is refused and records nothing."""

from __future__ import annotations

import datetime as dt

from ledger.chain.seals import verify_document
from ledger.domain.calendar import deadline
from ledger.domain.documents import DocumentKind
from ledger.domain.rules import (
    RULE_VIOLATIONS,
    InvalidCaseStep,
    InvalidTransition,
    ReasonRequired,
    SecondTimeLimitExtension,
    TimeLimitExtensionTooLate,
    TimeLimitExtensionTooLong,
)
from ledger.storage.urls import parse_storage_url
from projections.progress import ProgressView
from projections.runner import catch_up, open_view
from projections.supervision import SupervisionView
from projections.worklist import WorklistView
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import World
from tests.ledger.test_case_lifecycle import document, refused

ACCEPTED_ON = dt.date(2026, 9, 28)  # + 20 promised working days = 2026-10-30
REASONS = ["需组织现场核查，二十日内不能作出决定"]
HEAD = "局长 王五"
world = lifecycle.world  # the lifecycle tests' fixture: a fresh SQLite world per test


def _accepted(world: World) -> str:
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    return serial


def test_an_approved_extension_moves_the_due_date_and_tells_the_applicant_ALL_42(
    world: World,
) -> None:
    serial = _accepted(world)
    world.clock.set(dt.date(2026, 10, 26))
    notice = document(world.cases.extend_time_limit(serial, 10, REASONS, HEAD, signer=world.food))
    extended = deadline(ACCEPTED_ON, 30).due
    assert notice.kind is DocumentKind.EXTENSION_NOTICE
    assert notice.body["basis"] == "ALL·42"
    assert notice.body["reasons"] == REASONS and notice.body["approved_by"] == HEAD
    assert (notice.body["previous_due"], notice.body["due"]) == (dt.date(2026, 10, 30), extended)
    assert verify_document(notice, world.food.public_key)
    case = world.case(serial)
    assert case.due == extended and case.extension_days == 10
    assert case.documents[-1]["kind"] == "extension_notice"


def test_a_second_extension_is_refused_ALL_42(world: World) -> None:
    serial = _accepted(world)
    world.cases.extend_time_limit(serial, 3, REASONS, HEAD, signer=world.food)
    error = refused(
        world,
        SecondTimeLimitExtension,
        lambda: world.cases.extend_time_limit(serial, 2, REASONS, HEAD, signer=world.food),
    )
    assert error.rule == "ALL·42" and error.code == "second-time-limit-extension"


def test_more_than_10_days_is_refused_ALL_42(world: World) -> None:
    serial = _accepted(world)
    error = refused(
        world,
        TimeLimitExtensionTooLong,
        lambda: world.cases.extend_time_limit(serial, 11, REASONS, HEAD, signer=world.food),
    )
    assert error.rule == "ALL·42" and "days" in str(error)
    refused(
        world,
        InvalidCaseStep,
        lambda: world.cases.extend_time_limit(serial, 0, REASONS, HEAD, signer=world.food),
    )


def test_reasons_and_the_approver_are_required_ALL_42(world: World) -> None:
    serial = _accepted(world)
    refused(
        world,
        ReasonRequired,
        lambda: world.cases.extend_time_limit(serial, 5, [], HEAD, signer=world.food),
    )
    error = refused(
        world,
        InvalidCaseStep,
        lambda: world.cases.extend_time_limit(serial, 5, REASONS, " ", signer=world.food),
    )
    assert "approved_by" in str(error)


def test_an_extension_after_the_limit_ran_out_or_before_acceptance_is_refused_ALL_42(
    world: World,
) -> None:
    serial = _accepted(world)
    world.clock.set(dt.date(2026, 11, 2))  # the limit ran out on 2026-10-30
    error = refused(
        world,
        TimeLimitExtensionTooLate,
        lambda: world.cases.extend_time_limit(serial, 5, REASONS, HEAD, signer=world.food),
    )
    assert error.rule == "ALL·42"
    unaccepted = world.submit_food().serial
    refused(
        world,
        InvalidTransition,
        lambda: world.cases.extend_time_limit(unaccepted, 5, REASONS, HEAD, signer=world.food),
    )


def test_a_special_procedure_after_an_extension_keeps_the_extended_days_ALL_42(
    world: World,
) -> None:
    serial = _accepted(world)
    world.cases.extend_time_limit(serial, 10, REASONS, HEAD, signer=world.food)
    world.clock.set(dt.date(2026, 10, 12))
    world.cases.start_special_procedure(serial, "site_survey", 5, signer=world.food)
    world.clock.set(dt.date(2026, 10, 16))
    world.cases.end_special_procedure(serial, "核查完毕", signer=world.food)
    pause = (dt.date(2026, 10, 12), dt.date(2026, 10, 16))
    assert world.case(serial).due == deadline(ACCEPTED_ON, 30, [pause]).due


def test_the_views_follow_the_extended_due_date_ALL_42(world: World) -> None:
    serial = _accepted(world)
    world.cases.extend_time_limit(serial, 10, REASONS, HEAD, signer=world.food)
    extended = deadline(ACCEPTED_ON, 30).due.isoformat()
    storage = parse_storage_url(world.url)
    for cls, table in (
        (SupervisionView, "view_sup_cases"),
        (WorklistView, "view_worklist"),
        (ProgressView, "view_progress_cases"),
    ):
        view = open_view(cls, storage)
        catch_up(view, world.ledger)
        with view.store.transaction(commit=False) as tx:
            tx.execute(f"SELECT due FROM {table}")  # fixed table names
            assert [r[0] for r in tx.fetchall()] == [extended], cls.name


def test_the_extension_violations_are_registered() -> None:
    for cls in (TimeLimitExtensionTooLong, SecondTimeLimitExtension, TimeLimitExtensionTooLate):
        assert cls in RULE_VIOLATIONS and cls.rule == "ALL·42"
