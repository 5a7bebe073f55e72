"""Duplicate account registration (GZ20·26(三)): "面向公众服务的网上政务服务不按规定接入统一身份认证
平台，导致申请人重复注册账户的" is a matter the data-management office supervises.

Chosen: recorded, not refused — the second account exists once a channel registered it; the
supervision view flags it (``duplicate_registration``), found by the credential's blind index
(the same HMAC for the same credential, never the value), naming both accounts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ledger.domain.applicants import Applicant
from ledger.domain.identity import parse_credential
from ledger.domain.personal_data import PersonalData
from ledger.storage.urls import parse_storage_url
from projections.runner import catch_up, open_view, rebuild
from projections.supervision import SupervisionView, flags, summary
from tests.ledger.case_world import World, opened_world

TODAY = dt.date(2026, 9, 28)


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    with opened_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path) as w:
        yield w


def _register(world: World, credential: str, kind: str = "resident_id") -> Applicant:
    applicant = Applicant.register(
        world.vault,
        kind="natural_person",
        credential=parse_credential(kind, credential),
        personal=PersonalData("张三", "13900139000", "广州市越秀区"),
    )
    world.ledger.save_signed(applicant, signer=world.portal)
    return applicant


def _flags(world: World) -> list[object]:
    view = open_view(SupervisionView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    return [f for f in flags(view, today=TODAY) if f.flag == "duplicate_registration"]  # type: ignore[arg-type]


def test_a_credential_registered_twice_is_flagged_GZ20_26(world: World) -> None:
    assert _flags(world) == []  # the world's three applicants hold three credentials
    second = _register(world, "11010519491231002X")  # the world's 张三 registers again
    raised = _flags(world)
    assert [f.subject for f in raised] == [f"applicant:{second.id}"]  # type: ignore[attr-defined]
    detail = raised[0].detail  # type: ignore[attr-defined]
    assert str(world.person.id) in detail and "GZ20·26(三)" in detail
    assert "11010519491231002X" not in detail  # the credential itself never shows
    view = open_view(SupervisionView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    assert summary(view, today=TODAY).flags["duplicate_registration"] == 1
    assert rebuild(SupervisionView, parse_storage_url(world.url), world.ledger).identical


def test_another_credential_and_an_erased_account_do_not_count(world: World) -> None:
    _register(world, "110105194912310046")  # another person
    assert _flags(world) == []
    world.person.erase("申请人注销账户")
    world.ledger.save_signed(world.person, signer=world.portal)
    _register(world, "11010519491231002X")  # the erased account's credential, registered anew
    assert _flags(world) == []
