"""The progress view answers the case read alone, on SQLite files and PostgreSQL: guide version,
document kinds and version equal the aggregate's on every path; an erased applicant shows
``[erased]`` from the view; a view's position and the log head come in one read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.storage.urls import parse_storage_url
from projections.progress import (
    IdentityCache,
    MaskedIdentity,
    ProgressView,
    VaultMasker,
    by_approval_code,
    by_serial,
)
from projections.runner import catch_up, open_view, position, status, status_of
from tests.ledger.case_world import World, build_world


@pytest.fixture
def world(storage_url: str, tmp_path: Path) -> World:
    return build_world(storage_url, tmp_path)


def _paths(w: World) -> dict[str, str]:
    """A case down each path a document is issued on."""
    s = {}
    s["refused"] = w.submit_food().serial
    w.cases.not_accept(s["refused"], ["不属于本机关职权范围"], signer=w.food)
    s["returned"] = w.submit_food().serial
    w.cases.return_case(s["returned"], ["逾期未补正"], signer=w.food)
    s["withdrawn"] = w.submit_food().serial
    w.cases.withdraw(s["withdrawn"], w.enterprise.id, "经营计划调整", signer=w.portal)
    s["corrected"] = w.submit_food().serial
    w.cases.request_correction(s["corrected"], {"FLOOR-PLAN": "比例不清"}, signer=w.food)
    w.cases.correct(s["corrected"], w.enterprise.id, [w.copy("FLOOR-PLAN", "v2")], signer=w.portal)
    s["disapproved"] = w.submit_food().serial
    w.to_accepted(s["disapproved"])
    w.cases.start_special_procedure(s["disapproved"], "expert_review", 10, signer=w.food)
    w.cases.end_special_procedure(s["disapproved"], "专家评审结束", signer=w.food)
    w.cases.disapprove(s["disapproved"], ["经营场所与申请材料不符"], signer=w.food)
    w.cases.dispatch(s["disapproved"], "online", signer=w.food)
    s["closed"] = w.submit_food().serial
    w.to_accepted(s["closed"])
    w.to_closed(s["closed"])
    s["card"] = w.submit_card().serial
    return s


def test_the_view_equals_the_aggregate_on_every_path(world: World) -> None:
    serials = _paths(world)
    view: Any = open_view(ProgressView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    kinds = set()
    for name, serial in serials.items():
        case = world.case(serial)
        progress = by_serial(view, serial)
        assert progress is not None, name
        assert progress.documents == tuple(str(d["kind"]) for d in case.documents), name
        assert (progress.guide_version, progress.version) == (case.guide_version, case.version)
        assert progress.version == len(progress.steps)  # every case event is a step
        assert (progress.channel, progress.handling_mode) == (
            case.channel.value,
            case.handling_mode.value,
        )
        assert by_approval_code(view, progress.approval_code) == progress
        kinds |= set(progress.documents)
    assert len(kinds) >= 7  # receipts, notices, decision, result: each path left its document


def test_an_erased_applicant_is_shown_erased_without_the_vault(world: World) -> None:
    serial = world.submit_card().serial
    view: Any = open_view(ProgressView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    cache = IdentityCache(VaultMasker(world.ledger.repository.get, world.vault))
    shown = by_serial(view, serial, identity=cache)
    assert shown is not None and shown.applicant is not None
    assert shown.applicant.name == "张*"
    applicant: Any = world.ledger.repository.get(world.person.id)
    applicant.erase("依法删除")
    world.ledger.save_signed(applicant, signer=world.platform)
    world.vault.erase(applicant.id)
    catch_up(view, world.ledger)

    def no_vault(applicant_id: Any) -> MaskedIdentity | None:
        raise AssertionError("the vault was asked for an erased applicant")

    for identity in (cache, no_vault):
        erased = by_serial(view, serial, identity=identity)
        assert erased is not None
        assert erased.applicant == MaskedIdentity(
            "natural_person", "resident_id", "[erased]", "[erased]"
        )
    assert len(cache) == 0


def test_a_views_position_and_the_log_head_are_read_together(world: World) -> None:
    view: Any = open_view(ProgressView, parse_storage_url(world.url))
    behind = status_of(view, world.ledger)
    assert behind.position == 0 and behind.lag == behind.head > 0
    catch_up(view, world.ledger)
    level = status_of(view, world.ledger)
    assert level == status([view], world.ledger)[0]
    assert level.lag == 0 and level.position == position(view, world.ledger)
    world.submit_card()
    assert status_of(view, world.ledger).lag > 0
