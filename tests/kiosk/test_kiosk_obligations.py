"""Kiosk obligations of RULES.md's further list: no new single-function kiosks (GZ20·14).
(PY·21's accumulated unavailability — ≥ 5 working days in a calendar month — is tested in
test_fleet.py: test_retirement_after_a_week_in_a_row_or_five_working_days_in_a_month.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kiosk.fleet import FleetService
from kiosk.pages import suspension_notice
from ledger.domain.kiosks import InvalidKiosk, Kiosk, KioskFunction
from ledger.domain.rules import RULE_VIOLATIONS, SingleFunctionKiosk
from tests.ledger.case_world import World, build_world

AT = dt.datetime(2026, 9, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path)


def _register(world: World, kiosk_id: str, functions: list[str] | None) -> Kiosk:
    return FleetService(world.ledger).register(
        kiosk_id=kiosk_id,
        location="广州市天河区政务服务中心",
        key_id=world.kiosk.key_id,
        department="GZ-SCJG",
        at=AT,
        signer=world.platform,
        functions=functions,
    )


def test_a_new_single_function_kiosk_is_refused_GZ20_14(world: World) -> None:
    head = world.head()
    with pytest.raises(SingleFunctionKiosk) as caught:
        _register(world, "GZ-TH-001", ["print"])
    assert caught.value.rule == "GZ20·14" and caught.value.field == "functions"
    with pytest.raises(SingleFunctionKiosk):
        _register(world, "GZ-TH-001", ["print", "print"])
    with pytest.raises(InvalidKiosk):
        _register(world, "GZ-TH-001", ["print", "coffee"])
    assert world.head() == head, "a refused registration recorded something"
    assert SingleFunctionKiosk in RULE_VIOLATIONS


def test_a_multi_function_kiosk_is_registered_and_the_default_is_all_functions_GZ20_14(
    world: World,
) -> None:
    two = _register(world, "GZ-TH-002", ["query", "print"])
    assert two.functions == ("print", "query")
    every = _register(world, "GZ-TH-003", None)
    assert set(every.functions) == {f.value for f in KioskFunction}
    assert world.ledger.repository.get(every.id).functions == every.functions


def test_the_kiosk_shows_its_suspension_notice_to_the_public_PY_18_PY_21(world: World) -> None:
    """PY·18(七): a 暂停服务 notice at the faulty kiosk itself; PY·21(四): the notice of a planned
    suspension shown to the public, ahead and while it runs."""
    fleet = FleetService(world.ledger)
    kiosk = _register(world, "GZ-TH-004", None)
    assert kiosk.public_notice(AT) is None
    start, end = AT + dt.timedelta(days=10), AT + dt.timedelta(days=10, hours=4)
    fleet.plan_suspension(
        "GZ-TH-004",
        start=start,
        end=end,
        notified_at=AT,
        reason="系统升级 <upgrade>",
        signer=world.platform,
    )
    kiosk = fleet.kiosk("GZ-TH-004")
    assert kiosk is not None
    ahead = kiosk.public_notice(AT + dt.timedelta(days=1))
    assert ahead is not None and ahead.kind == "announced" and ahead.rule == "PY·21(四)"
    during = kiosk.public_notice(start + dt.timedelta(hours=1))
    assert during is not None and during.kind == "suspended" and during.end == end
    assert kiosk.public_notice(end) is None
    html = suspension_notice(during)
    assert "暂停服务公告" in html and "&lt;upgrade&gt;" in html and "PY·21(四)" in html
    fleet.report_fault(
        "GZ-TH-004", at=end + dt.timedelta(days=1), cause="equipment", signer=world.platform
    )
    kiosk = fleet.kiosk("GZ-TH-004")
    assert kiosk is not None
    repair = kiosk.public_notice(end + dt.timedelta(days=2))
    assert repair is not None and repair.kind == "repair" and repair.rule == "PY·18(七)"
    assert "设备维修中" in suspension_notice(repair)
