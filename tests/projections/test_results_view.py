"""The results view (``projections.results``), built from the log:

- the public announcement of results ("及时在网上办事平台向社会公布事项办理结果", GZ20·18, GZ16·18)
  lists each closed case's serial, matter, department, result and dates — no applicant, nothing
  personal — and nothing still open;
- the applicant's own page ("主动反馈至申请人的市民个人网页或企业专属网页", GZ16·13, PY·13) lists
  their decided cases as soon as they are decided, with the result SMS's time (FZ·20), and only
  theirs; an enterprise's page is its 企业专属网页, a person's their 市民个人网页."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from ledger.storage.urls import parse_storage_url
from projections import results as rs
from projections.runner import catch_up, open_view
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import World

world = lifecycle.world  # a fresh SQLite world per test
DAY = dt.date(2026, 9, 28)  # the case world's clock: 10:00 Shanghai on this day


def _accepted(world: World) -> str:
    serial = world.submit_food(channel="window").serial
    world.cases.accept(serial, signer=world.food)
    return serial


def _approved_and_closed(world: World) -> str:
    serial = _accepted(world)
    world.to_closed(serial)
    return serial


def _disapproved_and_closed(world: World) -> str:
    serial = _accepted(world)
    world.cases.disapprove(serial, ["经营场所与申报布局不符"], signer=world.food)
    world.cases.dispatch(serial, "online", signer=world.food)
    world.cases.sign_off(serial, signer=world.portal)
    world.cases.close(serial, signer=world.food)
    return serial


def test_closed_results_are_announced_without_personal_data_GZ20_18(world: World) -> None:
    approved = _approved_and_closed(world)
    disapproved = _disapproved_and_closed(world)
    decided_only = _accepted(world)
    world.cases.approve(decided_only, signer=world.food)  # decided, not closed: not yet public
    _accepted(world)  # no result at all
    view = open_view(rs.ResultsView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    page = rs.announced(view)
    assert page.total == 2 == rs.announced_count(view)
    by_serial = {r.serial: r for r in page.items}
    assert set(by_serial) == {approved, disapproved}
    assert by_serial[approved] == rs.AnnouncedResult(
        serial=approved,
        department="GZ-SCJG",
        item_code=world.case(approved).item_code,
        item_name="食品经营许可",
        result="准予许可",
        approved=True,
        decided_on=DAY.isoformat(),
        closed_on=DAY.isoformat(),
    )
    assert by_serial[disapproved].result == "不予许可" and not by_serial[disapproved].approved
    fields = {f.name for f in dataclasses.fields(rs.AnnouncedResult)}
    assert not fields & {"applicant_id", "applicant", "name", "phone", "address", "credential"}
    assert rs.announced(view, department="GZ-GA").total == 0
    assert rs.announced(view, department="GZ-SCJG", limit=1).next_offset == 1


def test_the_applicant_page_lists_their_decided_cases_at_once_GZ16_13(world: World) -> None:
    closed = _approved_and_closed(world)
    decided = _accepted(world)
    world.cases.approve(decided, signer=world.food)
    pending = _accepted(world)
    other = world.submit_food(channel="window", applicant=world.person).serial
    world.cases.accept(other, signer=world.food)
    world.cases.approve(other, signer=world.food)
    view = open_view(rs.ResultsView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    mine = rs.applicant_results(view, str(world.enterprise.id))
    assert {r.serial for r in mine} == {closed, decided}  # not the pending one, not another's
    assert pending not in {r.serial for r in mine} and other not in {r.serial for r in mine}
    shown = {r.serial: r for r in mine}
    assert shown[closed].delivery_method == "online"
    now = world.clock.now().isoformat()
    assert shown[closed].sms_sent_at == now  # the result SMS (FZ·20)
    assert shown[decided].sms_sent_at == "" and shown[decided].closed_on == ""
    assert rs.notices_sent(view) == 1
    assert rs.applicant_of(view, other) == str(world.person.id)
    assert rs.page_of(view, str(world.enterprise.id)) == "企业专属网页"
    assert rs.page_of(view, str(world.person.id)) == "市民个人网页"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", shown[decided].decided_on)
