"""Progress (GZ16·13, PY·13, NH·11) and department worklists (GZ20·25) on the scripted city."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.domain.applicants import Applicant
from ledger.domain.identity import parse_credential
from ledger.storage.urls import parse_storage_url
from projections.common import Page
from projections.progress import (
    IdentityCache,
    MaskedIdentity,
    ProgressView,
    VaultMasker,
    by_approval_code,
    by_credential_index,
    by_serial,
    credential_index,
    mask_credential,
    mask_name,
)
from projections.runner import catch_up, open_view
from projections.worklist import WorkItem, WorklistView, state_counts, worklist
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, build_world
from tests.projections.city import City
from tests.projections.conftest import Views

D = dt.date


def test_progress_by_serial_lists_every_step_with_times_in_both_zones(
    city: City, views: Views
) -> None:
    progress = by_serial(views["progress"], city.serials["accepted"])
    assert progress is not None
    assert progress.state == "accepted" and progress.state_label == "已受理，办理中"
    assert progress.department == FOOD_DEPT and progress.department_name == "广州市市场监督管理局"
    assert progress.item_name == "食品经营许可"
    assert [s.step for s in progress.steps] == [
        "Submitted",
        "PreReviewPassed",
        "MaterialsDelivered",
        "Accepted",
    ]
    first = progress.steps[0]
    assert first.at_utc == "2026-09-28T02:00:00+00:00"
    assert first.at_shanghai == "2026-09-28T10:00:00+08:00"
    assert first.actor == "applicant" and progress.steps[1].actor == "department"
    assert (progress.accepted_on, progress.due, progress.due_provisional) == (
        "2026-09-28",
        "2026-10-30",
        False,
    )
    assert progress.next_action.code == "none"


def test_progress_by_approval_code_finds_the_same_case(city: City, views: Views) -> None:
    view = views["progress"]
    by_code = by_serial(view, city.serials["paused"])
    assert by_code is not None
    again = by_approval_code(view, by_code.approval_code)
    assert again == by_code
    assert by_serial(view, "GZ-SCJG-20990101-000001X") is None
    assert by_serial(view, "") is None


def test_progress_tells_the_applicant_what_to_do_next(city: City, views: Views) -> None:
    view = views["progress"]
    correction = by_serial(view, city.serials["second_correction"])
    assert correction is not None
    assert correction.next_action.code == "supply_corrections"
    assert correction.next_action.detail["materials"][0]["code"] == "FLOOR-PLAN"
    assert correction.next_action.text == "请按一次性告知补齐补正材料"
    closed = by_serial(view, city.serials["certified"])
    assert closed is not None and closed.next_action.code == "finished"
    assert closed.state == "closed"


def test_progress_shows_the_due_date_moved_by_a_special_procedure(city: City, views: Views) -> None:
    view = views["progress"]
    paused = by_serial(view, city.serials["paused"])
    resumed = by_serial(view, city.serials["resumed"])
    assert paused is not None and resumed is not None
    assert (paused.state, paused.paused_since, paused.due) == (
        "special_procedure",
        "2026-10-19",
        "2026-11-09",
    )
    # 16 working days were left on 18 October; the pause 19 October–13 November adds none.
    assert resumed.pauses == (("2026-10-19", "2026-11-13"),)
    assert (resumed.due, resumed.paused_since) == ("2026-12-07", None)
    provisional = by_serial(view, city.serials["provisional"])
    assert provisional is not None
    assert (provisional.due, provisional.due_provisional) == ("2027-01-18", True)


def test_progress_by_id_number_goes_through_the_blind_index_and_masks(
    city: City, views: Views
) -> None:
    w = city.world
    index = credential_index(w.vault, parse_credential("uscc", "914403001922038216"))
    masker = VaultMasker(w.ledger.repository.get, w.vault)
    page = by_credential_index(views["progress"], index, limit=3, identity=masker)
    assert isinstance(page, Page) and page.total == 7 and len(page.items) == 3
    assert page.next_offset == 3
    assert page.items[0].serial == city.serials["provisional"]  # newest first
    applicant = page.items[0].applicant
    assert applicant is not None
    assert (applicant.name, applicant.credential) == ("广********司", "9144**********8216")
    person = credential_index(w.vault, parse_credential("resident_id", "11010519491231002X"))
    cards = by_credential_index(views["progress"], person, identity=masker)
    assert {c.serial for c in cards.items} == {city.serials["pre_review"], city.serials["paper"]}
    shown = cards.items[0].applicant
    assert shown is not None and (shown.name, shown.credential) == ("张*", "1101**********002X")


def test_masks_keep_the_ends_only() -> None:
    assert mask_credential("440106199001011234") == "4401**********1234"
    assert mask_credential("E12345678") == "E******78"
    assert mask_credential("1234") == "****"
    assert (mask_name("张三"), mask_name("欧阳娜娜"), mask_name("李")) == ("张*", "欧**娜", "*")


def test_an_erased_applicants_cases_are_no_longer_found_by_id_number(tmp_path: Path) -> None:
    w = build_world(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path)
    serial = w.submit_card().serial
    view: Any = open_view(ProgressView, parse_storage_url(w.url))
    catch_up(view, w.ledger)
    index = credential_index(w.vault, parse_credential("resident_id", "11010519491231002X"))
    assert by_credential_index(view, index).total == 1
    applicant: Any = w.ledger.repository.get(w.person.id)
    assert isinstance(applicant, Applicant)
    applicant.erase("依法删除")
    w.ledger.save_signed(applicant, signer=w.platform)
    w.vault.erase(applicant.id)
    catch_up(view, w.ledger)
    assert by_credential_index(view, index).total == 0
    shown = by_serial(view, serial, identity=VaultMasker(w.ledger.repository.get, w.vault))
    assert shown is not None and shown.applicant is not None
    assert (shown.applicant.name, shown.applicant.credential) == ("[erased]", "[erased]")


def test_the_view_holds_the_guide_version_documents_and_version_of_every_city_case(
    city: City, views: Views
) -> None:
    for name, serial in city.serials.items():
        progress = by_serial(views["progress"], serial)
        case = city.world.case(serial)
        assert progress is not None, name
        assert (progress.guide_version, progress.version) == (case.guide_version, case.version)
        assert progress.documents == tuple(str(d["kind"]) for d in case.documents), name
        assert (progress.channel, progress.handling_mode) == (
            case.channel.value,
            case.handling_mode.value,
        )


class _CountingPort:
    """An identity port that counts its calls (and can be told to fail)."""

    def __init__(self, port: Any = None) -> None:
        self.port = port
        self.calls = 0

    def __call__(self, applicant_id: Any) -> MaskedIdentity | None:
        self.calls += 1
        if self.port is None:
            raise AssertionError("the port was asked")
        found: MaskedIdentity | None = self.port(applicant_id)
        return found


def test_a_cached_masker_answers_as_the_vault_does_and_asks_it_once(
    city: City, views: Views
) -> None:
    w = city.world
    vault = VaultMasker(w.ledger.repository.get, w.vault)
    counted = _CountingPort(vault)
    cache = IdentityCache(counted)
    for serial in city.serials.values():
        direct = by_serial(views["progress"], serial, identity=vault)
        cached = by_serial(views["progress"], serial, identity=cache)
        assert cached == direct
    applicants = {w.case(serial).applicant_id for serial in city.serials.values()}
    assert counted.calls == len(cache) == len(applicants)  # once per applicant
    assert all("*" in m.name and "*" in m.credential for m in cache._masks.values())


def test_the_identity_cache_keeps_the_most_recently_used_and_never_none() -> None:
    def port(applicant_id: Any) -> MaskedIdentity | None:
        if applicant_id.int == 0:
            return None
        return MaskedIdentity("natural_person", "resident_id", "张*", str(applicant_id.int))

    counted = _CountingPort(port)
    cache = IdentityCache(counted, size=2)
    a, b, c, unknown = (UUID(int=n) for n in (1, 2, 3, 0))
    cache(a), cache(b), cache(a), cache(c)  # b is the least recently used when c comes
    assert counted.calls == 3 and len(cache) == 2
    cache(a)
    assert counted.calls == 3
    cache(b)
    assert counted.calls == 4
    assert cache(unknown) is None and cache(unknown) is None and counted.calls == 6
    with pytest.raises(ValueError, match="size"):
        IdentityCache(port, size=0)


def test_an_erased_applicant_shows_erased_from_the_view_even_when_cached_before(
    tmp_path: Path,
) -> None:
    w = build_world(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path)
    serial = w.submit_card().serial
    view: Any = open_view(ProgressView, parse_storage_url(w.url))
    catch_up(view, w.ledger)
    counted = _CountingPort(VaultMasker(w.ledger.repository.get, w.vault))
    cache = IdentityCache(counted)
    before = by_serial(view, serial, identity=cache)
    assert before is not None and before.applicant is not None
    assert (before.applicant.name, before.applicant.credential) == ("张*", "1101**********002X")
    assert len(cache) == 1
    applicant: Any = w.ledger.repository.get(w.person.id)
    applicant.erase("依法删除")
    w.ledger.save_signed(applicant, signer=w.platform)
    w.vault.erase(applicant.id)
    catch_up(view, w.ledger)
    after = by_serial(view, serial, identity=cache)
    assert after is not None
    assert after.applicant == MaskedIdentity(
        "natural_person", "resident_id", "[erased]", "[erased]"
    )
    assert counted.calls == 1 and len(cache) == 0  # the view said so; the entry is forgotten
    from_view_alone = by_serial(view, serial, identity=_CountingPort())  # a port that fails
    assert from_view_alone is not None and from_view_alone.applicant == after.applicant


def test_a_credential_index_must_be_bytes(views: Views) -> None:
    with pytest.raises(ValueError, match="index"):
        by_credential_index(views["progress"], "11010519491231002X")  # type: ignore[arg-type]


# --- worklists ---------------------------------------------------------------------------------


def _serials(page: Page[WorkItem]) -> list[str]:
    return [i.serial for i in page.items]


def test_a_worklist_holds_only_its_departments_open_cases(city: City, views: Views) -> None:
    view: WorklistView = views["worklist"]
    s = city.serials
    food = worklist(view, FOOD_DEPT, today=D(2026, 11, 20))
    assert _serials(food) == [
        s["accepted"],  # due 2026-10-30
        s["paused"],  # due 2026-11-09 (paused)
        s["resumed"],  # due 2026-12-07
        s["provisional"],  # due 2027-01-18
        s["second_correction"],  # waiting for the applicant, no due date
    ]
    card = worklist(view, CARD_DEPT, today=D(2026, 11, 20))
    assert set(_serials(card)) == {s["pre_review"], s["paper"]}
    assert not set(_serials(food)) & set(_serials(card))
    assert worklist(view, "GZ-NONE", today=D(2026, 11, 20)).total == 0


def test_a_worklist_filters_by_state_item_and_overdue(city: City, views: Views) -> None:
    view: WorklistView = views["worklist"]
    s = city.serials
    today = D(2026, 11, 20)
    overdue = worklist(view, FOOD_DEPT, today=today, overdue=True)
    assert _serials(overdue) == [s["accepted"]]  # the paused case is not overdue
    assert overdue.items[0].overdue
    assert s["accepted"] not in _serials(worklist(view, FOOD_DEPT, today=today, overdue=False))
    paused = worklist(view, FOOD_DEPT, today=today, state="special_procedure")
    assert _serials(paused) == [s["paused"]] and paused.items[0].paused
    assert worklist(view, FOOD_DEPT, today=today, item_code="NOPE").total == 0
    assert state_counts(view, CARD_DEPT) == {"materials_received": 1, "submitted": 1}
    with pytest.raises(ValueError):
        worklist(view, FOOD_DEPT, today=today, state="not-a-state")


def test_a_worklist_pages(city: City, views: Views) -> None:
    view: WorklistView = views["worklist"]
    first = worklist(view, FOOD_DEPT, today=D(2026, 11, 20), limit=2)
    second = worklist(view, FOOD_DEPT, today=D(2026, 11, 20), offset=2, limit=2)
    last = worklist(view, FOOD_DEPT, today=D(2026, 11, 20), offset=4, limit=2)
    assert (first.total, first.next_offset, second.next_offset, last.next_offset) == (5, 2, 4, None)
    assert len(_serials(first) + _serials(second) + _serials(last)) == 5
    with pytest.raises(ValueError, match="limit"):
        worklist(view, FOOD_DEPT, today=D(2026, 11, 20), limit=0)
    with pytest.raises(ValueError, match="department"):
        worklist(view, "", today=D(2026, 11, 20))
